package skiff.engine;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A run's scratch directory on the host, {@code RUNTIME/run/PID}: the generated identity files the spec binds, and
 * the launch plan. Created while the launch request is built (its files are in the spec), removed by stage 2 before
 * the payload starts, or by the engine when the launch fails.
 */
public final class RunDir {
    private RunDir() {}

    /** A new, empty run directory for process {@code pid} (one a dead run with the same pid left is removed). */
    public static Path create(Path runtime, long pid) {
        try {
            Path runs = Files.createDirectories(runtime.resolve("run"));
            Path d = runs.resolve(Long.toString(pid));
            if (Files.exists(d, LinkOption.NOFOLLOW_LINKS)) Stage2.removeTree(d);
            return Files.createDirectory(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new SkiffException(ExitCode.LAUNCH, "cannot create a run directory under " + runtime + ": " + e.getMessage());
        }
    }

    /** Removes {@code runDir}, best effort: the next run with this pid removes what is left. */
    public static void remove(Path runDir) {
        if (runDir == null) return;
        try {
            Stage2.removeTree(runDir);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
