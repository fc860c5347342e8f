package skiff.engine;

import org.junit.jupiter.api.Test;
import skiff.spec.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class EngineHooksTest {
    static Spec spec() {
        return new Spec(Spec.OCI_VERSION, null, null, null, List.of(), null, Map.of("b", "2", "a", "1"), null);
    }

    static LaunchPlan.PlanHook hook(String stage, String p) {
        return new LaunchPlan.PlanHook(stage, p, List.of(p, "x"), List.of("E=1"), 3);
    }

    @Test
    void noHooksCostNothing() {
        assertSame(LaunchPlan.PlanHooks.NONE, Engine.planHooks(List.of(), spec(), Path.of("/r"), 9, false));
        assertSame(LaunchPlan.PlanHooks.NONE, Engine.planHooks(List.of(), spec(), Path.of("/r"), 9, true));
        // a poststop hook alone, without an init to run it, costs nothing either
        assertSame(LaunchPlan.PlanHooks.NONE, Engine.planHooks(List.of(hook("poststop", "/stop")), spec(), Path.of("/r"), 9, false));
    }

    @Test
    void poststopOnlyWithAnInitAndTheStateSaysWhichContainer() {
        List<LaunchPlan.PlanHook> all = List.of(hook("prestart", "/pre"), hook("poststart", "/ps"), hook("poststop", "/stop"));
        LaunchPlan.PlanHooks without = Engine.planHooks(all, spec(), Path.of("/r"), 9, false);
        assertEquals(List.of("/pre", "/ps"), without.hooks().stream().map(LaunchPlan.PlanHook::path).toList());
        LaunchPlan.PlanHooks with = Engine.planHooks(all, spec(), Path.of("/r"), 9, true);
        assertEquals(new LaunchPlan.PlanHook("poststop", "/stop", List.of("/stop", "x"), List.of("E=1"), 3), with.hooks().getLast());
        assertEquals("skiff-9", with.id());
        assertEquals("/r", with.bundle());
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
