package skiff.engine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * What stage 2 must do, in a format it can read with java.base alone (no Jackson on the fast path): a flat
 * sequence of NUL-terminated strings. NUL cannot occur in paths, arguments or environment entries, so no
 * escaping is needed.
 *
 * @param root      host path of the image root (a mount point after stage 2 binds it onto itself)
 * @param overlay   put a tmpfs-backed overlay over the image (--writable-tmpfs, or to create missing mount points)
 * @param writable  the root stays writable: the tmpfs overlay of --writable-tmpfs, or (without overlay) a
 *                  persistent container's own tree; otherwise the root is read-only
 * @param runDir    per-run scratch directory on the host, removed by stage 2 before the payload starts
 * @param pidInit   stage 2 runs in a new PID namespace and stays as its init (--pid)
 * @param hooks     OCI hooks stage 2 runs (see {@link StageHooks}); {@link PlanHooks#NONE} costs nothing
 */
public record LaunchPlan(String root, boolean overlay, boolean writable, String runDir, boolean pidInit,
                         List<PlanMount> mounts, List<String> args, List<String> env, String cwd, PlanHooks hooks) {

    public LaunchPlan(String root, boolean overlay, boolean writable, String runDir, boolean pidInit,
                      List<PlanMount> mounts, List<String> args, List<String> env, String cwd) {
        this(root, overlay, writable, runDir, pidInit, mounts, args, env, cwd, PlanHooks.NONE);
    }

    public LaunchPlan {
        if (hooks == null) hooks = PlanHooks.NONE;
    }

    public LaunchPlan withHooks(PlanHooks h) {
        return new LaunchPlan(root, overlay, writable, runDir, pidInit, mounts, args, env, cwd, h);
    }

    /**
     * One OCI hook (runtime-spec config.md "POSIX-platform Hooks").
     *
     * @param stage   its stage's config.json name (prestart, createRuntime, ...)
     * @param timeout seconds, 0: none given
     */
    public record PlanHook(String stage, String path, List<String> args, List<String> env, int timeout) {}

    /**
     * The hooks and what their state JSON (runtime.md "State") needs.
     *
     * @param annotations key, value, key, value... (the spec's annotations)
     */
    public record PlanHooks(List<PlanHook> hooks, String id, String bundle, List<String> annotations) {
        public static final PlanHooks NONE = new PlanHooks(List.of(), "", "", List.of());

        public boolean has(String stage) {
            for (PlanHook h : hooks) if (h.stage.equals(stage)) return true;
            return false;
        }
    }

    /**
     * One mount of the container, in order.
     *
     * @param kind   "bind", "proc" (fresh procfs) or "tmpfs"
     * @param file   the source is a file: a missing destination is created as an empty file, not a directory
     * @param user   the user asked for it (-v, the current directory): told when its mount point costs them something
     */
    public record PlanMount(String kind, String source, String destination, boolean readOnly, boolean recursive,
                            boolean nosuid, boolean nodev, boolean noexec, boolean file, boolean user) {}

    public void write(Path file) throws IOException {
        List<String> t = new ArrayList<>(List.of(root, flag(overlay), flag(writable), runDir, flag(pidInit), cwd));
        t.add(Integer.toString(mounts.size()));
        for (PlanMount m : mounts) {
            t.addAll(List.of(m.kind, m.source == null ? "" : m.source, m.destination, flag(m.readOnly), flag(m.recursive),
                    flag(m.nosuid), flag(m.nodev), flag(m.noexec), flag(m.file), flag(m.user)));
        }
        t.add(Integer.toString(args.size()));
        t.addAll(args);
        t.add(Integer.toString(env.size()));
        t.addAll(env);
        t.add(Integer.toString(hooks.hooks().size()));
        for (PlanHook h : hooks.hooks()) {
            t.addAll(List.of(h.stage(), h.path(), Integer.toString(h.timeout())));
            t.add(Integer.toString(h.args().size()));
            t.addAll(h.args());
            t.add(Integer.toString(h.env().size()));
            t.addAll(h.env());
        }
        if (!hooks.hooks().isEmpty()) {
            t.addAll(List.of(hooks.id(), hooks.bundle()));
            t.add(Integer.toString(hooks.annotations().size()));
            t.addAll(hooks.annotations());
        }
        StringBuilder sb = new StringBuilder();
        for (String s : t) {
            if (s.indexOf('\0') >= 0) throw new IllegalArgumentException("NUL in launch plan value");
            sb.append(s).append('\0');
        }
        Files.writeString(file, sb, StandardCharsets.UTF_8);
    }

    public static LaunchPlan read(Path file) throws IOException {
        String s = Files.readString(file, StandardCharsets.UTF_8);
        List<String> parts = new ArrayList<>();
        int from = 0;
        for (int i = s.indexOf('\0'); i >= 0; i = s.indexOf('\0', from)) {
            parts.add(s.substring(from, i));
            from = i + 1;
        }
        Iterator<String> it = parts.iterator();
        String root = it.next();
        boolean overlay = bool(it.next()), writable = bool(it.next());
        String runDir = it.next();
        boolean pid = bool(it.next());
        String cwd = it.next();
        int n = Integer.parseInt(it.next());
        List<PlanMount> mounts = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String kind = it.next(), src = it.next(), dst = it.next();
            mounts.add(new PlanMount(kind, src.isEmpty() ? null : src, dst, bool(it.next()), bool(it.next()),
                    bool(it.next()), bool(it.next()), bool(it.next()), bool(it.next()), bool(it.next())));
        }
        List<String> args = take(it);
        List<String> env = take(it);
        PlanHooks hooks = PlanHooks.NONE;
        int nh = Integer.parseInt(it.next());
        if (nh > 0) {
            List<PlanHook> l = new ArrayList<>(nh);
            for (int i = 0; i < nh; i++) {
                String stage = it.next(), path = it.next();
                int timeout = Integer.parseInt(it.next());
                l.add(new PlanHook(stage, path, take(it), take(it), timeout));
            }
            String id = it.next(), bundle = it.next();
            hooks = new PlanHooks(l, id, bundle, take(it));
        }
        return new LaunchPlan(root, overlay, writable, runDir, pid, mounts, args, env, cwd, hooks);
    }

    private static List<String> take(Iterator<String> it) {
        int n = Integer.parseInt(it.next());
        List<String> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) l.add(it.next());
        return l;
    }

    private static String flag(boolean b) {
        return b ? "1" : "0";
    }

    private static boolean bool(String s) {
        return "1".equals(s);
    }
}
