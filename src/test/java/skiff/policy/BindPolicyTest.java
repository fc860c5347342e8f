package skiff.policy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** User binds: allow/deny on the real source, forbidden destinations resolved inside the image. */
class BindPolicyTest {
    @TempDir
    Path tmp;
    Path data;
    Path rootfs;
    Fixture f;

    @BeforeEach
    void setUp() throws Exception {
        data = Fixture.mkdir(tmp.resolve("data"));
        Fixture.mkdir(tmp.resolve("secret"));
        rootfs = Fixture.mkdir(tmp.resolve("rootfs"));
        Fixture.mkdir(rootfs.resolve("etc"));
        Fixture.mkdir(rootfs.resolve("usr/bin"));
        Fixture.mkdir(rootfs.resolve("scratch"));
        Files.createSymbolicLink(rootfs.resolve("bin"), Path.of("usr/bin"));
        Files.createSymbolicLink(rootfs.resolve("mnt"), Path.of("/etc"));
        Files.createSymbolicLink(rootfs.resolve("work"), Path.of("scratch"));
        Files.createSymbolicLink(rootfs.resolve("scratch/up"), Path.of("../../../../etc"));
        f = new Fixture(tmp).siteToml("""
                [binds]
                allow = ["%s", "/proc"]
                deny = ["/proc", "%s"]
                """.formatted(tmp, tmp.resolve("secret")));
    }

    Spec run(Mount... mounts) {
        return runMarked(mounts).spec();
    }

    Policy.Applied runMarked(Mount... mounts) {
        RunRequest r = Fixture.request();
        r = new RunRequest(r.image(), null, List.of(mounts), List.of(), null, List.of(), r.hostEnv(), 1000, 1000, "alice", List.of("users"), rootfs);
        return f.policy().applyForLaunch(Fixture.base(), r);
    }

    SkiffException denied(Mount m) {
        SkiffException e = assertThrows(SkiffException.class, () -> run(m));
        assertEquals(ExitCode.POLICY, e.exitCode(), e.getMessage());
        return e;
    }

    /** The engine must know the user's binds after policy rewrote them (real source, resolved destination). */
    @Test
    void userBindsAreMarkedAndOthersAreNot() throws Exception {
        Path link = tmp.resolve("link2");
        Files.createSymbolicLink(link, data);
        Policy.Applied a = runMarked(Mount.bind(link.toString(), "/work/x", false));
        Spec s = a.spec();
        Mount m = s.mounts().getLast();
        assertEquals("/scratch/x", m.destination());
        assertTrue(a.isUserBind(m), m.toString());
        assertTrue(s.mounts().stream().filter(a::isUserBind).count() == 1, s.mounts().toString());
        // no marker among the options the kernel gets
        assertTrue(s.mounts().stream().allMatch(x -> x.options().stream().noneMatch(o -> o.startsWith("x-"))), s.mounts().toString());
    }

    @Test
    void allowedBindIsAddedWithItsRealSource() throws Exception {
        Path link = tmp.resolve("link");
        Files.createSymbolicLink(link, data);
        Spec s = run(Mount.bind(link.toString(), "/data", true));
        Mount m = s.mounts().getLast();
        assertEquals(data.toRealPath().toString(), m.source());
        assertEquals("/data", m.destination());
        assertTrue(m.readOnly());
    }

    @Test
    void sourceOutsideTheAllowListIsDenied() {
        assertTrue(denied(Mount.bind("/etc/hostname", "/data", true)).getMessage().contains("not under a host path the site allows"));
    }

    @Test
    void deniedSourceIsDeniedEvenThroughSymlinksAndDotDot() throws Exception {
        assertTrue(denied(Mount.bind("/proc/self", "/data", true)).getMessage().contains("forbids binding /proc"));
        Path sneaky = tmp.resolve("sneaky");
        Files.createSymbolicLink(sneaky, tmp.resolve("secret"));
        denied(Mount.bind(sneaky.toString(), "/data", true));
        denied(Mount.bind(data + "/../secret", "/data", true));
        Path toProc = tmp.resolve("toproc");
        Files.createSymbolicLink(toProc, Path.of("/proc"));
        denied(Mount.bind(toProc.toString(), "/data", true));
    }

    @Test
    void missingSourceIsAUsageError() {
        SkiffException e = assertThrows(SkiffException.class, () -> run(Mount.bind(tmp.resolve("nope").toString(), "/data", true)));
        assertEquals(ExitCode.USAGE, e.exitCode());
    }

    @Test
    void forbiddenDestinationsAreDeniedAfterDotDotAndImageSymlinks() {
        String src = data.toString();
        assertTrue(denied(Mount.bind(src, "/etc", true)).getMessage().contains("/etc"));
        denied(Mount.bind(src, "/etc/foo", true));
        denied(Mount.bind(src, "/", true));
        denied(Mount.bind(src, "/data/../usr/lib", true));
        denied(Mount.bind(src, "/bin/tool", true));            // relative link bin -> usr/bin
        denied(Mount.bind(src, "/mnt/conf", true));            // absolute link mnt -> /etc
        denied(Mount.bind(src, "/scratch/up/passwd", true));   // ../ chain clamped at the image root
        denied(Mount.bind(src, "/.skiff/nvidia", true));
    }

    @Test
    void destinationSymlinkToAnAllowedPlaceIsMountedWhereItResolves() {
        Spec s = run(Mount.bind(data.toString(), "/work/./in", false));
        assertEquals("/scratch/in", s.mounts().getLast().destination());
        assertFalse(s.mounts().getLast().readOnly());
    }

