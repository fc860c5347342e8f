package skiff.spec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The payload's environment, following the HPC convention (the host environment passes in, the image's Env
 * applies over it) with the exceptions below. See README, "skiff run", Environment.
 */
public final class ContainerEnv {
    private ContainerEnv() {}

    /** Never overridden by the image: they describe the user's session, not the image. */
    public static final Set<String> PROTECTED = Set.of("HOME", "USER", "LOGNAME", "TERM", "DISPLAY", "HOSTNAME",
            "XAUTHORITY", "TZ");
    /** Job launcher and MPI wire-up variables: always passed from the host (unless --cleanenv), never overridden. */
    public static final List<String> LAUNCHER_PREFIXES = List.of("SLURM_", "PMI_", "PMIX_", "OMPI_");
    /** PATH when the image sets none (the host's PATH names host directories). */
    public static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    static boolean launcherVar(String k) {
        for (String p : LAUNCHER_PREFIXES) if (k.startsWith(p)) return true;
        return false;
    }

    /** Builds the environment as KEY=VALUE entries. */
    public static List<String> build(List<String> imageEnv, RunSettings s) {
        Map<String, String> host = s.hostEnv();
        Map<String, String> env = new LinkedHashMap<>();
        if (!s.cleanEnv()) {
            env.putAll(host);
            env.remove("PATH");
        } else {
            // Docker-like: only what identifies the user's session survives.
            String term = host.get("TERM");
            if (term != null) env.put("TERM", term);
        }
        env.put("HOME", s.home());
        env.put("USER", s.fakeroot() ? "root" : s.userName());
        env.put("LOGNAME", s.fakeroot() ? "root" : s.userName());
        for (String e : imageEnv == null ? List.<String>of() : imageEnv) {
            int eq = e.indexOf('=');
            if (eq <= 0) continue;
            String k = e.substring(0, eq);
            if (!s.cleanEnv() && (PROTECTED.contains(k) || launcherVar(k))) continue;
            env.put(k, e.substring(eq + 1));
        }
        env.putIfAbsent("PATH", DEFAULT_PATH);
        for (List<String> src : List.of(s.envFile(), s.env())) {
            for (String e : src) {
                int eq = e.indexOf('=');
                if (eq == 0) continue;
                if (eq < 0) {
                    String v = host.get(e);
                    if (v != null) env.put(e, v);
                } else {
                    env.put(e.substring(0, eq), e.substring(eq + 1));
                }
            }
        }
        List<String> out = new ArrayList<>(env.size());
        env.forEach((k, v) -> out.add(k + "=" + v));
        return out;
    }

    /** --env-file syntax (Docker's): one K=V or K per line, blank lines and lines starting with # ignored. */
    public static List<String> parseEnvFile(String text) {
        List<String> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String l = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
            String trimmed = l.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#")) continue;
            int eq = l.indexOf('=');
            if (eq < 0) out.add(trimmed);
            else out.add(l.substring(0, eq).strip() + "=" + l.substring(eq + 1));
        }
        return out;
    }
}
