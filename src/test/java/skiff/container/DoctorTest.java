package skiff.container;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Host states this machine does not have, through a fake /proc: each gap is reported with its fix. */
class DoctorTest {
    @TempDir
    Path tmp;

    Path proc(Map<String, String> files) throws Exception {
        Path proc = tmp.resolve("proc");
        for (var e : files.entrySet()) {
            Path p = proc.resolve(e.getKey());
            Files.createDirectories(p.getParent());
            Files.writeString(p, e.getValue());
        }
        return proc;
    }

    static Doctor.Check check(List<Doctor.Check> checks, String name) {
        return checks.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow(() -> new AssertionError(name + " missing: " + checks));
    }

    @Test
    void disabledUserNamespacesAndAppArmorRestriction() throws Exception {
        Path proc = proc(Map.of(
                "sys/user/max_user_namespaces", "0\n",
                "sys/kernel/unprivileged_userns_clone", "0\n",
                "sys/kernel/apparmor_restrict_unprivileged_userns", "1\n",
                "filesystems", "nodev\tproc\n\text4\n"));
        var checks = new Doctor.Runner(tmp.resolve("storage"), Map.of("PATH", "/usr/bin:/usr/sbin"), proc).all();
        assertFalse(Doctor.allRequiredPass(checks));
        var max = check(checks, "userns.max");
        assertEquals(Doctor.Status.FAIL, max.status());
        assertTrue(max.fix().contains("sysctl -w user.max_user_namespaces="), max.fix());
        var clone = check(checks, "userns.unprivileged");
        assertEquals(Doctor.Status.FAIL, clone.status());
        assertTrue(clone.fix().contains("kernel.unprivileged_userns_clone=1"), clone.fix());
        var aa = check(checks, "apparmor.userns");
        assertEquals(Doctor.Status.WARN, aa.status());
        assertTrue(aa.fix().contains("AppArmor profile") && aa.fix().contains("apparmor_restrict_unprivileged_userns=0"), aa.fix());
        var sq = check(checks, "squashfs.kernel");
        assertEquals(Doctor.Status.WARN, sq.status());
        assertTrue(sq.fix().contains("modprobe squashfs"), sq.fix());
    }

    @Test
    void withProotInstalledUserNamespacesAreOptionalUnlessTheEngineIsNative() throws Exception {
        Path proc = proc(Map.of("sys/user/max_user_namespaces", "0\n", "filesystems", "\tsquashfs\n"));
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Files.writeString(bin.resolve("proot"), "#!/bin/sh\n");
        bin.resolve("proot").toFile().setExecutable(true);
        Map<String, String> env = Map.of("PATH", bin + ":/usr/bin:/usr/sbin");
        var auto = new Doctor.Runner(tmp.resolve("storage"), env, proc, "squashfuse", "auto").all();
        assertEquals(Doctor.Status.WARN, check(auto, "userns.max").status());
        assertFalse(check(auto, "userns.max").required());
        assertEquals(Doctor.Status.OK, check(auto, "proot").status());
        var nat = new Doctor.Runner(tmp.resolve("storage"), env, proc, "squashfuse", "native").all();
        assertEquals(Doctor.Status.FAIL, check(nat, "userns.max").status());
        var none = new Doctor.Runner(tmp.resolve("storage"), Map.of("PATH", "/nonexistent"), proc, "squashfuse", "auto").all();
        assertEquals(Doctor.Status.FAIL, check(none, "userns.max").status(), "without proot nothing makes up for user namespaces");
        assertEquals(Doctor.Status.WARN, check(none, "proot").status());
        assertTrue(check(none, "proot").fix().contains("install proot"));
    }

    @Test
    void emptyPathFailsEveryToolCheck() throws Exception {
        Path proc = proc(Map.of("sys/user/max_user_namespaces", "100\n", "filesystems", "\tsquashfs\n"));
        var checks = new Doctor.Runner(tmp.resolve("storage"), Map.of("PATH", tmp.resolve("empty").toString()), proc).all();
        for (String n : List.of("userns.probe", "fusermount3"))
            assertEquals(Doctor.Status.FAIL, check(checks, n).status(), n);
        // skiff's own server is the default mounter: squashfuse is only its fallback.
        assertTrue(check(checks, "squashfs.mounter").detail().contains("skiff's own FUSE server"));
        assertEquals(Doctor.Status.WARN, check(checks, "squashfuse").status());
        // With squashfuse selected, a missing squashfuse fails.
        var sf = new Doctor.Runner(tmp.resolve("storage"), Map.of("PATH", tmp.resolve("empty").toString()), proc, "squashfuse").all();
        assertTrue(check(sf, "squashfs.mounter").detail().contains("squashfuse mounts"));
        assertEquals(Doctor.Status.FAIL, check(sf, "squashfuse").status());
        var bad = new Doctor.Runner(tmp.resolve("storage"), Map.of("PATH", "/usr/bin"), proc, "fastest").all();
        assertEquals(Doctor.Status.FAIL, check(bad, "squashfs.mounter").status());
        assertTrue(check(checks, "fusermount3").fix().contains("fuse3"));
        assertEquals(Doctor.Status.OK, check(checks, "userns.max").status());
        assertEquals(Doctor.Status.OK, check(checks, "squashfs.kernel").status());
        assertEquals(Doctor.Status.OK, check(checks, "storage").status());
        assertEquals(Doctor.Status.WARN, check(checks, "xdg-runtime-dir").status());
    }
}
