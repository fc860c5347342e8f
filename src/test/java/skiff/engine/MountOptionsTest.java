package skiff.engine;

import org.junit.jupiter.api.Test;
import skiff.spec.Mount;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one table of mount options: what each known option does, and an unknown one refused by name. */
class MountOptionsTest {

    @Test
    void knownOptionsSetTheirFlagsAndLaterOnesWin() {
        assertEquals(new MountOptions.Parsed(true, false, true, true, false),
                MountOptions.parse(List.of("bind", "ro", "nosuid", "nodev", "rprivate"), "/d"));
        assertEquals(new MountOptions.Parsed(false, true, false, false, true),
                MountOptions.parse(List.of("ro", "rw", "bind", "rbind", "noexec", "relatime"), "/d"));
        assertEquals(new MountOptions.Parsed(false, true, false, false, false), MountOptions.parse(List.of(), "/d"));
    }

    @Test
    void anUnknownOptionIsAnErrorNotIgnored() {
        SkiffException e = assertThrows(SkiffException.class,
                () -> MountOptions.parse(List.of("ro", "nosymfollow"), "/opt/x"));
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().startsWith("mount option 'nosymfollow' on /opt/x is not one skiff's engine carries out"), e.getMessage());
        // the former marker of the user's binds is no option any more: whose a mount is travels typed
        assertThrows(SkiffException.class, () -> MountOptions.parse(List.of("x-skiff.user"), "/d"));
    }

    @Test
    void aSpecMountBecomesATypedMountWithItsOrigin() {
        LaunchRequest.Mount m = LaunchRequest.Mount.of(Mount.bind("/h", "/c", true), LaunchRequest.Origin.USER);
        assertEquals(new LaunchRequest.Mount(LaunchRequest.Kind.BIND, "/h", "/c", true, m.recursive(), m.nosuid(), m.nodev(),
                false, LaunchRequest.Origin.USER), m);
        assertTrue(m.user());
        assertEquals(LaunchRequest.Kind.PROC, LaunchRequest.Mount.of(new Mount("/proc", "proc", "proc", List.of("nosuid")),
                LaunchRequest.Origin.SYSTEM).kind());
        SkiffException e = assertThrows(SkiffException.class, () -> LaunchRequest.Mount.of(
                new Mount("/o", "overlay", "overlay", List.of()), LaunchRequest.Origin.SYSTEM));
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertEquals(ExitCode.USAGE, assertThrows(SkiffException.class, () -> LaunchRequest.Mount.of(
                Mount.bind("/h", "rel", false), LaunchRequest.Origin.USER)).exitCode());
    }
}
