package skiff.cli;

import org.junit.jupiter.api.Test;
import skiff.engine.LaunchPlan;
import skiff.spec.Hooks;
import skiff.spec.Spec;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LaunchRequestsTest {
    static Hooks.Hook hook(String p) {
        return new Hooks.Hook(p, List.of(p, "x"), List.of("E=1"), 3);
    }

    @Test
    void theSpecsHooksAreTypedInLifecycleOrder() {
        Hooks h = new Hooks(List.of(hook("/pre")), List.of(hook("/cr")), List.of(hook("/cc")), List.of(hook("/sc")),
                List.of(hook("/ps")), List.of(hook("/stop")));
        Spec spec = new Spec(Spec.OCI_VERSION, null, null, null, List.of(), h, Map.of(), null);
        List<LaunchPlan.PlanHook> l = LaunchRequests.hooks(spec);
        assertEquals(List.of("/pre", "/cr", "/cc", "/sc", "/ps", "/stop"), l.stream().map(LaunchPlan.PlanHook::path).toList());
        assertEquals(List.of("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"),
                l.stream().map(LaunchPlan.PlanHook::stage).toList());
        assertEquals(new LaunchPlan.PlanHook("poststop", "/stop", List.of("/stop", "x"), List.of("E=1"), 3), l.getLast());
        assertEquals(List.of(), LaunchRequests.hooks(new Spec(Spec.OCI_VERSION, null, null, null, List.of(), null, Map.of(), null)));
    }
}
