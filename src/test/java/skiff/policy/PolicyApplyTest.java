package skiff.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.device.DeviceEdits;
import skiff.policy.hooks.Stage;
import skiff.spec.Linux;
import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Site environment, site mounts, modules, image policy and --device through Policy.apply. */
class PolicyApplyTest {
    @TempDir
    Path tmp;

    static RunRequest with(List<String> devices, List<String> modules) {
        RunRequest r = Fixture.request();
        return new RunRequest(r.image(), null, List.of(), devices, null, modules, r.hostEnv(), 1000, 1000, "alice", List.of("users"), null);
    }

    @Test
    void siteEnvironmentSetsPrependsAppendsAndUnsets() {
        Fixture f = new Fixture(tmp).siteToml("""
                [env]
                set = { SITE = "hpc", HOME = "/home/alice" }
                prepend = { PATH = "/opt/site/bin", MANPATH = "/opt/site/man" }
                append = { PATH = "/opt/late/bin" }
                unset = ["HOME"]
                [groups.users.env]
                set = { GROUPVAR = "g" }
                """);
        Map<String, String> env = Fixture.env(f.policy().apply(Fixture.base(), Fixture.request()));
        assertEquals("hpc", env.get("SITE"));
        assertEquals("/home/alice", env.get("HOME"), "unset runs before set");
        assertEquals("/opt/site/bin:/usr/bin:/bin:/opt/late/bin", env.get("PATH"));
        assertEquals("/opt/site/man", env.get("MANPATH"));
        assertEquals("g", env.get("GROUPVAR"));
    }

    @Test
    void siteMountsApplyToEveryContainerAndMissingOptionalOnesAreSkipped() {
        Path apps = Fixture.mkdir(tmp.resolve("apps"));
        Fixture f = new Fixture(tmp).siteToml("""
                [[mounts]]
                source = "%s"
                destination = "/apps"
                [[mounts]]
                source = "%s"
                optional = true
                """.formatted(apps, tmp.resolve("absent")));
        Spec s = f.policy().apply(Fixture.base(), Fixture.request());
        assertEquals(1, s.mounts().size());
        assertEquals("/apps", s.mounts().getFirst().destination());
        assertTrue(s.mounts().getFirst().readOnly(), "site mounts are read-only unless said otherwise");
        f.siteToml("[[mounts]]\nsource = \"" + tmp.resolve("absent") + "\"\n");
        assertEquals(ExitCode.HOST, assertThrows(SkiffException.class, () -> f.policy().apply(Fixture.base(), Fixture.request())).exitCode());
    }

    @Test
    void modulesApplyByDefaultOrOnRequestAndUnknownOnesAreRefused() throws Exception {
        Path lib = Fixture.mkdir(tmp.resolve("mpi/lib"));
        Fixture f = new Fixture(tmp);
        Files.writeString(tmp.resolve("dev/hfi1_0"), "");
        f.siteToml("""
                [modules.base]
                default = true
                description = "always on"
                env = { set = { BASE = "1" } }
                [modules.mpi]
                description = "host MPI"
                mounts = [{ source = "%s", destination = "/.skiff/mpi/lib" }]
                env = { prepend = { LD_LIBRARY_PATH = "/.skiff/mpi/lib" } }
                devices = ["%s"]
                hooks = [{ stage = "createRuntime", path = "/usr/bin/true", args = ["true"] }]
                """.formatted(lib, tmp.resolve("dev/hfi*")));
        Spec plain = f.policy().apply(Fixture.base(), with(List.of(), List.of()));
        assertEquals("1", Fixture.env(plain).get("BASE"));
        assertNull(Fixture.env(plain).get("LD_LIBRARY_PATH"));

        Spec mpi = f.policy().apply(Fixture.base(), with(List.of(), List.of("mpi")));
        assertEquals("/.skiff/mpi/lib", Fixture.env(mpi).get("LD_LIBRARY_PATH"));
        assertEquals("/.skiff/mpi/lib", mpi.mounts().getFirst().destination());
        assertEquals(List.of(tmp.resolve("dev/hfi1_0").toString()), mpi.linux().devices().stream().map(Linux.LinuxDevice::path).toList());
        assertEquals(1, Stage.CREATE_RUNTIME.of(mpi.hooks()).size());

        SkiffException e = assertThrows(SkiffException.class, () -> f.policy().apply(Fixture.base(), with(List.of(), List.of("nope"))));
        assertEquals(ExitCode.USAGE, e.exitCode());
        assertTrue(e.getMessage().contains("skiff modules"));
    }

