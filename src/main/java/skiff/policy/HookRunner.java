package skiff.policy;

import skiff.policy.hooks.Stage;
import skiff.spec.Spec;

/**
 * What policy knows about running the OCI hooks it put into a {@link Spec}. The engine executes them
 * (the engine's StageHooks, in stage 2, without Jackson on the launch path): createRuntime/prestart and
 * createContainer after the mounts and before pivot_root, startContainer then poststart just before
 * execve, poststop only where an init stays ({@code --pid}). README "OCI hooks" states the deviations
 * from runtime-spec that exec'ing the payload implies.
 */
public final class HookRunner {

    private HookRunner() {}

    /** True when {@code spec} has hooks for {@code stage}. */
    public static boolean has(Spec spec, Stage stage) {
        return !stage.of(spec.hooks()).isEmpty();
    }

    /** One line on stderr when poststop hooks exist but will not run (no skiff process outlives the payload). */
    public static void warnUnsupportedPoststop(Spec spec, java.io.PrintStream err) {
        if (has(spec, Stage.POSTSTOP))
            err.println("skiff: warning: " + Stage.POSTSTOP.of(spec.hooks()).size()
                    + " poststop hook(s) will not run: skiff execs the payload and keeps no process to run them (use --pid)");
    }

}
