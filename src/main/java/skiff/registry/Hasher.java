package skiff.registry;

import skiff.image.Digest;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Computes a blob's digest while it streams. Big sha256 blobs are hashed by an {@code openssl dgst}
 * child fed through a pipe when openssl is installed: bin/skiff runs the JVM with C1 only (fast
 * start-up for {@code skiff run}), and C1 has no SHA-256 intrinsic, so {@link MessageDigest} manages
 * some 55 MB/s there against 1.4 GB/s for openssl (measured on the CI machine; see bench/RESULTS.md).
 * Everything else, and hosts without openssl, use {@link MessageDigest}.
 */
interface Hasher extends AutoCloseable {
    long OPENSSL_MIN_SIZE = 4L << 20;

    void update(byte[] b, int off, int len) throws IOException;

    /** The hex digest of everything since creation or the last reset. */
    String hex() throws IOException;

    void reset() throws IOException;

    @Override
    void close();

    static Hasher of(Digest d, long size) {
        if (d.algorithm().equals("sha256") && size >= OPENSSL_MIN_SIZE && Openssl.PATH != null && !"0".equals(System.getenv("SKIFF_OPENSSL"))) {
            try {
                return new Openssl();
            } catch (IOException e) {
                // fall back to the JDK
            }
        }
        return new Jdk(d.newMessageDigest());
    }

    final class Jdk implements Hasher {
        private final MessageDigest md;

        Jdk(MessageDigest md) {
            this.md = md;
        }

        @Override
        public void update(byte[] b, int off, int len) {
            md.update(b, off, len);
        }

        @Override
        public String hex() {
            return HexFormat.of().formatHex(md.digest());
        }

        @Override
        public void reset() {
            md.reset();
        }

        @Override
        public void close() {
            // nothing held
        }
    }

    final class Openssl implements Hasher {
        static final String PATH = find();
        private Process p;
        private OutputStream in;

        Openssl() throws IOException {
            start();
        }

        private static String find() {
            String path = System.getenv("PATH");
            if (path == null) path = "/usr/bin:/bin";
            for (String dir : path.split(":")) {
                if (dir.isEmpty()) continue;
                Path f = Path.of(dir, "openssl");
                if (Files.isExecutable(f)) return f.toString();
            }
            return null;
        }

        private void start() throws IOException {
            p = new ProcessBuilder(PATH, "dgst", "-sha256", "-r")
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            in = p.getOutputStream();
        }

        @Override
        public void update(byte[] b, int off, int len) throws IOException {
            in.write(b, off, len);
        }

        @Override
        public String hex() throws IOException {
            in.close();
            String out = new String(p.getInputStream().readNBytes(4096), StandardCharsets.US_ASCII).trim();
            try {
                if (p.waitFor() != 0) throw new IOException("openssl dgst failed (exit " + p.exitValue() + ")");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            int sp = out.indexOf(' ');
            String hex = sp < 0 ? out : out.substring(0, sp);
            if (!hex.matches("[0-9a-f]{64}")) throw new IOException("openssl dgst printed '" + out + "'");
            return hex;
        }

        @Override
        public void reset() throws IOException {
            close();
            start();
        }

        @Override
        public void close() {
            if (p != null && p.isAlive()) p.destroyForcibly();
            try {
                in.close();
            } catch (IOException ignored) {
                // the child is gone
            }
        }
    }
}
