package skiff.registry;

import skiff.image.Descriptor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.function.LongConsumer;

import static skiff.registry.RegistryFailures.Kind.BAD_ANSWER;
import static skiff.registry.RegistryFailures.Kind.UNREACHABLE;

/** {@code /v2/REPO/blobs/DIGEST}: resumable downloads, hashed and bounded while they stream. */
final class BlobEndpoint {
    private final RegistryCaller caller;

    BlobEndpoint(RegistryCaller caller) {
        this.caller = caller;
    }

    /** How one request for the rest of a blob ended, when the registry's answer did not end the download. */
    private sealed interface Attempt {
        /** Everything the response had was written; the file position says how much that was. */
        record Streamed() implements Attempt {}

        /** The connection broke while the body streamed; the part written so far is kept. */
        record Cut(IOException cause) implements Attempt {}

        /** The registry answered the Range request with something unusable: the part was discarded. */
        record BadRange() implements Attempt {}
    }

    /** See {@link RegistryClient#downloadBlob}. */
    void download(String repo, Descriptor d, Path partial, LongConsumer progress) throws IOException {
        String path = "/v2/" + repo + "/blobs/" + d.digest();
        // The JDK's SHA-256 (an intrinsic under C2, which bin/skiff gives pull): an openssl child fed through a pipe
        // no longer paid once pull ran with the full JIT (bench/RESULTS.md, 2026-12-01 20:46Z).
        MessageDigest md = d.digest().newMessageDigest();
        RegistryClient.RetryPolicy retry = caller.retry();
        try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long have = ch.size();
            if (have > d.size()) {
                ch.truncate(0);
                have = 0;
            }
            if (have > 0) rehash(ch, have, md);
            ch.position(have);
            progress.accept(have);
            IOException lastCut = null;
            for (int attempt = 0; have < d.size() || d.size() == 0; attempt++) {
                if (attempt >= retry.attempts()) throw RegistryFailures.fail(UNREACHABLE, "downloading blob " + d.digest()
                        + " of " + repo + " failed " + attempt + " times, last: " + lastCut.getMessage()
                        + " (run the pull again: it resumes where this one stopped)", lastCut);
                if (attempt > 0) RegistryCaller.sleep(retry.backoff(attempt - 1));
                final long from = have;
                Attempt result = caller.onEndpoints(base -> fetch(base, repo, path, d, from, ch, md, progress));
                switch (result) {
                    case Attempt.Cut c -> lastCut = c.cause();
                    case Attempt.BadRange b -> lastCut = new IOException("the registry answered the Range request badly");
                    case Attempt.Streamed s -> { }
                }
                // The file position counts exactly the bytes written and hashed, also after a cut.
                have = ch.position();
                if (have == d.size()) break;
                if (lastCut == null) lastCut = new IOException("the registry closed the connection after " + have + " of " + d.size() + " bytes");
            }
            String actual = HexFormat.of().formatHex(md.digest());
            if (!actual.equals(d.digest().hex())) {
                ch.truncate(0);
                throw RegistryFailures.fail(BAD_ANSWER, "blob " + d.digest() + " of " + repo + " from " + caller.domain()
                        + " does not match its digest (got " + d.digest().algorithm() + ":" + actual + "); it was discarded and nothing was stored (try again, or report the registry)");
            }
            // Durable before the caller renames it into the store (as containerd does), so a crash cannot
            // leave a named blob with missing data; fdatasync suffices, the size is in the data.
            ch.force(false);
        }
    }

    /** One GET of the blob from byte {@code from} on, appended to {@code ch}. */
    private Attempt fetch(java.net.URI base, String repo, String path, Descriptor d, long from, FileChannel ch,
                          MessageDigest md, LongConsumer progress) {
        Map<String, String> h = from > 0 ? Map.of("Range", "bytes=" + from + "-") : Map.of();
        try (var r = caller.request(base, "GET", path, h, RegistryCaller.pullScope(repo))) {
            int s = r.status();
            if (s == 404) throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " does not have blob "
                    + d.digest() + " of " + repo + " that the manifest lists (the image is broken there)");
            long start;
            if (s == 206 && from > 0 && rangeStart(r) == from) {
                start = from;
            } else if (s == 200) {
                start = 0;
            } else if (s == 416 || s == 206) {
                start = -1; // unusable range answer: start over
            } else {
                throw RegistryFailures.unexpected(base, RegistryError.of(r), "downloading blob " + d.digest());
            }
            if (start < 0) {
                truncate(ch, md);
                return new Attempt.BadRange();
            }
            if (start == 0 && from > 0) truncate(ch, md);
            copy(r.body(), ch, md, d, progress);
            return new Attempt.Streamed();
        } catch (IOException e) {
            return new Attempt.Cut(e);
        }
    }

    private static void truncate(FileChannel ch, MessageDigest md) throws IOException {
        ch.truncate(0);
        ch.position(0);
        md.reset();
    }

    private static void rehash(FileChannel ch, long have, MessageDigest md) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        long pos = 0;
        while (pos < have) {
            buf.clear();
            if (have - pos < buf.capacity()) buf.limit((int) (have - pos));
            int n = ch.read(buf, pos);
            if (n < 0) throw new IOException("partial download shrank while re-reading it");
            md.update(buf.array(), 0, n);
            pos += n;
        }
    }

    private static void copy(InputStream in, FileChannel ch, MessageDigest md, Descriptor d, LongConsumer progress) throws IOException {
        long have = ch.position();
        byte[] buf = new byte[1 << 20];
        int n;
        while ((n = in.read(buf)) > 0) {
            if (have + n > d.size()) {
                ch.truncate(0);
                md.reset();
                throw RegistryFailures.fail(BAD_ANSWER, "blob " + d.digest() + " is bigger than the " + d.size()
                        + " bytes its manifest says; it was discarded and nothing was stored (the registry or image is broken)");
            }
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
            while (bb.hasRemaining()) ch.write(bb);
            md.update(buf, 0, n);
            have += n;
            progress.accept(have);
        }
    }

    private static long rangeStart(Transport.Response resp) {
        // Content-Range: bytes START-END/TOTAL
        String cr = resp.header("Content-Range").orElse("");
        var m = java.util.regex.Pattern.compile("bytes (\\d+)-\\d+/(\\d+|\\*)").matcher(cr.trim());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }
}
