package skiff.engine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Stage 2's OCI hook runner (runtime-spec config.md "POSIX-platform Hooks"), java.base only: stage 2 is on the
 * launch critical path and carries no Jackson, so the state JSON (runtime.md "State") is written by hand. Each hook
 * gets its path, args[1..], exactly the hook's env, the state on stdin; its output is
 * captured (never mixed into the payload's), and a hook that fails, cannot start or outlives its timeout stops
 * the launch with status 125 naming it.
 *
 * <p>Where each stage runs (stage 2 is inside the container's user and mount namespaces from its start; skiff
 * execs the payload and keeps no runtime process outside them):
 * <ul>
 * <li>prestart, then createRuntime: after every mount is made, before pivot_root; the host's file tree is still
 * visible, so paths are host paths.
 * <li>createContainer: right after them, same place (the container's namespaces are the ones stage 2 is in).
 * <li>startContainer, then poststart: after pivot_root, just before execve of the payload; paths resolve in the
 * container. poststart runs before, not after, the payload starts: skiff's last act is the execve.
 * <li>poststop: only with --pid, where stage 2 stays as init; after the payload exits, in the container.
 * </ul>
 */
final class StageHooks {
    static final int DEFAULT_TIMEOUT_S = 60;
    private static final int MAX_CAPTURE = 16 * 1024;

    private StageHooks() {}

    /**
     * Before any hook runs: processes started after pivot_root cannot use jspawnhelper (it lies in the JDK's
     * directory, out of reach then), and ProcessBuilder's logger lookup must happen while the JDK is reachable.
     */
    static void prepare(LaunchPlan plan) {
        if (plan.hooks().hooks().isEmpty() || plan.pidInit()) return; // --pid: unshare passes FORK already
        System.setProperty("jdk.lang.Process.launchMechanism", "FORK");
        System.getLogger("java.lang.ProcessBuilder").isLoggable(System.Logger.Level.DEBUG);
    }

    /** The pid of the container's process as the host sees it; read before pivot_root, while /proc is the host's. */
    static long hostPid() {
        try {
            return Long.parseLong(Files.readSymbolicLink(Path.of("/proc/self")).toString());
        } catch (IOException | NumberFormatException | UnsupportedOperationException e) {
            return ProcessHandle.current().pid();
        }
    }

    /** Runs the hooks of {@code stages}, in that order, each stage's hooks in spec order. */
    static void run(LaunchPlan plan, String status, long pid, String... stages) throws Stage2.Failure {
        LaunchPlan.PlanHooks hooks = plan.hooks();
        if (hooks.hooks().isEmpty()) return;
        byte[] state = null;
        for (String stage : stages) {
            for (LaunchPlan.PlanHook h : hooks.hooks()) {
                if (!h.stage().equals(stage)) continue;
                if (state == null) state = stateJson(hooks, status, pid).getBytes(StandardCharsets.UTF_8);
                runOne(h, state);
            }
        }
    }

    static String stateJson(LaunchPlan.PlanHooks hooks, String status, long pid) {
        StringBuilder sb = new StringBuilder("{\"ociVersion\":");
        str(sb, skiff.spec.Spec.OCI_VERSION).append(",\"id\":");
        str(sb, hooks.id()).append(",\"status\":");
        str(sb, status);
        if (pid > 0) sb.append(",\"pid\":").append(pid);
        sb.append(",\"bundle\":");
        str(sb, hooks.bundle()).append(",\"annotations\":{");
        List<String> a = hooks.annotations();
        for (int i = 0; i + 1 < a.size(); i += 2) {
            if (i > 0) sb.append(',');
            str(sb, a.get(i)).append(':');
            str(sb, a.get(i + 1));
        }
        return sb.append("}}").toString();
    }

    /** A JSON string (RFC 8259 section 7). */
    static StringBuilder str(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"');
    }

    private static void runOne(LaunchPlan.PlanHook h, byte[] state) throws Stage2.Failure {
        List<String> cmd = new ArrayList<>();
        cmd.add(h.path());
        if (h.args().size() > 1) cmd.addAll(h.args().subList(1, h.args().size()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().clear();
        for (String e : h.env()) {
            int eq = e.indexOf('=');
            if (eq > 0) pb.environment().put(e.substring(0, eq), e.substring(eq + 1));
        }
        pb.redirectErrorStream(true);
        String name = h.stage() + " hook " + h.path();
        int timeout = h.timeout() > 0 ? h.timeout() : DEFAULT_TIMEOUT_S;
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new Stage2.Failure(Stage2.LAUNCH, name + " cannot be started: " + e.getMessage()
                    + "; ask the administrator to fix or remove it");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread drain = Thread.ofPlatform().daemon().start(() -> {
            try (InputStream in = p.getInputStream()) {
                byte[] buf = new byte[4096];
                for (int n; (n = in.read(buf)) > 0; ) {
                    synchronized (out) {
                        if (out.size() > MAX_CAPTURE) {
                            byte[] all = out.toByteArray();
                            out.reset();
                            out.write(all, all.length - MAX_CAPTURE / 2, MAX_CAPTURE / 2);
                        }
                        out.write(buf, 0, n);
                    }
                }
            } catch (IOException ignored) {
                // the hook was killed
            }
        });
        try (OutputStream o = p.getOutputStream()) {
            o.write(state);
        } catch (IOException ignored) {
            // a hook need not read its stdin
        }
        try {
            if (!p.waitFor(timeout, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                throw Stage2.Failure.beforeStart(name + " timed out after " + timeout + "s and was killed");
            }
            drain.join(2000);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            throw new Stage2.Failure(Stage2.LAUNCH, name + " interrupted");
        }
        if (p.exitValue() != 0) {
            String last;
            synchronized (out) {
                last = out.toString(StandardCharsets.UTF_8).strip().lines().reduce((a, b) -> b).orElse("");
            }
            throw Stage2.Failure.beforeStart(name + " failed with exit status " + p.exitValue()
                    + (last.isEmpty() ? "" : " (" + last + ")"));
        }
    }
}
