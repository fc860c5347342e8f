package skiff.squashfs;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.image.MediaTypes;
import skiff.layer.Flattener;
import skiff.layer.LayerSource;
import skiff.layer.Limits;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Bench-only entry point (bench/convert.sh): converts the first image of an OCI layout into SquashFS with
 * the layer flattener driving {@link SquashfsWriter}, as `skiff convert` will. Prints seconds and the
 * process's own disk writes (write_bytes of /proc/self/io).
 * Usage: ConvertBench LAYOUT OUT.sqfs gzip|zstd|none LEVEL THREADS
 */
public final class ConvertBench {
    public static void main(String[] a) throws Exception {
        Path layout = Path.of(a[0]);
        Path out = Path.of(a[1]);
        SquashfsWriter.Compression c = SquashfsWriter.Compression.valueOf(a[2].toUpperCase());
        int level = Integer.parseInt(a[3]);
        int threads = Integer.parseInt(a[4]);
        long t0 = System.nanoTime();
        JsonNode index = Json.MAPPER.readTree(layout.resolve("index.json").toFile());
        JsonNode manifest = Json.MAPPER.readTree(blob(layout, index.get("manifests").get(0).get("digest").asText()).toFile());
        List<LayerSource> layers = new ArrayList<>();
        for (JsonNode l : manifest.get("layers"))
            layers.add(LayerSource.of(blob(layout, l.get("digest").asText()), MediaTypes.layerCompression(l.get("mediaType").asText())));
        try (SquashfsWriter w = new SquashfsWriter(out, new SquashfsWriter.Options(c, level, threads, System.err::println))) {
            Flattener.flatten(layers, w, Limits.defaults(), System.err::println, Runtime.getRuntime().availableProcessors());
        }
        double s = (System.nanoTime() - t0) / 1e9;
        List<String> io = Files.readAllLines(Path.of("/proc/self/io"));
        // Blocks of duplicate files are written, then truncated away: cancelled_write_bytes counts those.
        System.out.printf("seconds=%.2f size=%d %s %s%n", s, Files.size(out),
                io.stream().filter(x -> x.startsWith("write_bytes:")).findFirst().orElse(""),
                io.stream().filter(x -> x.startsWith("cancelled_write_bytes:")).findFirst().orElse(""));
    }

    private static Path blob(Path layout, String digest) {
        String[] p = digest.split(":");
        return layout.resolve("blobs").resolve(p[0]).resolve(p[1]);
    }
}
