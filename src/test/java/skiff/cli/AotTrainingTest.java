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
            System.clearProperty(Engine.AOT_TRAINING);
        }
    }

    @Test
    void trainingRunReachesTheExecveAndLeavesNoRunDirectory(@TempDir Path dir) throws Exception {
        Path archive = dir.resolve("image.tar");
        AotTraining.main(new String[] {"--write-archive", archive.toString()});
        String st = dir.resolve("storage").toString();
        assertEquals(0, Main.run("--storage", st, "load", "-q", "-i", archive.toString()));
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setProperty(Engine.AOT_TRAINING, "true");
        int status;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            status = Main.run("--storage", st, "run", "--rootfs-format", "dir", "training:1", "/bin/true");
        } finally {
            System.setErr(saved);
            System.clearProperty(Engine.AOT_TRAINING);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(ExitCode.LAUNCH.code, status, text);
        assertTrue(text.contains("execve /nonexistent/skiff-aot-training"), text);
        var env = System.getenv();
        Path runDir = RuntimeDir.resolve(env, Identity.current(env).uid()).resolve("run")
                .resolve(Long.toString(ProcessHandle.current().pid()));
        assertFalse(Files.exists(runDir), "run directory left behind: " + runDir);
    }
}
