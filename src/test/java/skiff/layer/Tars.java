package skiff.layer;

import com.github.luben.zstd.ZstdOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import skiff.image.MediaTypes;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPOutputStream;

/**
 * Writes layer tarballs entry by entry with commons-compress, for the cases tools refuse to make
 * (hostile names, links across layers, whiteouts placed by hand).
 */
final class Tars {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final TarArchiveOutputStream tar;

    Tars() {
        tar = new TarArchiveOutputStream(buf, StandardCharsets.UTF_8.name());
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    }

    /** GNU ././@LongLink records for long names instead of PAX. */
    Tars gnuLongNames() {
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_GNU);
        return this;
    }

    private Tars put(TarArchiveEntry e, byte[] data) {
        try {
            e.setModTime(1_700_000_000_000L);
            tar.putArchiveEntry(e);
            if (data != null) tar.write(data);
            tar.closeArchiveEntry();
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return this;
    }

    Tars dir(String name, int mode) {
        TarArchiveEntry e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, true);
        e.setMode(mode);
        return put(e, null);
    }

    Tars file(String name, String content) {
        return file(name, content, 0644, 0, 0);
    }

    Tars file(String name, String content, int mode, int uid, int gid) {
        byte[] d = content.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(name, true);
        e.setMode(mode);
        e.setSize(d.length);
        e.setUserId(uid);
        e.setGroupId(gid);
        return put(e, d);
    }

    Tars fileWithPax(String name, String content, String paxKey, String paxValue) {
        byte[] d = content.getBytes(StandardCharsets.UTF_8);
        TarArchiveEntry e = new TarArchiveEntry(name, true);
        e.setMode(0644);
        e.setSize(d.length);
        e.addPaxHeader(paxKey, paxValue);
        return put(e, d);
    }

    /** A PAX global header ('g'), as 'git archive' writes one first: metadata, never a file. */
    Tars globalPaxHeader(String key, String value) {
        // commons-compress writes a 'g' entry's PAX records itself, from its extra headers.
        TarArchiveEntry e = new TarArchiveEntry("pax_global_header", TarConstants.LF_PAX_GLOBAL_EXTENDED_HEADER, true);
        e.addPaxHeader(key, value);
        try {
            tar.putArchiveEntry(e);
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return this;
    }

    Tars symlink(String name, String target) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
        e.setLinkName(target);
        e.setMode(0777);
        return put(e, null);
    }

    Tars hardlink(String name, String target) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_LINK, true);
        e.setLinkName(target);
        e.setMode(0644);
        return put(e, null);
    }

    Tars special(String name, byte type, int major, int minor) {
        TarArchiveEntry e = new TarArchiveEntry(name, type, true);
        e.setMode(0600);
        e.setDevMajor(major);
        e.setDevMinor(minor);
        return put(e, null);
    }

    Tars bigZeroFile(String name, long size) {
        try {
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            e.setMode(0644);
            e.setSize(size);
            tar.putArchiveEntry(e);
            byte[] zeros = new byte[1 << 20];
            for (long left = size; left > 0; left -= zeros.length) tar.write(zeros, 0, (int) Math.min(left, zeros.length));
            tar.closeArchiveEntry();
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return this;
    }

    byte[] bytes() {
        try {
            tar.finish();
            tar.close();
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        return buf.toByteArray();
    }

    static byte[] compress(byte[] tar, MediaTypes.Compression c) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (OutputStream z = switch (c) {
                case GZIP -> new GZIPOutputStream(out);
                case ZSTD -> new ZstdOutputStream(out);
                case NONE -> out;
            }) {
                z.write(tar);
            }
            return out.toByteArray();
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
    }

    /** A layer source over {@code tar}, compressed with {@code actual}, labelled as {@code label}. */
    static LayerSource layer(String name, byte[] tar, MediaTypes.Compression actual, MediaTypes.Compression label) {
        byte[] blob = compress(tar, actual);
        return new LayerSource(name, label, () -> new ByteArrayInputStream(blob));
    }

    static LayerSource layer(String name, byte[] tar) {
        return layer(name, tar, MediaTypes.Compression.GZIP, MediaTypes.Compression.GZIP);
    }
}
