package skiff.engine;

import org.junit.jupiter.api.Test;
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
                MountOptions.parse(List.of("bind", "ro", "nosuid", "nodev", "rprivate", "x-skiff.user"), "x-skiff.user", "/d"));
        assertEquals(new MountOptions.Parsed(false, true, false, false, true),
                MountOptions.parse(List.of("ro", "rw", "bind", "rbind", "noexec", "relatime"), null, "/d"));
        assertEquals(new MountOptions.Parsed(false, true, false, false, false), MountOptions.parse(List.of(), null, "/d"));
    }

    @Test
    void anUnknownOptionIsAnErrorNotIgnored() {
        SkiffException e = assertThrows(SkiffException.class,
                () -> MountOptions.parse(List.of("ro", "nosymfollow"), null, "/opt/x"));
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().startsWith("mount option 'nosymfollow' on /opt/x is not one skiff's engine carries out"), e.getMessage());
        // skiff's own marker is an error where it is not declared as such
        assertThrows(SkiffException.class, () -> MountOptions.parse(List.of("x-skiff.user"), null, "/d"));
    }
}
