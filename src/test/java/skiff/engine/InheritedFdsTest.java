package skiff.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which descriptors count as passed on by skiff's caller. */
class InheritedFdsTest {
    @TempDir
    Path tmp;

    /** A fake /proc/PID: fd/N links and fdinfo/N with the octal open flags. */
    Path fd(Path proc, int n, String target, String flags) throws Exception {
        Files.createDirectories(proc.resolve("fd"));
        Files.createDirectories(proc.resolve("fdinfo"));
        Files.createSymbolicLink(proc.resolve("fd").resolve(Integer.toString(n)), Path.of(target));
        Files.writeString(proc.resolve("fdinfo").resolve(Integer.toString(n)), "pos:\t0\nflags:\t" + flags + "\nmnt_id:\t1\n");
        return proc;
    }

    @Test
    void socketsPipesAndUserFilesAreKeptTheJvmsOwnAndCloseOnExecOnesAreNot() throws Exception {
        Path proc = tmp.resolve("proc");
        Path jdk = Files.createDirectories(tmp.resolve("jdk"));
        Path app = Files.createDirectories(tmp.resolve("skiff/target"));
        fd(proc, 0, "/dev/null", "0100000");
        fd(proc, 1, "pipe:[1]", "01");
        fd(proc, 3, jdk.resolve("lib/modules").toString(), "0100000");
        fd(proc, 4, app.resolve("skiff.jar").toString(), "0100000");
        fd(proc, 5, app.resolve("lib/picocli.jar").toString(), "0100000");
        fd(proc, 11, "socket:[183280]", "02");
        fd(proc, 12, "/home/u/out.log", "0100001");
        fd(proc, 13, "/home/u/secret", "02100000");
        fd(proc, 20, "anon_inode:[eventpoll]", "02000002");
        fd(proc, 21, "pipe:[9]", "00");
        assertEquals(List.of(11, 12, 21), InheritedFds.scan(proc.resolve("fd"), List.of(jdk, app)));
    }

    @Test
    void theEnvironmentListRoundTripsAndRejectsJunk() {
        assertArrayEquals(new int[] {11, 12}, InheritedFds.parse("11,12"));
        assertArrayEquals(new int[0], InheritedFds.parse(""));
        assertArrayEquals(new int[0], InheritedFds.parse("2,11"));
        assertArrayEquals(new int[0], InheritedFds.parse("11,x"));
        assertArrayEquals(new int[0], InheritedFds.parse(null));
    }
}
