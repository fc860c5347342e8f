package skiff.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.engine.Engine;
import skiff.engine.Identity;
import skiff.engine.RuntimeDir;
import skiff.util.ExitCode;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The AOT training run must really go through skiff run up to its execve, or the cache misses that path. */
class AotTrainingTest {
    /** ci/aot.sh hides the training's output: an exception there would silently leave half a cache. */
    @Test
    void bothTrainingRunsComplete(@TempDir Path dir) throws Exception {
        PrintStream out = System.out, err = System.err;
        try {
            System.setOut(new PrintStream(java.io.OutputStream.nullOutputStream()));
            System.setErr(new PrintStream(java.io.OutputStream.nullOutputStream()));
            AotTraining.main(new String[0]);
            Path archive = dir.resolve("image.tar");
            AotTraining.main(new String[] {"--write-archive", archive.toString()});
            String st = dir.resolve("storage").toString();
            assertEquals(0, Main.run("--storage", st, "load", "-q", "-i", archive.toString()));
            assertEquals(0, Main.run("--storage", st, "convert", "--format", "dir", "training:1"));
            AotTraining.main(new String[] {"--run-only", st});
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** The rehearsal goes through the whole preparation (a missing image fails it) and leaves nothing behind. */
    @Test
    void trainingRunReachesTheExecveAndLeavesNoRunDirectory(@TempDir Path dir) throws Exception {
        Path archive = dir.resolve("image.tar");
        AotTraining.main(new String[] {"--write-archive", archive.toString()});
        String st = dir.resolve("storage").toString();
        assertEquals(0, Main.run("--storage", st, "load", "-q", "-i", archive.toString()));
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status, missing;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            status = AotTraining.rehearse("--storage", st, "run", "--rootfs-format", "dir", "training:1", "/bin/true");
            missing = AotTraining.rehearse("--storage", st, "run", "--rootfs-format", "dir", "nosuch:1", "/bin/true");
        } finally {
            System.setErr(saved);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, text);
        assertEquals(ExitCode.IMAGE.code, missing, text);
        assertTrue(text.contains("nosuch"), text);
        var env = System.getenv();
        Path runDir = RuntimeDir.resolve(env, Identity.current(env).uid()).resolve("run")
                .resolve(Long.toString(ProcessHandle.current().pid()));
        assertFalse(Files.exists(runDir), "run directory left behind: " + runDir);
    }

    /** A rehearsal aimed at a path that exists would really exec it: refused. */
    @Test
    void rehearsalRefusesAnExistingTarget(@TempDir Path dir) throws Exception {
        Path archive = dir.resolve("image.tar");
        AotTraining.main(new String[] {"--write-archive", archive.toString()});
        String st = dir.resolve("storage").toString();
        assertEquals(0, Main.run("--storage", st, "load", "-q", "-i", archive.toString()));
        RunCommand cmd = RunFastPath.parse(new String[] {"--storage", st, "run", "--rootfs-format", "dir", "training:1", "/bin/true"});
        Engine.Launch launch = cmd.prepare().launch();
        assertTrue(launch.executable().getFileName().toString().contains("unshare"), launch.toString());
        assertThrows(IllegalArgumentException.class, () -> Engine.rehearse(launch, Path.of("/bin/true")));
        assertFalse(Files.exists(Path.of(launch.argv().getLast()).getParent()), "run directory left behind");
    }
}
