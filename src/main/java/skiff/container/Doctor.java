package skiff.container;

import skiff.util.FileTrees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code skiff doctor}: what this host offers for unprivileged containers, and what to do about each gap.
 * Checks read /proc and the PATH, and probe the kernel for real (a user namespace, an overlay mount in
 * one), because sysctls alone do not tell: AppArmor or seccomp may still refuse.
 */
public final class Doctor {
    private Doctor() {}

    public enum Status { OK, WARN, FAIL }

    /**
     * @param required whether skiff cannot work without it (a required check that fails makes doctor exit 7)
     * @param fix      what to do; empty when the check passed
     */
    public record Check(String name, Status status, boolean required, String detail, String fix) {}

    private static final int PROBE_TIMEOUT_S = 10;

    /** Runs every check. {@code env} supplies PATH and XDG_RUNTIME_DIR, so tests can vary them. */
    public static List<Check> run(Path storageDir, Map<String, String> env) {
        return run(storageDir, env, "skiff");
    }

    /** As {@link #run(Path, Map)}, {@code mounter} being the configured [run] squashfs-mounter. */
    public static List<Check> run(Path storageDir, Map<String, String> env, String mounter) {
        return run(storageDir, env, mounter, "native");
    }

    /**
     * As {@link #run(Path, Map, String)}, {@code engine} being the configured engine (auto, native, proot). Unless it
     * is native, user namespaces are not required where proot is installed: skiff then runs with proot.
     */
    public static List<Check> run(Path storageDir, Map<String, String> env, String mounter, String engine) {
        return new Runner(storageDir, env, Path.of("/proc"), mounter, engine).all();
    }

    public static boolean allRequiredPass(List<Check> checks) {
        return checks.stream().noneMatch(c -> c.required() && c.status() == Status.FAIL);
    }

    static final class Runner {
        private final Path storageDir;
        private final Map<String, String> env;
        private final Path proc;
        private final List<Check> out = new ArrayList<>();
        private final boolean root;
        private final String mounter;
        /** User namespaces are optional: the engine may be proot, and proot is installed. */
        private final boolean prootFallback;

        Runner(Path storageDir, Map<String, String> env, Path proc) {
            this(storageDir, env, proc, "skiff");
        }

        Runner(Path storageDir, Map<String, String> env, Path proc, String mounter) {
            this(storageDir, env, proc, mounter, "native");
        }

        Runner(Path storageDir, Map<String, String> env, Path proc, String mounter, String engine) {
            this.mounter = mounter;
            this.storageDir = storageDir;
            this.env = env;
            this.prootFallback = !"native".equals(engine) && which("proot").isPresent();
            this.proc = proc;
            boolean r;
            try {
                r = ((Integer) Files.getAttribute(proc.resolve("self"), "unix:uid")) == 0;
            } catch (IOException | RuntimeException e) {
                r = false;
            }
            this.root = r;
        }

        List<Check> all() {
            java();
            Optional<Path> unshare = which("unshare");
            userNamespaces(unshare);
            utilLinux(unshare);
            proot();
            fuse();
            boolean squashfuseRequired = mounter();
            squashfuse(squashfuseRequired);
            overlay(unshare);
            kernelSquashfs();
            deflate();
            storage();
            runtimeDir();
            return out;
        }

        private void ok(String name, boolean required, String detail) {
            out.add(new Check(name, Status.OK, required, detail, ""));
        }

        private void bad(String name, boolean required, String detail, String fix) {
            out.add(new Check(name, required ? Status.FAIL : Status.WARN, required, detail, fix));
        }

        /** Not required: without libdeflate, gzip SquashFS images are written with the JDK's zlib, ~1.8x slower. */
        private void deflate() {
            String fast = skiff.squashfs.ZlibBlockCompressor.available();
            if (fast != null) ok("deflate", false, "gzip SquashFS blocks are compressed with " + fast);
            else bad("deflate", false, "libdeflate not found (or SKIFF_DEFLATE=java): gzip images are written with the JDK's zlib,"
                    + " about 1.8x slower", "install libdeflate (Debian/Ubuntu: apt-get install libdeflate0; RHEL: dnf install libdeflate)");
        }

        private void java() {
            int v = Runtime.version().feature();
            if (v >= 25) ok("java", true, "Java " + Runtime.version());
            else bad("java", true, "Java " + Runtime.version(), "install Java 25 or later and point SKIFF_JAVA_HOME or JAVA_HOME at it");
        }

