package skiff.policy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.hooks.Stage;
import skiff.spec.Linux;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** CDI specs in JSON and YAML: every containerEdit kind, spec- and device-level, =all, invalid files. */
class CdiTest {
    @TempDir
    Path tmp;
    Fixture f;
    Path share;

    @BeforeEach
    void setUp() throws Exception {
        f = new Fixture(tmp);
        share = Fixture.mkdir(tmp.resolve("vendor-share"));
        Files.writeString(f.dev.resolve("acc0"), "");
        Files.writeString(f.dev.resolve("acc1"), "x");
        Files.writeString(f.dev.resolve("accctl"), "xx");
        f.write("cdi/vendor.json", """
                {
                  "cdiVersion": "0.6.0",
                  "kind": "vendor.com/acc",
                  "containerEdits": {
                    "env": ["ACC_DRIVER=1"],
                    "deviceNodes": [{"path": "/dev/accctl", "hostPath": "%1$s/accctl"}]
                  },
                  "devices": [
                    {"name": "acc0", "containerEdits": {
                      "env": ["ACC_VISIBLE=0"],
                      "deviceNodes": [{"path": "/dev/acc0", "hostPath": "%1$s/acc0", "permissions": "rw"}],
                      "mounts": [{"hostPath": "%2$s", "containerPath": "/.skiff/acc", "options": ["ro", "nosuid", "nodev", "bind"]}],
                      "hooks": [{"hookName": "createContainer", "path": "/usr/bin/acc-hook", "args": ["acc-hook", "setup"], "timeout": 5}]
                    }},
                    {"name": "acc1", "containerEdits": {
                      "deviceNodes": [{"path": "%1$s/acc1"}]
                    }}
                  ]
                }
                """.formatted(f.dev, share));
        f.write("cdi/other.yaml", """
                cdiVersion: "0.5.0"
                kind: example.org/nic
                devices:
                  - name: port1
                    containerEdits:
                      env: [NIC_PORT=1]
                      mounts:
                        - hostPath: %s
                          containerPath: /opt/nic
                      hooks:
                        - hookName: startContainer
                          path: /usr/bin/nic-hook
                """.formatted(share));
    }

    Spec run(String... devices) {
        RunRequest r = new RunRequest(null, null, List.of(), List.of(devices), null, List.of(), Map.of(), 1000, 1000, "alice", List.of(), null);
        return f.policy().apply(Fixture.base(), r);
    }

    @Test
    void jsonSpecAppliesSpecAndDeviceEdits() {
        Spec s = run("vendor.com/acc=acc0");
        Map<String, String> env = Fixture.env(s);
        assertEquals("1", env.get("ACC_DRIVER"));
        assertEquals("0", env.get("ACC_VISIBLE"));
        assertEquals(List.of("/dev/accctl", "/dev/acc0"), s.linux().devices().stream().map(Linux.LinuxDevice::path).toList());
        assertEquals(f.dev.resolve("acc0"), skiff.policy.device.DeviceEdits.source(s, s.linux().devices().get(1)).hostPath());
        assertTrue(skiff.policy.device.DeviceEdits.source(s, s.linux().devices().get(1)).writable());
        Mount m = s.mounts().getFirst();
        assertEquals("/.skiff/acc", m.destination());
        assertEquals(share.toString(), m.source());
        assertTrue(m.isBind() && m.readOnly());
        var hooks = Stage.CREATE_CONTAINER.of(s.hooks());
        assertEquals("/usr/bin/acc-hook", hooks.getFirst().path());
        assertEquals(List.of("acc-hook", "setup"), hooks.getFirst().args());
        assertEquals(5, hooks.getFirst().timeout());
    }

    @Test
    void yamlSpecAppliesEnvMountsAndHooks() {
        Spec s = run("example.org/nic=port1");
        assertEquals("1", Fixture.env(s).get("NIC_PORT"));
        assertEquals("/opt/nic", s.mounts().getFirst().destination());
        assertTrue(s.mounts().getFirst().options().contains("rbind"));
        assertEquals("/usr/bin/nic-hook", Stage.START_CONTAINER.of(s.hooks()).getFirst().path());
    }

    @Test
    void allMeansEveryDeviceOfTheKindWithSpecEditsOnce() {
        Spec s = run("vendor.com/acc=all");
        assertEquals(List.of("/dev/accctl", "/dev/acc0", f.dev.resolve("acc1").toString()),
                s.linux().devices().stream().map(Linux.LinuxDevice::path).toList());
    }

    @Test
    void unknownDeviceIsAClearError() {
        SkiffException e = assertThrows(SkiffException.class, () -> run("vendor.com/acc=acc9"));
        assertEquals(ExitCode.HOST, e.exitCode());
        assertTrue(e.getMessage().contains("vendor.com/acc=acc9"), e.getMessage());
    }

    @Test
    void invalidSpecsAreReportedWithFileAndReason() {
        Path bad = f.write("cdi/broken.json", """
                {"cdiVersion": "9.9.9", "kind": "broken.com/x", "devices": [{"name": "d"}]}
                """);
        Path garbled = f.write("cdi/garbled.yaml", "cdiVersion: [\n");
        Spec s = run("vendor.com/acc=acc0");
        assertNotNull(s);
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains(bad.toString()) && w.contains("unsupported cdiVersion 9.9.9")), f.warnings.toString());
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains(garbled.toString()) && w.contains("cannot be parsed")), f.warnings.toString());

        SkiffException e = assertThrows(SkiffException.class, () -> run("broken.com/x=d"));
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains(bad.toString()) && e.getMessage().contains("cdiVersion"), e.getMessage());
    }

    @Test
    void invalidEditsAreCaught() {
        Path bad = f.write("cdi/relative.json", """
                {"cdiVersion": "0.6.0", "kind": "bad.com/x", "devices": [{"name": "d", "containerEdits": {"deviceNodes": [{"path": "dev/x"}]}}]}
                """);
        SkiffException e = assertThrows(SkiffException.class, () -> run("bad.com/x=d"));
        assertTrue(e.getMessage().contains(bad.toString()) && e.getMessage().contains("not absolute"), e.getMessage());
    }

    @Test
    void groupWritableSpecIsIgnored() throws Exception {
        Path open = f.write("cdi/open.json", """
                {"cdiVersion": "0.6.0", "kind": "open.com/x", "devices": [{"name": "d", "containerEdits": {"env": ["X=1"]}}]}
                """);
        Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--"));
        assertThrows(SkiffException.class, () -> run("open.com/x=d"));
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains(open.toString()) && w.contains("group-writable")), f.warnings.toString());
    }
}
