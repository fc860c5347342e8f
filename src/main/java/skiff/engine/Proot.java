package skiff.engine;

import skiff.spec.Spec;
import skiff.sys.Exec;
import skiff.sys.Fds;
import skiff.sys.SysException;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The proot engine: the same spec as the native engine (policy applied identically), carried out by proot(1),
 * which shows the payload the image as its root and the binds in it by tracing its system calls. No namespace
 * is created, so it runs where user namespaces are unavailable; the launch still ends in an execve (of proot,
 * which stays as the tracer and exits with the payload's status).
 *
 * What proot cannot do is refused with one line ending "(engine proot)", never silently dropped: a PID
 * namespace, an overlay, tmpfs mounts, hooks (they expect the container's namespaces), and read-only binds of
 * files the user may write (proot only redirects paths; the kernel's permission checks are the only protection,
 * so a read-only bind of the user's own file would be writable).
 */
public final class Proot {
    private Proot() {}

    /** Ends every line that says what proot cannot do (the CLI's own such lines too). */
    public static final String ENGINE = " (engine proot)";

    /** A host path shown at a container path. */
    record Bind(String host, String guest) {}

    /** Options refused before anything is mounted. */
    static void refuseOptions(boolean pid, boolean writableTmpfs, JoinGroup join) {
        if (pid) refuse("--pid: proot cannot make a PID namespace; run without --pid");
        if (writableTmpfs) refuse("--writable-tmpfs: proot cannot put an overlay over the image;"
                + " use a persistent container ('skiff run --name NAME IMAGE') for a writable root");
        if (join != null) refuse(join.origin() + ": ranks cannot share a container without namespaces; drop --join"
                + " (each rank then runs in a container of its own)");
    }

    static SkiffException refusal(String what) {
        return new SkiffException(ExitCode.USAGE, what + ENGINE);
    }

    private static void refuse(String what) {
        throw refusal(what);
    }

    /**
     * {@code r} under proot, ready for {@link Engine#start}: proot's command line and environment (with
     * {@code wait}, to be run as a child). The run directory is removed here: the identity files it holds are moved
     * to content-named files under the runtime directory, because no stage 2 keeps them alive through a mount.
     */
    static Engine.Launch prepare(LaunchRequest r, boolean wait) throws IOException {
        Path proot = HostTools.find("proot");
        if (!r.hooks().isEmpty())
            refuse("the site's OCI hooks (" + r.hooks().getFirst().stage() + ") expect the container's namespaces, which"
                    + " proot does not make; ask the administrators, or run where user namespaces are available");
        Path root = r.root();
        // The SquashFS mount is read-only by nature (and FUSE answers access(2) without asking the permissions);
        // a directory tree skiff converted belongs to the user.
        if (r.rootKind() == LaunchRequest.RootKind.IMAGE_TREE && Files.isWritable(root))
            refuse("the image's directory tree " + root + " is yours, and proot cannot keep it read-only;"
                    + " run the image from SquashFS (the default), or as a persistent container ('skiff run --name NAME IMAGE')");
        List<Bind> binds = binds(r, r.runDir(), r.runtime());
        Engine.cleanup(r.runDir());
        String cwd = r.cwd();
        String hostCwd = toHost(root, binds, cwd).toString();
        if (!Files.isDirectory(Path.of(hostCwd))) {
            if (r.writableRoot() && !Files.exists(Path.of(hostCwd))) Files.createDirectories(Path.of(hostCwd));
            else throw new SkiffException(ExitCode.LAUNCH, "working directory " + cwd + " in the container: "
                    + (Files.exists(Path.of(hostCwd)) ? "not a directory" : "no such file or directory"));
        }
        Spec spec = r.spec();
        List<String> args = spec.process().args();
        if (args == null || args.isEmpty())
            throw new SkiffException(ExitCode.NOT_FOUND, "no command: the image has no Entrypoint or Cmd; name one after the image");
        String exe = resolveCommand(root, binds, cwd, args.get(0), Stage2.pathOf(spec.process().env()));
        List<String> argv = argv(proot, root.toString(), binds, cwd, r.fakeroot(), exe, args.subList(1, args.size()));
        // proot's own environment is the payload's: it passes it on unchanged.
        return new Engine.Launch(proot, argv, spec.process().env(), wait, false, null, null);
    }

    /** Starts a launch {@link #prepare} made: replaces this process, or with {@code wait} returns the child's status. */
    static int start(Engine.Launch l) {
        if (l.waits()) {
            try {
                return Engine.waitFor(l.argv(), l.env(), false);
            } catch (IOException e) {
                throw new SkiffException(ExitCode.LAUNCH, "cannot start proot (" + l.executable() + "): " + e.getMessage());
            }
        }
        try {
            execve(l.executable().toString(), l.argv(), l.env());
        } catch (SysException e) {
            throw new SkiffException(ExitCode.LAUNCH, "cannot start proot (" + l.executable() + "): " + e.getMessage());
        }
        throw new SkiffException(ExitCode.LAUNCH, "execve returned");
    }

    /** {@link Engine#rehearse}: the descriptor steps and the execve, aimed at {@code nowhere}, which fails. */
    static void rehearse(Engine.Launch l, Path nowhere) throws SysException {
        execve(nowhere.toString(), l.argv(), l.env());
    }

    /**
     * What stage 2 does for the native engine, here where no stage 2 runs: only the descriptors skiff's caller
     * passed on reach proot and the payload, not the JVM's own (its runtime image and jars, opened without
     * O_CLOEXEC).
     */
    private static void execve(String path, List<String> argv, List<String> env) throws SysException {
        Fds.closeOnExecAbove2();
        Fds.keepOnExec(InheritedFds.captured().stream().mapToInt(Integer::intValue).toArray());
        Exec.execve(path, argv, env);
    }

    /** proot's command line: quiet (its warnings would mix with the payload's output), root, binds, directory, command. */
    static List<String> argv(Path proot, String root, List<Bind> binds, String cwd, boolean fakeroot, String exe,
                             List<String> rest) {
        List<String> a = new ArrayList<>(List.of(proot.toString(), "--verbose=-1"));
        if (fakeroot) a.add("-0");
        a.addAll(List.of("-r", root));
        for (Bind b : binds) a.addAll(List.of("-b", b.host() + ":" + b.guest()));
        a.addAll(List.of("-w", cwd, exe));
        a.addAll(rest);
        return a;
    }

    /** The request's mounts and devices as proot binds, in mount order (a later bind wins, as a later mount does). */
    static List<Bind> binds(LaunchRequest r, Path runDir, Path runtime) throws IOException {
        List<Bind> out = new ArrayList<>();
        for (LaunchRequest.Mount m : r.mounts()) {
            String dst = m.destination();
            boolean user = m.user();
            if (m.kind() == LaunchRequest.Kind.PROC) {
                out.add(new Bind("/proc", dst));
                continue;
            }
            if (m.kind() != LaunchRequest.Kind.BIND) refuse("mount type tmpfs on " + dst + ": proot can only bind host paths");
            String src = m.source();
            if (src == null || !Files.exists(Path.of(src)))
                throw new SkiffException(ExitCode.LAUNCH, (user ? "-v " : "bind ") + src + ":" + dst + ": " + src
                        + " does not exist on the host");
            if (m.noexec())
                refuse((user ? "-v " : "bind ") + src + ":" + dst + ": proot cannot make a bind noexec");
            Path s = Path.of(src);
            if (s.startsWith(runDir)) s = keep(s, runtime); // generated identity files: the user's own anyway
            else if (m.readOnly() && Files.isWritable(s))
                refuse((user ? "-v " : "bind ") + src + ":" + dst + ":ro: " + src + " is writable by you, and proot"
                        + " cannot make it read-only; bind it rw, or run where user namespaces are available");
            out.add(new Bind(s.toString(), dst));
        }
        for (LaunchRequest.Device dev : r.devices()) {
            if (!Files.exists(dev.hostPath()))
                throw new SkiffException(ExitCode.LAUNCH, "device " + dev.hostPath() + " does not exist on this host");
            if (!dev.writable() && Files.isWritable(dev.hostPath()))
                refuse("device " + dev.hostPath() + " is allowed read-only, which proot cannot enforce on a node you may write");
            out.add(new Bind(dev.hostPath().toString(), dev.path()));
        }
        return out;
    }

    /** A copy of a run-directory file that outlives the run: named by its content, shared by runs that agree. */
    private static Path keep(Path file, Path runtime) throws IOException {
        byte[] data = Files.readAllBytes(file);
        String name;
        try {
            name = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)) + "-" + file.getFileName();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Path dir = Files.createDirectories(runtime.resolve("proot"));
        Path kept = dir.resolve(name);
        if (!Files.exists(kept)) AtomicFiles.write(kept, data);
        return kept;
    }

    /** Where a container path lies on the host: under the last, longest bind that covers it, else in the image. */
    static Path toHost(Path root, List<Bind> binds, String guest) throws IOException {
        Bind best = null;
        for (Bind b : binds) {
            String g = b.guest();
            boolean covers = guest.equals(g) || guest.startsWith(g.endsWith("/") ? g : g + "/");
            if (covers && (best == null || g.length() >= best.guest().length())) best = b;
        }
        if (best == null) return RootPath.resolve(root, guest);
        String rest = guest.substring(best.guest().length());
        return rest.isEmpty() || rest.equals("/") ? Path.of(best.host()) : Path.of(best.host(), rest.substring(rest.startsWith("/") ? 1 : 0));
    }

    /**
     * Whether this user may execute {@code p}, from its mode bits: access(2) cannot tell on a FUSE mount without
     * default_permissions (squashfuse), which answers it without looking at the mode.
     */
    static boolean executable(Path p) {
        try {
            int mode = (Integer) Files.getAttribute(p, "unix:mode");
            int owner = (Integer) Files.getAttribute(p, "unix:uid");
            int group = (Integer) Files.getAttribute(p, "unix:gid");
            int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            if (uid == 0) return (mode & 0111) != 0;
            if (owner == uid) return (mode & 0100) != 0;
            if (group == (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:gid")) return (mode & 0010) != 0;
            return (mode & 0001) != 0;
        } catch (IOException | RuntimeException e) {
            return Files.isExecutable(p);
        }
    }

    /**
     * As execvp(3) in the container, before proot starts, so that a missing or non-executable command exits
     * 127 or 126 with the native engine's messages rather than with proot's own status. Returns the container
     * path proot is to execute.
     */
    static String resolveCommand(Path root, List<Bind> binds, String cwd, String cmd, String path) throws IOException {
        if (cmd.isEmpty()) throw new SkiffException(ExitCode.NOT_FOUND, "empty command: command not found in the container");
        if (cmd.contains("/")) {
            String guest = cmd.startsWith("/") ? cmd : Path.of(cwd, cmd).normalize().toString();
            Path p = toHost(root, binds, guest);
            if (!Files.exists(p))
                throw new SkiffException(ExitCode.NOT_FOUND, cmd + ": no such file or directory in the container");
            if (Files.isDirectory(p) || !executable(p))
                throw new SkiffException(ExitCode.NOT_EXECUTABLE, cmd + ": permission denied (not an executable file)");
            return guest;
        }
        String denied = null;
        for (String dir : path.split(":", -1)) {
            String d = dir.isEmpty() ? cwd : dir.startsWith("/") ? dir : (cwd.endsWith("/") ? cwd : cwd + "/") + dir;
            String guest = (d.endsWith("/") ? d : d + "/") + cmd;
            Path p = toHost(root, binds, guest);
            if (Files.isRegularFile(p)) {
                if (executable(p)) return guest;
                if (denied == null) denied = guest;
            }
        }
        if (denied != null) throw new SkiffException(ExitCode.NOT_EXECUTABLE, denied + ": permission denied (not executable)");
        throw new SkiffException(ExitCode.NOT_FOUND, cmd + ": command not found in the container");
    }
}
