package skiff.engine;

import skiff.engine.fuse.FuseLauncher;
import skiff.sys.Flock;
import skiff.sys.SysException;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One FUSE mount per image per user per node, shared by every container of that image. The server is skiff's own
 * ({@link FuseLauncher}, docs/fuse.md) unless {@code [run] squashfs-mounter = "squashfuse"} selects squashfuse, which
 * is also the fallback when skiff's server cannot start.
 *
 * <p>Under MNT/HEX.lock (flock): mount if not mounted (or if the FUSE server died), make sure a reaper watches
 * it, and register the caller's pid in MNT/HEX.users/. The pid survives the execs down to the payload, so the
 * file names a live container for exactly as long as it runs. The reaper (a detached shell loop, no JVM left
 * resident) drops entries of dead pids, and once none is left for the idle period it takes the same lock,
 * checks again and unmounts with fusermount3 -u. A container already running keeps its own copy of the mount in
 * its namespace, so an unmount can never pull the root from under it; the FUSE server exits when the last copy
 * goes.
 */
public final class SharedMount {
    private SharedMount() {}

    /** Seconds without any registered container before the image is unmounted. */
    public static final String IDLE_ENV = "SKIFF_MOUNT_IDLE";
    static final int DEFAULT_IDLE = 30;

    /**
     * The unmount reaper, a POSIX shell script (src/main/resources/skiff/engine/reaper.sh): it outlives every skiff
     * process and must cost next to nothing while it waits, which a JVM would not.
     */
    static String reaperScript() throws IOException {
        try (java.io.InputStream in = SharedMount.class.getResourceAsStream("reaper.sh")) {
            if (in == null) throw new IOException("reaper.sh is missing from the skiff jar");
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** Which FUSE server mounts SquashFS images ({@code [run] squashfs-mounter}). */
    public enum Mounter {
        SKIFF, SQUASHFUSE;

        /** The setting's value ("skiff" or "squashfuse"); null or empty means the default, skiff's own server. */
        public static Mounter of(String setting) {
            if (setting == null || setting.isEmpty() || setting.equals("skiff")) return SKIFF;
            if (setting.equals("squashfuse")) return SQUASHFUSE;
            throw new SkiffException(ExitCode.POLICY, "squashfs-mounter = \"" + setting + "\" is not a mounter: use \"skiff\" or \"squashfuse\"");
        }
    }

    /** As {@link #acquire(Path, Path, String, long, Map, Mounter)} with the default mounter. */
    public static Path acquire(Path runtimeDir, Path image, String hex, long pid, Map<String, String> env) {
        return acquire(runtimeDir, image, hex, pid, env, Mounter.SKIFF);
    }

    /** Mounts {@code image} (shared) and registers {@code pid} as its user; returns the mount point. */
    public static Path acquire(Path runtimeDir, Path image, String hex, long pid, Map<String, String> env, Mounter mounter) {
        Path base = runtimeDir.resolve("mnt");
        Path mnt = base.resolve(hex);
        Path users = base.resolve(hex + ".users");
        Path lock = base.resolve(hex + ".lock");
        Path pidfile = base.resolve(hex + ".reaper");
        try {
            Files.createDirectories(users);
            try (Flock held = Flock.exclusive(lock.toString())) {
                if (!usable(mnt)) {
                    if (mounted(mnt)) {
                        String err = run(List.of(HostTools.find("fusermount3").toString(), "-u", "-z", mnt.toString()), null);
                        if (mounted(mnt)) throw new IOException("the dead mount at " + mnt + " cannot be removed: " + err);
                    }
                    Files.createDirectories(mnt);
                    Files.deleteIfExists(base.resolve(hex + ".server"));
                    long server = mount(image, mnt, base.resolve(hex + ".log"), base.resolve(hex + ".server.log"), mounter);
                    // For bin/skiff's warm check: a dead server leaves a mount that the kernel's caches still
                    // answer for a while (a listing, a stat), but no process.
                    if (server > 0) AtomicFiles.write(base.resolve(hex + ".server"),
                            (server + " " + startTime(server) + "\n").getBytes(StandardCharsets.UTF_8));
                }
                if (!reaperAlive(pidfile, mnt)) startReaper(mnt, users, lock, pidfile, idle(env));
                Files.writeString(users.resolve(Long.toString(pid)), startTime(pid) + "\n");
            }
            return mnt;
        } catch (SysException | IOException e) {
            throw new SkiffException(ExitCode.LAUNCH, "cannot mount " + image + " at " + mnt + ": " + e.getMessage());
        }
    }

    /**
     * The warm path's part of {@link #acquire}: this process already runs in its own mount namespace, a copy of the
     * host's taken by unshare(1) while bin/skiff held MNT/HEX.lock shared (so the reaper could not unmount in
     * between). If the copy holds a live mount of the image, registers {@code pid} as its user and returns the
     * mount point; otherwise (the server died since bin/skiff looked) returns null.
     */
    public static Path join(Path runtimeDir, String hex, long pid) {
        Path base = runtimeDir.resolve("mnt");
        Path mnt = base.resolve(hex);
        try {
            if (!usable(mnt)) return null;
            Files.writeString(base.resolve(hex + ".users").resolve(Long.toString(pid)), startTime(pid) + "\n");
            return mnt;
        } catch (IOException e) {
            return null;
        }
    }

    static int idle(Map<String, String> env) {
        try {
            int n = Integer.parseInt(env.getOrDefault(IDLE_ENV, Integer.toString(DEFAULT_IDLE)).trim());
            return Math.max(1, n);
        } catch (NumberFormatException e) {
            throw new SkiffException(ExitCode.USAGE, IDLE_ENV + " must be a number of seconds");
        }
    }

    /** Whether {@code mnt} is a mount point in this mount namespace (/proc/self/mountinfo, field 5). */
    static boolean mounted(Path mnt) throws IOException {
        String want = escape(mnt.toString());
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
            String[] f = line.split(" ", 6);
            if (f.length > 4 && f[4].equals(want)) return true;
        }
        return false;
    }

    /**
     * Mounted and answering: a dead FUSE server leaves a mount whose requests fail with ENOTCONN. Asked with statfs,
     * which always reaches the server: a stat of the root can be answered from the kernel's attribute cache (skiff's
     * server makes attributes valid for a long time), so it passes on a dead mount, and the container then fails.
     */
    private static boolean usable(Path mnt) throws IOException {
        if (!mounted(mnt)) return false;
        try {
            skiff.sys.Mounts.flags(mnt.toString());
            return true;
        } catch (SysException e) {
            return false;
        }
    }

    private static String escape(String p) {
        return p.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012");
    }

    /**
     * skiff's server unless squashfuse is asked for; if it cannot start, squashfuse with a warning: the run
     * should not fail because the faster path is unavailable (e.g. a JVM without the memory for a second one).
     */
    /** Returns the server's pid where it is known (skiff's own server), else -1. */
    private static long mount(Path image, Path mnt, Path log, Path serverLog, Mounter mounter) throws IOException {
        if (mounter == Mounter.SKIFF) {
            try {
                return FuseLauncher.start(HostTools.find("setsid"), image, mnt, HostTools.find("fusermount3"), serverLog);
            } catch (IOException | SkiffException e) {
                Warnings.print("skiff's SquashFS server could not mount " + image + " (" + e.getMessage()
                        + "): using squashfuse; see " + serverLog);
                if (mounted(mnt)) run(List.of(HostTools.find("fusermount3").toString(), "-u", "-z", mnt.toString()), null);
            }
        }
        squashfuse(image, mnt, log);
        return -1;
    }

    /**
     * squashfuse_ll (the low-level server: caches entries and attributes in the kernel indefinitely and keeps
     * the page cache across opens, as the image is immutable), else the high-level squashfuse. fusermount3 does
     * the mount for it, in the host mount namespace.
     */
    private static void squashfuse(Path image, Path mnt, Path log) throws IOException {
        Path server;
        try {
            server = HostTools.find("squashfuse_ll");
        } catch (SkiffException e) {
            server = HostTools.find("squashfuse");
        }
        String err = run(List.of(server.toString(), image.toString(), mnt.toString()), log);
        if (err != null) throw new IOException(server.getFileName() + " failed: " + err
                + " (is /dev/fuse usable? is fusermount3 installed setuid?)");
    }

    private static boolean reaperAlive(Path pidfile, Path mnt) {
        try {
            String pid = Files.readString(pidfile).trim();
            String cmdline = Files.readString(Path.of("/proc", pid, "cmdline")).replace('\0', ' ');
            return cmdline.contains("skiff-reaper") && cmdline.contains(mnt.toString());
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static void startReaper(Path mnt, Path users, Path lock, Path pidfile, int idle) throws IOException {
        Files.deleteIfExists(pidfile);
        String err = run(List.of(HostTools.find("setsid").toString(), "-f", "/bin/sh", "-c", reaperScript(), "skiff-reaper",
                mnt.toString(), users.toString(), lock.toString(), Integer.toString(idle), pidfile.toString()), null);
        if (err != null) throw new IOException("cannot start the unmount reaper: " + err);
        // Wait for the reaper to announce itself, so the next skiff does not start a second one.
        for (int i = 0; i < 200 && !Files.exists(pidfile, LinkOption.NOFOLLOW_LINKS); i++) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Field 22 of /proc/PID/stat, the process start time in clock ticks. */
    static String startTime(long pid) throws IOException {
        String t = skiff.util.Procs.startTime(pid);
        if (t == null) throw new IOException("no process " + pid + " in /proc");
        return t;
    }

    /** Runs a short command; returns null on success, else its stderr (or exit status). */
    private static String run(List<String> cmd, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Path errFile = log != null ? log : Files.createTempFile("skiff-cmd", ".err");
        pb.redirectError(errFile.toFile());
        try {
            int rc = pb.start().waitFor();
            if (rc == 0) return null;
            String err = Files.readString(errFile).strip().replace('\n', ' ');
            return err.isEmpty() ? "exit status " + rc : err;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        } finally {
            if (log == null) Files.deleteIfExists(errFile);
        }
    }
}
