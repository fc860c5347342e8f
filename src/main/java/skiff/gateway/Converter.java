package skiff.gateway;

import skiff.image.Digest;
import skiff.rootfs.ConvertSettings;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Where an image's SquashFS is made: in the gateway's worker thread, or in a Slurm job the worker follows. */
sealed interface Converter permits Converter.Local, Converter.Slurm {
    /** Writes the SquashFS of {@code manifest} (in {@code store}) to {@code output}, atomically. */
    void convert(Store store, Digest manifest, Path output, Consumer<String> log) throws IOException, InterruptedException;

    /** skiff's SquashFS writer in this JVM. */
    record Local() implements Converter {
        @Override
        public void convert(Store store, Digest manifest, Path output, Consumer<String> log) {
            Rootfs.convertTo(store, manifest, Rootfs.Format.SQUASHFS, ConvertSettings.defaults().withFormat(Rootfs.Format.SQUASHFS),
                    w -> log.accept("warning: " + w), output);
        }
    }

    /**
     * {@code workers = "slurm"}: the conversion is a batch job ({@code sbatch --wait}) running
     * {@code skiff --storage STORE convert -o OUTPUT DIGEST} on a compute node, so a site whose conversions outgrow
     * one machine spreads them over its cluster. The gateway's store (its {@code work} directory) and the shared
     * directory must be visible to the nodes. The worker thread waits for the job and reads its exit status.
     *
     * @param skiff   bin/skiff as the nodes see it
     * @param options more sbatch options (partition, time limit, account)
     * @param logs    where the jobs' output goes
     */
    record Slurm(Path skiff, List<String> options, Path logs) implements Converter {
        @Override
        public void convert(Store store, Digest manifest, Path output, Consumer<String> log) throws IOException, InterruptedException {
            Files.createDirectories(logs);
            List<String> argv = new ArrayList<>(List.of("sbatch", "--parsable", "--wait", "--job-name=skiff-gateway-convert",
                    "--output=" + logs.resolve("convert-%j.out")));
            argv.addAll(options);
            argv.add("--wrap=exec " + quote(skiff.toString()) + " --storage " + quote(store.storage().toString())
                    + " convert -q --format squashfs -o " + quote(output.toString()) + " " + manifest);
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String job = null;
            StringBuilder rest = new StringBuilder();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (job == null && line.matches("\\d+(;.*)?")) {
                        job = line.contains(";") ? line.substring(0, line.indexOf(';')) : line;
                        log.accept("submitted Slurm job " + job);
                    } else {
                        rest.append(line).append('\n');
                    }
                }
            } catch (IOException e) {
                p.destroy();
                throw e;
            } finally {
                if (Thread.currentThread().isInterrupted() && job != null) scancel(job);
            }
            int rc = p.waitFor();
            if (job == null)
                throw new SkiffException(ExitCode.HOST, "sbatch did not submit the conversion: " + GatewayService.oneLine(rest.toString().strip()));
            if (rc != 0) {
                String out = "";
                Path f = logs.resolve("convert-" + job + ".out");
                if (Files.isRegularFile(f)) out = Files.readString(f).strip();
                String last = out.isEmpty() ? rest.toString().strip() : out.substring(out.lastIndexOf('\n') + 1);
                throw new SkiffException(ExitCode.STORAGE, "the conversion job " + job + " failed (sbatch exit " + rc + "): " + last);
            }
            log.accept("Slurm job " + job + " completed");
        }

        private static void scancel(String job) {
            try {
                new ProcessBuilder("scancel", job).start().waitFor();
            } catch (IOException | InterruptedException ignored) {
                // the job ends by itself; its output is a .tmp- file GC removes
            }
        }

        private static String quote(String s) {
            return "'" + s.replace("'", "'\\''") + "'";
        }
    }
}