        private Optional<String> sysctl(String rel) {
            try {
                return Optional.of(Files.readString(proc.resolve("sys").resolve(rel)).strip());
            } catch (IOException e) {
                return Optional.empty();
            }
        }

        /** Not required: the engine where user namespaces are unavailable (docs/user-guide.md, "Engines"). */
        private void proot() {
            Optional<Path> p = which("proot");
            if (p.isPresent()) ok("proot", false, "found " + p.get() + " (the engine where user namespaces are unavailable)");
            else bad("proot", false, "proot is not on PATH: where user namespaces are unavailable, skiff cannot run containers",
                    "install proot (apt install proot / dnf install proot)");
        }

        private void userNamespaces(Optional<Path> unshare) {
            boolean needed = !prootFallback; // else missing user namespaces only make runs slower (proot)
            Optional<String> max = sysctl("user/max_user_namespaces");
            if (max.isEmpty()) {
                bad("userns.max", needed, "/proc/sys/user/max_user_namespaces is missing: the kernel lacks user namespaces (CONFIG_USER_NS)",
                        "ask the administrators for a kernel with CONFIG_USER_NS=y (every mainstream distribution kernel has it)");
            } else if (max.get().equals("0")) {
                bad("userns.max", needed, "user.max_user_namespaces = 0: user namespaces are disabled",
                        "as root: sysctl -w user.max_user_namespaces=15000 (and persist it in /etc/sysctl.d/)");
            } else {
                ok("userns.max", true, "user.max_user_namespaces = " + max.get());
            }
            Optional<String> clone = sysctl("kernel/unprivileged_userns_clone");
            if (clone.isPresent()) {
                if (clone.get().equals("0"))
                    bad("userns.unprivileged", needed && !root, "kernel.unprivileged_userns_clone = 0: ordinary users may not create user namespaces",
                            "as root: sysctl -w kernel.unprivileged_userns_clone=1 (and persist it in /etc/sysctl.d/)");
                else ok("userns.unprivileged", true, "kernel.unprivileged_userns_clone = " + clone.get());
            }
            Optional<String> aa = sysctl("kernel/apparmor_restrict_unprivileged_userns");
            boolean aaRestricts = aa.isPresent() && aa.get().equals("1");
            if (aa.isPresent()) {
                if (aaRestricts)
                    bad("apparmor.userns", false, "kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu 23.10+): unconfined programs get user namespaces without capabilities",
                            "as root: install the AppArmor profile of docs/apparmor-skiff.md, which grants 'userns,' to "
                                    + unshare.map(Path::toString).orElse("/usr/bin/unshare")
                                    + ", or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
                else ok("apparmor.userns", false, "kernel.apparmor_restrict_unprivileged_userns = " + aa.get());
            }
            if (unshare.isEmpty()) {
                bad("userns.probe", needed, "'unshare' is not on PATH, so no user namespace can be probed", "install util-linux (apt install util-linux / dnf install util-linux)");
                return;
            }
            Probe p = probe(List.of(unshare.get().toString(), "--user", "--map-root-user", "true"));
            if (p.ok()) ok("userns.probe", true, "unshare --user --map-root-user true works");
            else bad("userns.probe", needed, "cannot create a user namespace: " + p.message(),
                    aaRestricts ? "AppArmor restricts user namespaces here: see the apparmor.userns fix"
                            : "ask the administrators to allow unprivileged user namespaces (user.max_user_namespaces > 0, no seccomp/LSM denial)");
        }

        private void utilLinux(Optional<Path> unshare) {
            if (unshare.isEmpty()) {
                bad("util-linux", true, "'unshare' is not on PATH", "install util-linux 2.38 or later");
                return;
            }
            Probe p = probe(List.of(unshare.get().toString(), "--version"));
            Matcher m = Pattern.compile("(\\d+)\\.(\\d+)").matcher(p.output());
            if (!m.find()) {
                bad("util-linux", false, "cannot tell the util-linux version from '" + p.output().strip() + "'", "install util-linux 2.38 or later");
                return;
            }
            int major = Integer.parseInt(m.group(1));
            int minor = Integer.parseInt(m.group(2));
            String v = major + "." + minor;
            if (major > 2 || (major == 2 && minor >= 38)) {
                Probe map = probe(List.of(unshare.get().toString(), "--user", "--map-current-user", "true"));
                if (map.ok()) ok("util-linux", false, "util-linux " + v + ": unshare --map-current-user works");
                else bad("util-linux", false, "util-linux " + v + " but 'unshare --user --map-current-user' fails: " + map.message(),
                        "run with --fakeroot (you appear as root inside the container) until user namespaces work");
            } else {
                bad("util-linux", false, "util-linux " + v + " lacks unshare --map-current-user (2.38+)",
                        "install util-linux 2.38 or later, or run with --fakeroot (you appear as root inside the container)");
            }
        }

        private void fuse() {
            Path dev = Path.of("/dev/fuse");
            if (!Files.exists(dev)) {
                bad("fuse.device", true, "/dev/fuse does not exist", "as root: modprobe fuse (and load it at boot); in a container, pass --device /dev/fuse");
            } else if (!Files.isReadable(dev) || !Files.isWritable(dev)) {
                bad("fuse.device", true, "/dev/fuse exists but this user cannot open it read-write", "as root: chmod 0666 /dev/fuse (distributions' udev rules do so)");
            } else {
                ok("fuse.device", true, "/dev/fuse is accessible");
            }
            Optional<Path> fm = which("fusermount3");
            if (fm.isEmpty()) {
                bad("fusermount3", true, "fusermount3 is not on PATH: ordinary users cannot mount FUSE file systems", "install fuse3 (apt install fuse3 / dnf install fuse3)");
                return;
            }
            try {
                Path real = fm.get().toRealPath();
                int mode = (Integer) Files.getAttribute(real, "unix:mode");
                int uid = (Integer) Files.getAttribute(real, "unix:uid");
                if ((mode & 04000) != 0 && uid == 0) ok("fusermount3", true, real + " is setuid root");
                else bad("fusermount3", !root, real + " is not setuid root: ordinary users cannot mount FUSE file systems",
                        "as root: chmod u+s " + real + " (the fuse3 package installs it so)");
            } catch (IOException e) {
                bad("fusermount3", true, "cannot inspect " + fm.get() + ": " + e.getMessage(), "reinstall fuse3");
            }
        }

        /** Reports which FUSE server mounts SquashFS images; returns whether squashfuse is then required. */
        private boolean mounter() {
            switch (mounter) {
                case "skiff" -> {
                    ok("squashfs.mounter", true, "skiff's own FUSE server mounts SquashFS images (the default; [run] squashfs-mounter ="
                            + " \"squashfuse\" selects squashfuse); it needs fusermount3 and /dev/fuse; squashfuse is the fallback");
                    return false;
                }
                case "squashfuse" -> {
                    ok("squashfs.mounter", true, "squashfuse mounts SquashFS images ([run] squashfs-mounter = \"squashfuse\")");
                    return true;
                }
                default -> {
                    bad("squashfs.mounter", true, "[run] squashfs-mounter = \"" + mounter + "\" is not a mounter",
                            "set it to \"skiff\" or \"squashfuse\" (site.toml or config.toml), or remove it");
                    return true;
                }
            }
        }

        private void squashfuse(boolean required) {
            Optional<Path> sf = which("squashfuse");
            Optional<Path> ll = which("squashfuse_ll");
            if (sf.isEmpty() && ll.isEmpty())
                bad("squashfuse", required, "neither squashfuse nor squashfuse_ll is on PATH: "
                                + (required ? "SquashFS images cannot be mounted" : "no fallback if skiff's own server cannot start"),
                        "install squashfuse (apt install squashfuse / dnf install squashfuse), or use directory images (--format dir)");
            else ok("squashfuse", required, "found " + sf.or(() -> ll).get());
            if (ll.isEmpty())
                bad("squashfuse_ll", false, "squashfuse_ll (the faster low-level squashfuse) is not on PATH", "install a squashfuse package that ships squashfuse_ll (0.1.105+)");
            else ok("squashfuse_ll", false, "found " + ll.get());
        }

        private void overlay(Optional<Path> unshare) {
            if (unshare.isEmpty()) return;
            Path tmp = null;
            try {
                tmp = Files.createTempDirectory("skiff-doctor-");
                for (String d : List.of("lower", "upper", "work", "merged")) Files.createDirectory(tmp.resolve(d));
                String opts = "lowerdir=" + tmp.resolve("lower") + ",upperdir=" + tmp.resolve("upper") + ",workdir=" + tmp.resolve("work");
                Probe p = probe(List.of(unshare.get().toString(), "--user", "--map-root-user", "--mount",
                        "mount", "-t", "overlay", "overlay", "-o", opts, tmp.resolve("merged").toString()));
                if (p.ok()) ok("overlayfs.userns", false, "overlay mounts work in a user namespace (kernel 5.11+)");
                else bad("overlayfs.userns", false, "overlay cannot be mounted in a user namespace: " + p.message(),
                        "writable containers on top of images need kernel 5.11+; use persistent containers (skiff create) instead");
            } catch (IOException e) {
                bad("overlayfs.userns", false, "cannot probe overlayfs: " + e.getMessage(), "check that $TMPDIR (or /tmp) is writable");
            } finally {
                if (tmp != null) {
                    try {
                        FileTrees.delete(tmp);
                    } catch (IOException ignored) {
                        // best effort: a leftover empty temp dir
                    }
                }
            }
        }

        private void kernelSquashfs() {
            try {
                boolean has = Files.readAllLines(proc.resolve("filesystems")).stream().anyMatch(l -> l.strip().endsWith("squashfs"));
                if (has) ok("squashfs.kernel", false, "the kernel has squashfs");
                else bad("squashfs.kernel", false, "squashfs is not in /proc/filesystems (the module may just not be loaded)",
                        "as root: modprobe squashfs; not needed for squashfuse, which is what skiff uses unprivileged");
            } catch (IOException e) {
                bad("squashfs.kernel", false, "cannot read /proc/filesystems: " + e.getMessage(), "mount /proc");
            }
        }

        private void storage() {
            Path p = storageDir.toAbsolutePath();
            Path existing = p;
            while (existing != null && !Files.exists(existing)) existing = existing.getParent();
            if (existing == null || !Files.isDirectory(existing)) {
                bad("storage", true, p + " cannot be created (no existing parent directory)", "set --storage or SKIFF_STORAGE to a writable directory");
            } else if (!Files.isWritable(existing) || !Files.isExecutable(existing)) {
                bad("storage", true, (existing.equals(p) ? p + " is not writable" : p + " cannot be created: " + existing + " is not writable"),
                        "set --storage or SKIFF_STORAGE to a writable directory, or fix its permissions");
            } else {
                String fs = "";
                try {
                    fs = " (" + Files.getFileStore(existing).type() + ", " + Files.getFileStore(existing).getUsableSpace() / (1L << 20) + " MiB free)";
                } catch (IOException ignored) {
                    // the detail is optional
                }
                ok("storage", true, p + (existing.equals(p) ? " is writable" : " can be created") + fs);
            }
        }

        private void runtimeDir() {
            String x = env.get("XDG_RUNTIME_DIR");
            if (x == null || x.isEmpty()) {
                bad("xdg-runtime-dir", false, "$XDG_RUNTIME_DIR is not set: mount points and sockets go under /tmp",
                        "log in through a PAM session (systemd-logind sets it), or export XDG_RUNTIME_DIR to a private directory");
            } else if (!Files.isDirectory(Path.of(x)) || !Files.isWritable(Path.of(x))) {
                bad("xdg-runtime-dir", false, "$XDG_RUNTIME_DIR=" + x + " is not a writable directory",
                        "export XDG_RUNTIME_DIR to a private (0700) directory you own, or unset it");
            } else {
                ok("xdg-runtime-dir", false, "$XDG_RUNTIME_DIR=" + x);
            }
        }

        Optional<Path> which(String cmd) {
            String path = env.getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
            for (String d : path.split(":")) {
                if (d.isEmpty()) continue;
                Path p = Path.of(d, cmd);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) return Optional.of(p);
            }
            return Optional.empty();
        }

        private record Probe(boolean ok, String output) {
            String message() {
                String first = output.strip().lines().reduce((a, b) -> b).orElse("");
                return first.isEmpty() ? "it failed" : first;
            }
        }

        private Probe probe(List<String> argv) {
            try {
                Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
                byte[] o = p.getInputStream().readNBytes(16 * 1024);
                if (!p.waitFor(PROBE_TIMEOUT_S, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return new Probe(false, "timed out after " + PROBE_TIMEOUT_S + " s");
                }
                return new Probe(p.exitValue() == 0, new String(o, StandardCharsets.UTF_8));
            } catch (IOException e) {
                return new Probe(false, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Probe(false, "interrupted");
            }
        }
    }
}
