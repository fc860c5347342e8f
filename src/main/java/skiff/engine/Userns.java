package skiff.engine;

import skiff.util.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Whether this user can create the user and mount namespaces the native engine needs. The sysctls alone do not
 * tell (AppArmor, seccomp and SELinux may still refuse), so the answer comes from one real probe,
 * {@code unshare --user --map-root-user --mount true}, cached in the runtime directory. The cache key is the boot
 * id, the sysctls that govern user namespaces and this process's seccomp filters (a batch system's filter may
 * refuse in a job what the login shell may do): a reboot, an administrator's change or another context probes
 * again, and a run otherwise costs five small reads instead of a fork. The sysctls also explain a failure.
 */
public final class Userns {
    private Userns() {}

    static final String CACHE = "userns.probe";
    private static final int PROBE_TIMEOUT_S = 10;

    /**
     * @param available a user namespace with a mount namespace can be created
     * @param reason    why not (empty when available): the sysctl or policy that refuses, for messages and doctor
     */
    public record Verdict(boolean available, String reason) {}

    /** The sysctls of user namespaces, as "name = value" (absent ones left out). */
    static List<String> sysctls(Path proc) {
        return List.of("user/max_user_namespaces", "kernel/unprivileged_userns_clone",
                        "kernel/apparmor_restrict_unprivileged_userns").stream()
                .flatMap(s -> read(proc.resolve("sys").resolve(s)).map(v -> s.replace('/', '.') + " = " + v).stream())
                .toList();
    }

    /** The cached answer for this boot and these sysctls, else a fresh probe (then cached). */
    public static Verdict probe(Path runtimeDir) {
        Path proc = Path.of("/proc");
        String key = read(proc.resolve("sys/kernel/random/boot_id")).orElse("?") + " " + String.join(", ", sysctls(proc))
                + ", " + seccomp(proc);
        Path cache = runtimeDir.resolve(CACHE);
        Optional<Verdict> cached = cached(cache, key);
        if (cached.isPresent()) return cached.get();
        Verdict v = probeNow(proc);
        try {
            AtomicFiles.write(cache, (key + "\n" + (v.available() ? "1" : "0") + "\n" + v.reason() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // not cached: the next run probes again
        }
        return v;
    }

    static Optional<Verdict> cached(Path cache, String key) {
        try {
            List<String> l = Files.readAllLines(cache, StandardCharsets.UTF_8);
            if (l.size() >= 3 && l.get(0).equals(key)) return Optional.of(new Verdict(l.get(1).equals("1"), l.get(2)));
        } catch (IOException e) {
            // no cache yet, or unreadable: probe
        }
        return Optional.empty();
    }

    private static Verdict probeNow(Path proc) {
        Path unshare;
        try {
            unshare = HostTools.find("unshare");
        } catch (RuntimeException e) {
            return new Verdict(false, "unshare (util-linux) is not installed, so no user namespace can be created");
        }
        String err;
        try {
            Process p = new ProcessBuilder(unshare.toString(), "--user", "--map-root-user", "--mount", "true")
                    .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            byte[] out;
            // Closed now: an open pipe would be inherited by the payload this JVM execs into.
            try (var in = p.getInputStream()) {
                out = in.readNBytes(4096);
            }
            if (!p.waitFor(PROBE_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                err = "the probe timed out";
            } else if (p.exitValue() == 0) {
                return new Verdict(true, "");
            } else {
                err = new String(out, StandardCharsets.UTF_8).strip().lines().reduce((a, b) -> b).orElse("it failed");
            }
        } catch (IOException e) {
            err = e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err = "interrupted";
        }
        return new Verdict(false, explain(proc, err));
    }

    /** The most specific cause the sysctls show, else the probe's own error (a seccomp or security-module denial). */
    static String explain(Path proc, String probeError) {
        Path sys = proc.resolve("sys");
        Optional<String> max = read(sys.resolve("user/max_user_namespaces"));
        if (max.isEmpty()) return "the kernel lacks user namespaces (no /proc/sys/user/max_user_namespaces)";
        if (max.get().equals("0")) return "user namespaces are disabled (user.max_user_namespaces = 0)";
        if (read(sys.resolve("kernel/unprivileged_userns_clone")).orElse("1").equals("0"))
            return "ordinary users may not create user namespaces (kernel.unprivileged_userns_clone = 0)";
        if (apparmorRestricts(proc))
            return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)";
        String e = probeError.replaceFirst("^unshare: ", "").replaceFirst("^unshare failed: ", "");
        return "creating one fails (" + e + "): a seccomp or security-module policy refuses it, e.g. the batch system's";
    }

    /** The Seccomp and Seccomp_filters lines of /proc/self/status, as one string. */
    static String seccomp(Path proc) {
        return read(proc.resolve("self/status")).map(st -> String.join(" ", st.lines()
                .filter(l -> l.startsWith("Seccomp")).map(l -> l.replaceAll("\\s+", " ")).toList())).orElse("");
    }

    public static boolean apparmorRestricts(Path proc) {
        return read(proc.resolve("sys/kernel/apparmor_restrict_unprivileged_userns")).orElse("0").equals("1");
    }

    private static Optional<String> read(Path p) {
        try {
            return Optional.of(Files.readString(p).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