    @Test
    void imagePolicyAllowsByRepositoryGlobAndCanRequireDigests() {
        Fixture f = new Fixture(tmp).siteToml("""
                [images]
                allow = ["docker.io/library/*", "registry.site.org/**"]
                """);
        Policy p = f.policy();
        p.checkImage("docker.io/library/alpine:3.20", false);
        p.checkImage("registry.site.org/a/b/c:1", false);
        SkiffException e = assertThrows(SkiffException.class, () -> p.checkImage("docker.io/someone/alpine:3.20", false));
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertThrows(SkiffException.class, () -> p.checkImage("docker.io/library/x/y:1", false), "'*' does not cross '/'");
        assertThrows(SkiffException.class, () -> p.checkImage("registry.site.org.evil.com/x:1", false));

        f.siteToml("[images]\ndigest_pinned_only = true\n");
        Policy pinned = f.policy();
        String digest = "docker.io/library/alpine@sha256:" + "a".repeat(64);
        pinned.checkImage(digest, true);
        assertTrue(assertThrows(SkiffException.class, () -> pinned.checkImage("docker.io/library/alpine:3.20", false))
                .getMessage().contains("digest"));
        // apply checks the image too, so a run cannot skip it.
        assertThrows(SkiffException.class, () -> pinned.apply(Fixture.base(), Fixture.request()));
    }

    @Test
    void realDeviceNodeIsStatedAndItsHostPathRecorded() {
        Fixture f = new Fixture(tmp);
        Spec s = f.realDevicesPolicy().apply(Fixture.base(), with(List.of("/dev/null:/dev/mynull:r"), List.of()));
        Linux.LinuxDevice d = s.linux().devices().getFirst();
        assertEquals("/dev/mynull", d.path());
        assertEquals("c", d.type());
        assertEquals(1, d.major());
        assertEquals(3, d.minor());
        DeviceEdits.Source src = skiff.policy.device.DeviceEdits.source(s, d);
        assertEquals(Path.of("/dev/null"), src.hostPath());
        assertFalse(src.writable());
        assertEquals(List.of(new skiff.spec.Mount("/dev/mynull", "bind", "/dev/null", List.of("bind", "ro", "nosuid"))), Policy.deviceBinds(s));
    }

    @Test
    void devicesOutsideTheAllowListOrNotDevicesAreRefused() throws Exception {
        Fixture f = new Fixture(tmp).siteToml("[devices]\nallow = [\"/dev/zero\", \"" + tmp + "/*\"]\n");
        assertEquals(ExitCode.POLICY, assertThrows(SkiffException.class,
                () -> f.realDevicesPolicy().apply(Fixture.base(), with(List.of("/dev/null"), List.of()))).exitCode());
        Path link = tmp.resolve("null-link");
        Files.createSymbolicLink(link, Path.of("/dev/null"));
        SkiffException e = assertThrows(SkiffException.class,
                () -> f.realDevicesPolicy().apply(Fixture.base(), with(List.of(link.toString()), List.of())));
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains("(/dev/null)"), e.getMessage());

        f.siteToml("[devices]\nallow = [\"" + tmp + "/**\"]\n");
        Path file = Files.writeString(tmp.resolve("notadevice"), "x");
        e = assertThrows(SkiffException.class, () -> f.realDevicesPolicy().apply(Fixture.base(), with(List.of(file.toString()), List.of())));
        assertTrue(e.getMessage().contains("not a character or block device"), e.getMessage());
        assertEquals(ExitCode.USAGE, assertThrows(SkiffException.class,
                () -> f.realDevicesPolicy().apply(Fixture.base(), with(List.of("dev/null"), List.of()))).exitCode());
        assertEquals(ExitCode.USAGE, assertThrows(SkiffException.class,
                () -> f.realDevicesPolicy().apply(Fixture.base(), with(List.of("/dev/null:/dev/x:rwz"), List.of()))).exitCode());
        f.siteToml("");
        assertEquals(ExitCode.POLICY, assertThrows(SkiffException.class,
                () -> f.realDevicesPolicy().apply(Fixture.base(), with(List.of("/dev/null:/etc/passwd"), List.of()))).exitCode());
    }
}
