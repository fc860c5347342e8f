package skiff.gateway.client;

import skiff.image.Digest;
import skiff.image.Platform;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The gateway's published images as a compute node sees them: SHARED/images/index.tsv, one line per name,
 * {@code NAME<TAB>PLATFORM<TAB>DIGEST}, next to {@code ALGO-HEX.sqfs} and {@code ALGO-HEX.config.json}. Read
 * line by line with no JSON parser and no request to the gateway: this is on 'skiff run''s path, on every rank.
 */
public final class SharedIndex {
    private SharedIndex() {}

    public static final String HEADER = "# skiff gateway index 1";

    /** A published image: its manifest digest, its SquashFS file and its OCI config file. */
    public record Entry(String name, Platform platform, Digest digest, Path sqfs, Path config) {}

    /** The image NAME (normalised reference) has for {@code platform} in {@code shared}'s index, if any. */
    public static Optional<Entry> find(Path shared, String name, Platform platform) throws IOException {
        Path images = shared.resolve("images");
        try (BufferedReader r = Files.newBufferedReader(images.resolve("index.tsv"), StandardCharsets.UTF_8)) {
            String first = r.readLine();
            if (first == null || !first.equals(HEADER))
                throw new IOException(images.resolve("index.tsv") + " is not a skiff gateway index (first line: " + first + ")");
            String line;
            while ((line = r.readLine()) != null) {
                int a = line.indexOf('\t');
                if (a < 0 || !line.regionMatches(0, name, 0, name.length()) || a != name.length()) continue;
                int b = line.indexOf('\t', a + 1);
                if (b < 0) continue;
                Platform p = Platform.parse(line.substring(a + 1, b));
                if (!platform.matches(p)) continue;
                Digest d = Digest.parse(line.substring(b + 1).strip());
                String base = d.algorithm() + "-" + d.hex();
                return Optional.of(new Entry(name, p, d, images.resolve(base + ".sqfs"), images.resolve(base + ".config.json")));
            }
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }
}