    @Test
    void etcPrefixDoesNotCatchSiblings() {
        assertEquals("/etcetera", run(Mount.bind(data.toString(), "/etcetera", true)).mounts().getLast().destination());
    }

    @Test
    void groupAndUserSectionsAddAllowedPrefixesAndMounts() throws Exception {
        Path shared = Fixture.mkdir(Path.of("/tmp").resolve("skiff-policy-test-" + ProcessHandle.current().pid()));
        try {
            f.siteToml("""
                    [binds]
                    allow = ["%s"]
                    [groups.users]
                    allow_binds = ["%s"]
                    [users.alice]
                    mounts = [{ source = "%s", destination = "/site-data" }]
                    """.formatted(data, shared, data));
            Spec s = run(Mount.bind(shared.toString(), "/shared", true));
            assertEquals(List.of("/site-data", "/shared"), s.mounts().stream().map(Mount::destination).toList());
            RunRequest bob = new RunRequest(null, null, List.of(Mount.bind(shared.toString(), "/shared", true)), List.of(), null,
                    List.of(), java.util.Map.of(), 1001, 1001, "bob", List.of("other"), rootfs);
            assertEquals(ExitCode.POLICY, assertThrows(SkiffException.class, () -> f.policy().apply(Fixture.base(), bob)).exitCode());
        } finally {
            Files.delete(shared);
        }
    }

    @Test
    void aSourceContainingADeniedPathIsDenied() {
        Fixture.mkdir(tmp.resolve("secret/inner"));
        assertTrue(denied(Mount.bind(tmp.toString(), "/data", true)).getMessage().contains("contains " + tmp.resolve("secret")));
        f.siteToml("");  // defaults: allow /, deny /proc /etc/shadow ...
        assertTrue(denied(Mount.bind("/", "/host", true)).getMessage().contains("contains"));
    }

    Spec runFrom(String cwd, List<Mount> standard, Mount... mounts) {
        return runFromMarked(cwd, standard, mounts).spec();
    }

    Policy.Applied runFromMarked(String cwd, List<Mount> standard, Mount... mounts) {
        RunRequest r = Fixture.request();
        r = new RunRequest(r.image(), null, List.of(mounts), List.of(), null, List.of(), r.hostEnv(), 1000, 1000, "alice",
                List.of("users"), rootfs, cwd, null);
        return f.policy().applyForLaunch(Fixture.base().withMounts(standard), r);
    }

    /** The current directory is bound at its own path, as a user bind, before the -v binds (which may lie inside it). */
    @Test
    void theCurrentDirectoryIsBoundLikeAUserBindBeforeTheOthers() throws Exception {
        Path proj = Fixture.mkdir(tmp.resolve("proj"));
        Policy.Applied a = runFromMarked(proj.toString(), List.of(), Mount.bind(data.toString(), proj + "/in", false));
        Spec s = a.spec();
        assertEquals(List.of(proj.toRealPath() + " -> " + proj, data.toRealPath() + " -> " + proj + "/in"),
                s.mounts().stream().map(m -> m.source() + " -> " + m.destination()).toList());
        assertTrue(a.isUserBind(s.mounts().getFirst()));
        assertFalse(s.mounts().getFirst().readOnly());
        assertEquals(List.of(), f.warnings);
    }

    /** Visible already (home, /tmp, a -v of a parent): no second bind. "/": nothing to keep. */
    @Test
    void aVisibleCurrentDirectoryIsNotBoundTwice() throws Exception {
        Path proj = Fixture.mkdir(data.resolve("proj"));
        List<Mount> home = List.of(Mount.bind(data.toString(), "/home/alice", false));
        assertEquals(1, runFrom(proj.toString(), home).mounts().size());
        assertEquals(List.of("/in"), runFrom(proj.toString(), List.of(), Mount.bind(data.toString(), "/in", false))
                .mounts().stream().map(Mount::destination).toList());
        assertEquals(0, runFrom("/", List.of()).mounts().size());
        assertEquals(0, runFrom(null, List.of()).mounts().size(), "--no-cwd, -w");
        assertEquals(List.of(), f.warnings);
    }

    /** Where the policy refuses it (denied source, forbidden destination): one warning line, and the run goes on. */
    @Test
    void aCurrentDirectoryThePolicyRefusesIsAWarningNotAnError() {
        Path secret = Fixture.mkdir(tmp.resolve("secret/inner"));
        Spec s = runFrom(secret.toString(), List.of(), Mount.bind(data.toString(), "/data", false));
        assertEquals(List.of("/data"), s.mounts().stream().map(Mount::destination).toList());
        assertEquals(1, f.warnings.size(), f.warnings.toString());
        String w = f.warnings.getFirst();
        assertTrue(w.startsWith("skiff: warning: the current directory " + secret + " is not bound")
                && w.contains("the site's bind policy does not allow it") && w.contains("starts in /") && !w.contains("\n"), w);
        // the destination is judged too: the site forbids binding over anything under tmp
        f.warnings.clear();
        f.siteToml("[binds]\nallow = [\"/\"]\nforbidden_destinations = [\"" + tmp + "\"]\n");
        assertEquals(0, runFrom(data.toString(), List.of()).mounts().size());
        assertEquals(1, f.warnings.size(), f.warnings.toString());
    }

    @Test
    void theSiteCanTurnTheCurrentDirectoryBindOff() {
        f.siteToml("[binds]\nallow = [\"" + tmp + "\"]\ncurrent_directory = false\n");
        assertEquals(0, runFrom(data.toString(), List.of()).mounts().size());
        assertEquals(List.of(), f.warnings);
    }
}
