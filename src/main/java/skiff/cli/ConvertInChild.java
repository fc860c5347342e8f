package skiff.cli;

import skiff.image.Digest;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Env;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A conversion that 'skiff run' (or 'run --name', '--writable-tmpfs') needs, done by 'skiff convert' in a child
 * JVM. bin/skiff starts run with the C1 compiler only, for start-up; bulk work under C1 alone is ~1.5x
 * slower (no SHA-256 or CRC intrinsics, weaker inlining of the inflate/compress loops), and a JVM cannot
 * switch compilers once started. The child is bin/skiff itself, so it gets exactly the flags and AOT cache
 * of 'skiff convert'; it draws its progress on the inherited stderr, takes the conversion lock itself, and
 * reads the same config.toml.
 */
final class ConvertInChild implements Rootfs.Elsewhere {
    private Path launcher;
    private final String label;
    private final boolean quiet;
    private final boolean debug;

    private ConvertInChild(String label, boolean quiet, boolean debug) {
        this.label = label;
        this.quiet = quiet;
        this.debug = debug;
    }

    /**
     * Hands this process's conversions to a child. Nothing is looked up until a conversion is needed: run
     * start-up, on every MPI rank, pays nothing for it when the image is converted already.
     */
    static void install(String label, boolean quiet, boolean debug) {
        if (Env.get("SKIFF_AOT_TRAIN") != null || Boolean.getBoolean("skiff.aot.training")) {
            ConvertProgress.install(label, quiet);
            return;
        }
        Rootfs.convertElsewhere(new ConvertInChild(label, quiet, debug));
    }

    /** bin/skiff of this installation: $SKIFF_HOME/bin/skiff, else beside the jar's directory (target/ or lib/). */
    static Path launcher() {
        String home = Env.get("SKIFF_HOME");
        if (home != null && Files.isExecutable(Path.of(home, "bin", "skiff"))) return Path.of(home, "bin", "skiff");
        try {
            var src = ConvertInChild.class.getProtectionDomain().getCodeSource();
            if (src == null) return null;
            Path jar = Path.of(src.getLocation().toURI());
            if (!Files.isRegularFile(jar) || jar.getParent() == null || jar.getParent().getParent() == null) return null;
            Path bin = jar.getParent().getParent().resolve("bin").resolve("skiff");
            return Files.isExecutable(bin) ? bin : null;
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    @Override
    public boolean convert(Store store, Digest manifest, Rootfs.Format format, Path output) {
        if (launcher == null) launcher = launcher();
        if (launcher == null) { // not an installed layout (e.g. tests calling Main): convert here, as visibly
            ConvertProgress.install(label, quiet);
            return false;
        }
        List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
        if (debug) cmd.add("--debug");
        cmd.addAll(List.of("--storage", store.storage().toString(), "convert", "--format", format.name().toLowerCase(Locale.ROOT),
                "--label", label));
        if (quiet) cmd.add("-q");
        if (output != null) cmd.addAll(List.of("-o", output.toString()));
        cmd.add(manifest.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD) // the path it prints; run's stdout is the payload's
                .redirectError(ProcessBuilder.Redirect.INHERIT);
        int rc;
        try {
            Process p = pb.start();
            rc = waitFor(p);
        } catch (IOException e) {
            throw new SkiffException(ExitCode.HOST, "cannot start " + launcher + " to convert the image: " + e.getMessage()
                    + " (check the skiff installation)");
        }
        if (rc != 0) throw SkiffException.reported(exitCode(rc));
        return true;
    }

    private static int waitFor(Process p) {
        while (true) {
            try {
                return p.waitFor();
            } catch (InterruptedException e) {
                // Ctrl-C reaches the child too (same process group); its exit ends the wait.
            }
        }
    }

    private static ExitCode exitCode(int rc) {
        for (ExitCode c : ExitCode.values()) if (c.code == rc) return c;
        return ExitCode.STORAGE; // killed by a signal (128+n) or another failure: a conversion is storage work
    }
}
