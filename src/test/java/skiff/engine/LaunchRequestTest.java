package skiff.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.spec.Mount;
import skiff.spec.Process;
import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the engine makes of a launch request: whose mount it is comes typed, and decides how a failure is told. */
class LaunchRequestTest {
    @TempDir
    Path tmp;

    LaunchRequest request(List<LaunchRequest.Mount> mounts, List<LaunchRequest.Device> devices) throws IOException {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Path runDir = Files.createDirectories(tmp.resolve("run"));
        Spec spec = new Spec(Spec.OCI_VERSION, new Process(false, null, List.of("/bin/true"), List.of("PATH=/bin"), "/", true),
                null, null, List.of(), null, Map.of(), null);
        return new LaunchRequest(Launcher.NATIVE, root, LaunchRequest.RootKind.IMAGE_MOUNT, tmp, runDir, spec, "/", mounts,
                devices, List.of(), false, false, false, Map.of(), Engine.Ending.REPLACE, null);
    }

    LaunchRequest.Mount bind(String src, String dst, LaunchRequest.Origin origin) {
        return LaunchRequest.Mount.of(Mount.bind(src, dst, true), origin);
    }

    @Test
    void aMissingSourceIsToldInTheUsersTermsForTheirBindsOnly() throws IOException {
        String gone = tmp.resolve("gone").toString();
        SkiffException user = assertThrows(SkiffException.class,
                () -> Engine.plan(request(List.of(bind(gone, "/data", LaunchRequest.Origin.USER)), List.of())));
        assertEquals(ExitCode.LAUNCH, user.exitCode());
        assertEquals("-v " + gone + ":/data: " + gone + " does not exist on the host", user.getMessage());
        SkiffException site = assertThrows(SkiffException.class,
                () -> Engine.plan(request(List.of(bind(gone, "/data", LaunchRequest.Origin.SYSTEM)), List.of())));
        assertEquals("bind " + gone + ":/data: " + gone + " does not exist on the host", site.getMessage());
    }

    @Test
    void thePlanCarriesTheTypedMountsAndDevices() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("d"));
        Path file = Files.writeString(tmp.resolve("f"), "x");
        LaunchPlan plan = Engine.plan(request(List.of(bind(dir.toString(), "/d", LaunchRequest.Origin.USER),
                        bind(file.toString(), "/f", LaunchRequest.Origin.SYSTEM),
                        LaunchRequest.Mount.of(new Mount("/proc", "proc", "proc", List.of("nosuid")), LaunchRequest.Origin.SYSTEM)),
                List.of(new LaunchRequest.Device(Path.of("/dev/null"), "/dev/null", true))));
        List<LaunchPlan.PlanMount> m = plan.mounts();
        assertEquals(new LaunchPlan.PlanMount("bind", dir.toString(), "/d", true, true, true, true, false, false, true), m.get(0));
        assertTrue(m.get(1).file());
        assertFalse(m.get(1).user());
        assertEquals("proc", m.get(2).kind());
        assertEquals(new LaunchPlan.PlanMount("bind", "/dev/null", "/dev/null", false, false, true, false, false, true, false), m.get(3));
        SkiffException e = assertThrows(SkiffException.class, () -> Engine.plan(request(List.of(),
                List.of(new LaunchRequest.Device(tmp.resolve("nodev"), "/dev/x", false)))));
        assertEquals("device " + tmp.resolve("nodev") + " does not exist on this host", e.getMessage());
    }
}
