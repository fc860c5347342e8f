package skiff.squashfs;

import skiff.layer.TreeSink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Test trees and helpers shared by the SquashFS tests. */
final class Trees {
    private Trees() {}

    static final long MTIME = 1_700_000_000L;

    /** Files of every shape the writer treats specially; devices/FIFOs/owners only when root. */
    static Path mixed(Path dir, boolean root) throws IOException {
        Path t = Files.createDirectories(dir);
        Random rnd = new Random(42);
        Files.createDirectories(t.resolve("a/b/c"));
        Files.writeString(t.resolve("a/hello"), "hello\n");
        Files.writeString(t.resolve("a/hello-dup"), "hello\n");
        Files.createFile(t.resolve("empty"));
        Files.createDirectories(t.resolve("emptydir"));
        byte[] rand = new byte[300_000];
        rnd.nextBytes(rand);
        Files.write(t.resolve("random"), rand);
        Files.write(t.resolve("random-dup"), rand);
        byte[] exact = new byte[2 * Format.BLOCK_SIZE];
        rnd.nextBytes(exact);
        Files.write(t.resolve("exact-two-blocks"), exact);
        Files.write(t.resolve("one-block"), java.util.Arrays.copyOf(exact, Format.BLOCK_SIZE));
        Files.write(t.resolve("text"), "all work and no play\n".repeat(20_000).getBytes(StandardCharsets.UTF_8));
        byte[] zeros = new byte[3 * Format.BLOCK_SIZE + 17];
        zeros[zeros.length - 1] = 1;
        Files.write(t.resolve("mostly-zeros"), zeros);
        Files.createLink(t.resolve("a/b/hardlink"), t.resolve("random"));
        Files.createLink(t.resolve("hardlink2"), t.resolve("random"));
        Files.createSymbolicLink(t.resolve("a/b/link"), Path.of("../hello"));
        Files.createSymbolicLink(t.resolve("longlink"), Path.of("y".repeat(3000)));
        for (int i = 0; i < 300; i++) Files.writeString(t.resolve("a/b/c/f" + i), Integer.toString(i * 7919));
        Files.createDirectories(t.resolve("ünïcødé/日本"));
        Files.writeString(t.resolve("ünïcødé/日本/名前"), "x");
        Path deep = t;
        for (int i = 0; i < 60; i++) deep = Files.createDirectories(deep.resolve("d" + i));
        Files.writeString(deep.resolve("bottom"), "deep");
        xattr(t.resolve("a/hello"), "user.comment", "hi".getBytes());
        xattr(t.resolve("a"), "user.dir", new byte[] {0, 1, 2});
        xattr(t.resolve("random"), "user.big", new byte[1000]);
        xattr(t.resolve("text"), "user.comment", "hi".getBytes());
        Files.setAttribute(t.resolve("a/hello"), "unix:mode", 04755);
        Files.setAttribute(t.resolve("a/b"), "unix:mode", 01777);
        Files.setAttribute(t.resolve("text"), "unix:mode", 0600);
        if (root) {
            run("mknod", t.resolve("null").toString(), "c", "1", "3");
            run("mknod", t.resolve("bigminor").toString(), "b", "259", "300000");
            run("mkfifo", t.resolve("fifo").toString());
            Files.setAttribute(t.resolve("text"), "unix:uid", 1234);
            Files.setAttribute(t.resolve("text"), "unix:gid", 5678);
            Files.setAttribute(t.resolve("a/b/link"), "unix:uid", 42, LinkOption.NOFOLLOW_LINKS);
        }
        setMtimes(t);
        return t;
    }

    /** Fixed, distinct mtimes so that mtime comparisons mean something. */
    static void setMtimes(Path t) throws IOException {
        try (Stream<Path> s = Files.walk(t)) {
            int i = 0;
            for (Path p : s.sorted().toList()) {
                // Setting times opens the file: a FIFO would block. Regular files and directories only.
                if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) continue;
                Files.setLastModifiedTime(p, FileTime.fromMillis((MTIME + i++) * 1000));
            }
        }
    }

    static void xattr(Path p, String name, byte[] value) throws IOException {
        Files.getFileAttributeView(p, UserDefinedFileAttributeView.class).write(name.substring(5), ByteBuffer.wrap(value));
    }

    /** user.* xattrs of regular files and directories, by path. */
    static Map<String, String> xattrs(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                if (!(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))) continue;
                UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
                StringBuilder sb = new StringBuilder();
                try {
                    for (String n : new java.util.TreeSet<>(v.list())) {
                        ByteBuffer b = ByteBuffer.allocate(v.size(n));
                        v.read(n, b);
                        sb.append(n).append('=').append(java.util.HexFormat.of().formatHex(b.array())).append(';');
                    }
                } catch (IOException e) {
                    // a reader without xattr support answers ENOTSUP: counts as none
                }
                if (!sb.isEmpty()) out.put(root.relativize(p).toString(), sb.toString());
            }
        }
        return out;
    }

    static String run(String... argv) throws IOException {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) throw new IOException(String.join(" ", argv) + " failed: " + out);
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    static Path write(Path tree, Path img, SquashfsWriter.Compression c, Integer level) throws IOException {
        return write(tree, img, c, level, 2);
    }

    static Path write(Path tree, Path img, SquashfsWriter.Compression c, Integer level, int threads) throws IOException {
        try (SquashfsWriter w = new SquashfsWriter(img, new SquashfsWriter.Options(c, level, threads, s -> {}))) {
            TreeDriver.drive(tree, w);
        }
        return img;
    }

    /** n bytes of zeros with a marker at both ends, generated (no memory or disk held). */
    static InputStream sparseStream(long n, byte[] head, byte[] tail) {
        return new InputStream() {
            long pos;

            @Override public int read() {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xFF;
            }

            @Override public int read(byte[] b, int off, int len) {
                if (pos >= n) return -1;
                int k = (int) Math.min(len, n - pos);
                java.util.Arrays.fill(b, off, off + k, (byte) 0);
                for (int i = 0; i < k; i++) {
                    long p = pos + i;
                    if (p < head.length) b[off + i] = head[(int) p];
                    else if (p >= n - tail.length) b[off + i] = tail[(int) (p - (n - tail.length))];
                    else if (p >= head.length) { // skip the zero middle quickly
                        long skipTo = Math.min(pos + k, n - tail.length);
                        i = (int) (skipTo - pos) - 1;
                    }
                }
                pos += k;
                return k;
            }
        };
    }

    static TreeSink.Metadata meta(int mode) {
        return new TreeSink.Metadata(mode, 0, 0, MTIME, Map.of());
    }
}
