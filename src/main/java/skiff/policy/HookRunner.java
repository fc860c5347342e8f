package skiff.policy;

import skiff.policy.hooks.Stage;
import skiff.spec.Hooks;
import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the OCI hooks of a {@link Spec} (runtime-spec config.md "POSIX-platform Hooks"). Each hook is
 * executed with its {@code path}, {@code args[1..]} as arguments ({@code args[0]} is the conventional
 * program name; the JVM cannot set argv[0] apart from the path), exactly its {@code env} (nothing
 * inherited), and the container state JSON on stdin; its stdout and stderr are captured (never mixed
 * into the payload's output) and the last line is quoted if it fails. A hook that exits non-zero, cannot start, or
 * outlives its {@code timeout} (seconds; killed) stops the launch: SkiffException(LAUNCH) naming it.
 *
 * <p>When the engine calls each stage (skiff execs the payload and keeps no process behind):
 * <ul>
 * <li>{@link Stage#CREATE_RUNTIME} (and the deprecated {@link Stage#PRESTART}, run just before it): after
 * the namespaces exist and the mounts are made, before pivot_root; in the runtime's (host) mount
 * namespace. State status "created", pid the container's pid.
 * <li>{@link Stage#CREATE_CONTAINER}: right after, before pivot_root, in the container's namespaces
 * (the engine passes a {@code prefix} such as {@code nsenter -t PID -U -m --preserve-credentials}).
 * <li>{@link Stage#START_CONTAINER}: after pivot_root, just before execve of the payload, in the
 * container's namespaces; the path is resolved in the container.
 * <li>{@link Stage#POSTSTART}: runtime-spec wants them after the payload started; since skiff's last act
 * is execve, skiff runs them just before execve, after startContainer. Documented deviation.
 * <li>{@link Stage#POSTSTOP}: only where a skiff process outlives the payload (an init kept with
 * {@code --pid}, or a persistent container removed with {@code skiff rm}); otherwise they do not run, and
 * {@link #warnUnsupportedPoststop} says so once.
 * </ul>
 */
public final class HookRunner {
    /** runtime-spec state (runtime.md "State"), passed on stdin. */
    public record State(String ociVersion, String id, String status, Integer pid, String bundle, Map<String, String> annotations) {
        public static State of(Spec spec, String id, String status, Integer pid, String bundle) {
            return new State(Spec.OCI_VERSION, id, status, pid, bundle, spec.annotations());
        }
    }

    /** A hook without a timeout may run this long before skiff gives up on it. */
    public static final int DEFAULT_TIMEOUT_S = 60;
    private static final int MAX_CAPTURE = 64 * 1024;

    private HookRunner() {}

    /** True when {@code spec} has hooks for {@code stage}. */
    public static boolean has(Spec spec, Stage stage) {
        return !stage.of(spec.hooks()).isEmpty();
    }

    /** Runs the hooks of {@code stage} in order, on the host. */
    public static void run(Stage stage, Spec spec, State state) {
        run(stage, spec, state, List.of());
    }

    /**
     * Runs the hooks of {@code stage} in order; {@code prefix} (may be empty) is put in front of each
     * command line, e.g. an nsenter invocation to run it in the container's namespaces.
     */
    public static void run(Stage stage, Spec spec, State state, List<String> prefix) {
        byte[] stdin = Json.bytes(state);
        for (Hooks.Hook h : stage.of(spec.hooks())) runOne(stage, h, stdin, prefix);
    }

    /** One line on stderr when poststop hooks exist but will not run (no skiff process outlives the payload). */
    public static void warnUnsupportedPoststop(Spec spec, java.io.PrintStream err) {
        if (has(spec, Stage.POSTSTOP))
            err.println("skiff: warning: " + Stage.POSTSTOP.of(spec.hooks()).size()
                    + " poststop hook(s) will not run: skiff execs the payload and keeps no process to run them (use --pid)");
    }

    static void runOne(Stage stage, Hooks.Hook h, byte[] stdin, List<String> prefix) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(h.path());
        if (h.args() != null && h.args().size() > 1) cmd.addAll(h.args().subList(1, h.args().size()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().clear();
        if (h.env() != null)
            for (String e : h.env()) {
                int eq = e.indexOf('=');
                if (eq > 0) pb.environment().put(e.substring(0, eq), e.substring(eq + 1));
            }
        // The payload's stdout is the user's data: a hook's chatter goes to the capture, not there.
        pb.redirectErrorStream(true);
        String name = stage.specName + " hook " + h.path();
        int timeout = h.timeout() != null && h.timeout() > 0 ? h.timeout() : DEFAULT_TIMEOUT_S;
        java.lang.Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new SkiffException(ExitCode.LAUNCH, name + " cannot be started: " + e.getMessage() + "; ask the administrator to fix or remove it");
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread drain = Thread.ofVirtual().start(() -> {
            try (InputStream in = p.getInputStream()) {
                byte[] buf = new byte[8192];
                for (int n; (n = in.read(buf)) > 0; ) {
                    // Keep only the tail, bounded: the last line is what the error message quotes.
                    if (err.size() > MAX_CAPTURE) {
                        byte[] keep = java.util.Arrays.copyOfRange(err.toByteArray(), err.size() - MAX_CAPTURE / 2, err.size());
                        err.reset();
                        err.write(keep);
                    }
                    err.write(buf, 0, n);
                }
            } catch (IOException ignored) {
                // the hook was killed
            }
        });
        try (OutputStream o = p.getOutputStream()) {
            o.write(stdin);
        } catch (IOException ignored) {
            // a hook need not read its stdin
        }
        try {
            if (!p.waitFor(timeout, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                throw new SkiffException(ExitCode.LAUNCH, name + " timed out after " + timeout + "s and was killed; the container was not started");
            }
            drain.join(2000);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new SkiffException(ExitCode.LAUNCH, name + " interrupted");
        }
        if (p.exitValue() != 0) {
            String last = err.toString(StandardCharsets.UTF_8).strip().lines().reduce((a, b) -> b).orElse("");
            throw new SkiffException(ExitCode.LAUNCH, name + " failed with exit status " + p.exitValue()
                    + (last.isEmpty() ? "" : " (" + last + ")") + "; the container was not started");
        }
    }
}
