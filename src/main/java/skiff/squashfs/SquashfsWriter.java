package skiff.squashfs;

import skiff.layer.TreeSink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.function.Consumer;

// PLACEHOLDER API (issue 3 implements it; the flattener codes against these signatures).
/** Writes a SquashFS 4.0 image from a flattened tree, streaming file data as it arrives. */
public final class SquashfsWriter implements TreeSink, AutoCloseable {

    public enum Compression { GZIP, ZSTD, NONE }

    /** level null = the compressor's default; threads = data-block compression workers; warnings get one line each. */
    public record Options(Compression compression, Integer level, int threads, Consumer<String> warnings) {
        public static Options defaults() {
            return new Options(Compression.ZSTD, null, Runtime.getRuntime().availableProcessors(), s -> {});
        }
    }

    public SquashfsWriter(Path output, Options options) throws IOException {
        throw new UnsupportedOperationException("SquashFS writer not implemented yet");
    }

    @Override public void directory(String path, Metadata meta) {}
    @Override public void file(String path, Metadata meta, long size, InputStream content) {}
    @Override public void symlink(String path, Metadata meta, String target) {}
    @Override public void special(String path, Metadata meta, SpecialType type, int major, int minor) {}
    @Override public void hardlink(String path, String target) {}
    @Override public void finish() {}
    @Override public void close() {}
}
