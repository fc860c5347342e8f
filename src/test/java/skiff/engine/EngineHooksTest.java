package skiff.engine;

import org.junit.jupiter.api.Test;
import skiff.spec.Hooks;
import skiff.spec.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class EngineHooksTest {
    static Spec spec(Hooks h) {
        return new Spec(Spec.OCI_VERSION, null, null, null, List.of(), h, Map.of("b", "2", "a", "1"), null);
    }

    static Hooks.Hook hook(String p) {
        return new Hooks.Hook(p, List.of(p, "x"), List.of("E=1"), 3);
    }

    @Test
    void noHooksCostNothing() {
        assertSame(LaunchPlan.PlanHooks.NONE, Engine.planHooks(spec(null), Path.of("/r"), 9, false));
        assertSame(LaunchPlan.PlanHooks.NONE, Engine.planHooks(spec(Hooks.NONE), Path.of("/r"), 9, true));
    }

    @Test
    void stagesInLifecycleOrderAndPoststopOnlyWithAnInit() {
        Hooks h = new Hooks(List.of(hook("/pre")), List.of(hook("/cr")), List.of(hook("/cc")), List.of(hook("/sc")),
                List.of(hook("/ps")), List.of(hook("/stop")));
        LaunchPlan.PlanHooks without = Engine.planHooks(spec(h), Path.of("/r"), 9, false);
        assertEquals(List.of("/pre", "/cr", "/cc", "/sc", "/ps"), without.hooks().stream().map(LaunchPlan.PlanHook::path).toList());
        assertEquals(List.of("prestart", "createRuntime", "createContainer", "startContainer", "poststart"),
                without.hooks().stream().map(LaunchPlan.PlanHook::stage).toList());
        LaunchPlan.PlanHooks with = Engine.planHooks(spec(h), Path.of("/r"), 9, true);
        assertEquals("poststop", with.hooks().getLast().stage());
        assertEquals(new LaunchPlan.PlanHook("poststop", "/stop", List.of("/stop", "x"), List.of("E=1"), 3), with.hooks().getLast());
        assertEquals("skiff-9", with.id());
        assertEquals(List.of("a", "1", "b", "2"), with.annotations());
    }

    @Test
    void aHookThatFailsBeforeTheStartSaysSoWhileItsReasonStandsAlone() {
        // The reason alone is what a poststop failure prints as a warning: the payload did run then.
        Stage2.Failure f = Stage2.Failure.beforeStart("hook /h failed with exit status 3");
        assertEquals(125, f.status);
        assertEquals("hook /h failed with exit status 3; the container was not started", f.getMessage());
        assertEquals("hook /h failed with exit status 3", f.reason);
    }
}
