package skiff.policy.mpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The glibc dynamic linker's cache file ({@code /etc/ld.so.cache}) read directly, so that an image's cache can be
 * inspected without {@code ldconfig -r}, which chroots and so needs privilege. Both layouts are read: the current
 * one ("glibc-ld.so.cache1.1", alone since glibc 2.32) and the older "ld.so-1.7.0" one, which up to glibc 2.31
 * carries the current one after its own entries. The file comes from an image, so every offset is checked;
 * anything malformed yields what was read up to there.
 */
public final class LdSoCache {
    /** One entry: the name a program asks for and the file the linker opens for it. */
    public record Entry(String soname, String path) {}

    private static final byte[] MAGIC_NEW = "glibc-ld.so.cache1.1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] MAGIC_OLD = "ld.so-1.7.0".getBytes(StandardCharsets.US_ASCII);
    private static final int NEW_HEADER = 48;  // magic+version 20, nlibs, len_strings, flags+pad, extension_offset, unused[3]
    private static final int NEW_ENTRY = 24;   // flags, key, value, osversion, hwcap (u64)
    private static final int OLD_HEADER = 16;  // magic 11, padding to 12, nlibs
    private static final int OLD_ENTRY = 12;   // flags, key, value
    /** Larger than any real cache (a full distribution's is well under 1 MiB). */
    public static final int MAX_SIZE = 16 << 20;

    private LdSoCache() {}

    /**
     * The entries for libraries a program of this JVM's architecture can load ({@code requiredFlags}: the arch
     * bits glibc sets for it, see {@link #hostFlags}; -1 accepts every entry), in the cache's order.
     */
    public static List<Entry> parse(byte[] file, int requiredFlags) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.nativeOrder());
        if (startsWith(file, 0, MAGIC_NEW)) return parseNew(b, 0, requiredFlags);
        if (!startsWith(file, 0, MAGIC_OLD) || file.length < OLD_HEADER) return List.of();
        long nlibs = Integer.toUnsignedLong(b.getInt(12));
        long end = OLD_HEADER + nlibs * OLD_ENTRY;
        if (end > file.length) return List.of();
        int aligned = (int) ((end + 7) & ~7L);
        if (startsWith(file, aligned, MAGIC_NEW)) return parseNew(b, aligned, requiredFlags);
        // Old layout only: the string table follows the entries, offsets are relative to it.
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < nlibs; i++) {
            int at = OLD_HEADER + i * OLD_ENTRY;
            int flags = b.getInt(at);
            if (!accepts(flags, requiredFlags)) continue;
            add(out, file, (int) end, b.getInt(at + 4), b.getInt(at + 8));
        }
        return out;
    }

    private static List<Entry> parseNew(ByteBuffer b, int base, int requiredFlags) {
        byte[] file = b.array();
        if (base + NEW_HEADER > file.length) return List.of();
        long nlibs = Integer.toUnsignedLong(b.getInt(base + 20));
        if (base + NEW_HEADER + nlibs * NEW_ENTRY > file.length) return List.of();
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < nlibs; i++) {
            int at = base + NEW_HEADER + i * NEW_ENTRY;
            int flags = b.getInt(at);
            if (!accepts(flags, requiredFlags)) continue;
            // String offsets are relative to this header, both alone and behind the old layout.
            add(out, file, base, b.getInt(at + 4), b.getInt(at + 8));
        }
        return out;
    }

    private static void add(List<Entry> out, byte[] file, int base, int key, int value) {
        String k = string(file, base, key);
        String v = string(file, base, value);
        if (k != null && v != null && !k.isEmpty() && v.startsWith("/")) out.add(new Entry(k, v));
    }

    private static String string(byte[] file, int base, int offset) {
        long start = base + Integer.toUnsignedLong(offset);
        if (start >= file.length) return null;
        int s = (int) start;
        for (int i = s; i < file.length && i - s < 4096; i++)
            if (file[i] == 0) return new String(file, s, i - s, StandardCharsets.UTF_8);
        return null;
    }

    private static boolean startsWith(byte[] file, int at, byte[] magic) {
        if (at < 0 || at + magic.length > file.length) return false;
        for (int i = 0; i < magic.length; i++) if (file[at + i] != magic[i]) return false;
        return true;
    }

    /** ELF for glibc (type 1 or 3), and for the required architecture when one is given. */
    private static boolean accepts(int flags, int required) {
        int type = flags & 0xff;
        if (type != 1 && type != 3) return false;
        return required < 0 || (flags & 0xff00) == required;
    }

    /**
     * The architecture bits glibc's ldconfig records for libraries this JVM's architecture loads (its
     * FLAG_X8664_LIB64, FLAG_AARCH64_LIB64, FLAG_POWERPC_LIB64); -1 where not known: every entry counts.
     */
    public static int hostFlags() {
        return switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 0x0300;
            case "aarch64" -> 0x0a00;
            case "ppc64le" -> 0x0500;
            default -> -1;
        };
    }
}
