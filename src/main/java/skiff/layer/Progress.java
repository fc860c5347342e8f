package skiff.layer;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * What a conversion reports while it runs, for a display to draw. Kept in this package so the stages that do
 * the work (layer, squashfs, rootfs) report without knowing who listens: the command line draws it.
 *
 * <p>The numbers a conversion can know: the {@link Flattener} reads the compressed layers, whose sizes are known up
 * front (the manifest), and in one pass writes as it reads, so the bytes read measure the whole conversion. When two
 * passes are needed, the first reads the headers and only after it are the entries and content bytes of the tree
 * known ({@link #planned}), which the second writes. Calls are cheap counters; {@link #read} comes from reader threads.
 */
public interface Progress {
    enum Phase { READING, WRITING, FINISHING }

    /** The conversion entered {@code phase}. */
    default void phase(Phase phase) {}

    /** {@code n} more bytes of compressed layer input were read (any thread). */
    default void read(long n) {}

    /** The conversion starts over, in two passes (see {@link Flattener}): what was counted so far is void. */
    default void restarted() {}

    /** The tree to write: {@code entries} paths in all, {@code contentBytes} bytes of file content. */
    default void planned(long entries, long contentBytes) {}

    /** One more entry handed to the sink. */
    default void entry() {}

    /** {@code n} more bytes of file content handed to the sink. */
    default void content(long n) {}

    Progress NONE = new Progress() {};

    /** {@code layer}, counting the compressed bytes read from it. */
    static LayerSource counting(LayerSource layer, Progress p) {
        if (p == NONE) return layer;
        return new LayerSource(layer.name(), layer.compression(), () -> new Counting(layer.opener().open(), p));
    }

    /** {@code sink}, reporting the phases, entries and content bytes that pass through it. */
    static TreeSink reporting(TreeSink sink, Progress p) {
        if (p == NONE) return sink;
        return new ReportingSink(sink, p);
    }

    final class Counting extends FilterInputStream {
        private final Progress p;

        Counting(InputStream in, Progress p) {
            super(in);
            this.p = p;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) p.read(1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) p.read(n);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = in.skip(n);
            if (s > 0) p.read(s);
            return s;
        }
    }

    final class ReportingSink implements TreeSink {
        private final TreeSink sink;
        private final Progress p;
        private boolean writing;

        ReportingSink(TreeSink sink, Progress p) {
            this.sink = sink;
            this.p = p;
        }

        private void entry() {
            p.entry();
        }

        @Override
        public void directory(String path, Metadata meta) throws IOException {
            entry();
            sink.directory(path, meta);
        }

        @Override
        public void file(String path, Metadata meta, long size, InputStream content) throws IOException {
            entry();
            sink.file(path, meta, size, new FilterInputStream(content) {
                @Override
                public int read() throws IOException {
                    int b = in.read();
                    if (b >= 0) p.content(1);
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = in.read(b, off, len);
                    if (n > 0) p.content(n);
                    return n;
                }
            });
        }

        @Override
        public void symlink(String path, Metadata meta, String target) throws IOException {
            entry();
            sink.symlink(path, meta, target);
        }

        @Override
        public void special(String path, Metadata meta, SpecialType type, int major, int minor) throws IOException {
            entry();
            sink.special(path, meta, type, major, minor);
        }

        @Override
        public void hardlink(String path, String target) throws IOException {
            entry();
            sink.hardlink(path, target);
        }

        @Override
        public void restart() throws IOException {
            sink.restart();
            p.restarted();
        }

        /** Only two passes plan: a one-pass flattening stays in {@link Phase#READING}, which measures all its work. */
        @Override
        public void planned(long entries, long contentBytes) {
            if (!writing) {
                writing = true;
                p.phase(Phase.WRITING);
            }
            p.planned(entries, contentBytes);
            sink.planned(entries, contentBytes);
        }

        @Override
        public void finish() throws IOException {
            p.phase(Phase.FINISHING);
            sink.finish();
        }
    }
}
