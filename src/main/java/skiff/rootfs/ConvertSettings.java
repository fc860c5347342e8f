package skiff.rootfs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import skiff.layer.Limits;
import skiff.squashfs.SquashfsWriter;
import skiff.util.Dirs;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * How images are converted: the {@code [convert]} table of the user's {@code config.toml}
 * ({@code $XDG_CONFIG_HOME/skiff/config.toml}, else {@code ~/.config/skiff/config.toml}); other tables
 * belong to other parts of skiff and are ignored here.
 *
 * <pre>
 * [convert]
 * format = "squashfs"      # "squashfs" | "dir" | "none": what 'skiff pull' converts to right away
 * compression = "zstd"     # SquashFS compression: "gzip" | "zstd" | "none"
 * level = 3                # gzip 1-9, zstd 1-22; default: the compressor's own
 * threads = 8              # SquashFS compression workers and layers read at once; default: all CPUs
 * max-entries = 10000000   # limits against hostile layers (see README)
 * max-bytes = 274877906944
 * max-ratio = 1000
 * </pre>
 *
 * @param format null means "none": 'skiff pull' leaves conversion to the first 'skiff run'
 */
public record ConvertSettings(Rootfs.Format format, SquashfsWriter.Compression compression, Integer level, int threads,
                              Limits limits) {

    private static final Set<String> KEYS = Set.of("format", "compression", "level", "threads", "max-entries", "max-bytes", "max-ratio");

    public ConvertSettings {
        checkLevel(compression, level, "level");
        if (threads < 1) throw new SkiffException(ExitCode.USAGE, "threads must be at least 1, got " + threads);
    }

    public static ConvertSettings defaults() {
        return new ConvertSettings(Rootfs.Format.SQUASHFS, SquashfsWriter.Compression.ZSTD, null,
                Runtime.getRuntime().availableProcessors(), Limits.defaults());
    }

    public ConvertSettings withFormat(Rootfs.Format f) {
        return new ConvertSettings(f, compression, level, threads, limits);
    }

    /** A new compression resets the level unless one is given (a zstd level means nothing to gzip). */
    public ConvertSettings withCompression(SquashfsWriter.Compression c, Integer lvl) {
        return new ConvertSettings(format, c, lvl, threads, limits);
    }

    public ConvertSettings withLimits(Limits l) {
        return new ConvertSettings(format, compression, level, threads, l);
    }

    public SquashfsWriter.Options squashfsOptions(java.util.function.Consumer<String> warnings) {
        return new SquashfsWriter.Options(compression, level, threads, warnings);
    }

    public static Path file(Map<String, String> env) {
        return Dirs.userConfig(env).resolve("config.toml");
    }

    /** The settings from the user's config file, defaults where it says nothing (or does not exist). */
    public static ConvertSettings load(Map<String, String> env) {
        return load(file(env));
    }

    public static ConvertSettings load(Path file) {
        ConvertSettings s = defaults();
        if (!Files.isRegularFile(file)) return s;
        JsonNode root;
        try {
            root = new TomlMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new SkiffException(ExitCode.POLICY, "cannot read " + file + ": " + firstLine(e.getMessage()) + " (fix the TOML syntax)", e);
        }
        JsonNode t = root == null ? null : root.get("convert");
        if (t == null || t.isNull()) return s;
        if (!t.isObject()) throw bad(file, "convert", "must be a table");
        for (var it = t.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) throw bad(file, k, "is not a known key (known: " + String.join(", ", KEYS.stream().sorted().toList()) + ")");
        }
        Rootfs.Format format = s.format();
        if (t.has("format")) {
            String f = text(file, t, "format");
            format = f.equals("none") ? null : parseFormat(f, () -> bad(file, "format", "must be \"squashfs\", \"dir\" or \"none\", not \"" + f + "\""));
        }
        SquashfsWriter.Compression c = s.compression();
        if (t.has("compression")) {
            String v = text(file, t, "compression");
            c = parseCompression(v, () -> bad(file, "compression", "must be \"gzip\", \"zstd\" or \"none\", not \"" + v + "\""));
        }
        Integer level = t.has("level") ? (int) number(file, t, "level", 1, 22) : null;
        int threads = t.has("threads") ? (int) number(file, t, "threads", 1, 1024) : s.threads();
        Limits l = s.limits();
        if (t.has("max-entries")) l = l.withMaxEntries(number(file, t, "max-entries", 1, Long.MAX_VALUE));
        if (t.has("max-bytes")) l = l.withMaxUncompressedBytes(number(file, t, "max-bytes", 1, Long.MAX_VALUE));
        if (t.has("max-ratio")) l = l.withMaxRatio(number(file, t, "max-ratio", 1, Long.MAX_VALUE));
        try {
            return new ConvertSettings(format, c, level, threads, l);
        } catch (SkiffException e) {
            throw bad(file, "level", e.getMessage());
        }
    }

    public static Rootfs.Format parseFormat(String s, java.util.function.Supplier<SkiffException> err) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "squashfs", "sqfs" -> Rootfs.Format.SQUASHFS;
            case "dir", "directory" -> Rootfs.Format.DIR;
            default -> throw err.get();
        };
    }

    public static SquashfsWriter.Compression parseCompression(String s, java.util.function.Supplier<SkiffException> err) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "gzip" -> SquashfsWriter.Compression.GZIP;
            case "zstd" -> SquashfsWriter.Compression.ZSTD;
            case "none" -> SquashfsWriter.Compression.NONE;
            default -> throw err.get();
        };
    }

    static void checkLevel(SquashfsWriter.Compression c, Integer level, String what) {
        if (level == null) return;
        int max = switch (c) {
            case GZIP -> 9;
            case ZSTD -> 22;
            case NONE -> throw new SkiffException(ExitCode.USAGE, what + " " + level + " makes no sense without compression");
        };
        if (level < 1 || level > max)
            throw new SkiffException(ExitCode.USAGE, what + " " + level + " is out of range for " + c.name().toLowerCase(Locale.ROOT) + " (1-" + max + ")");
    }

    private static String text(Path file, JsonNode t, String k) {
        JsonNode v = t.get(k);
        if (!v.isTextual()) throw bad(file, k, "must be a string");
        return v.asText();
    }

    private static long number(Path file, JsonNode t, String k, long min, long max) {
        JsonNode v = t.get(k);
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max)
            throw bad(file, k, "must be a whole number from " + min + " to " + max);
        return v.asLong();
    }

    private static SkiffException bad(Path file, String key, String why) {
        return new SkiffException(ExitCode.POLICY, "invalid configuration in " + file + ": [convert] " + key + " " + why);
    }

    private static String firstLine(String s) {
        if (s == null) return "syntax error";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
