package skiff.squashfs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Reads SquashFS 4.0 images (gzip, zstd or uncompressed): list, stat, read, readlink, xattrs, extract.
 *
 * <p>Every offset and size read from the image is checked against the image's own bounds before use, so a
 * corrupt or hostile image fails with an {@link IOException} naming the problem: allocations are bounded by
 * the block size (data) or 8 KiB (metadata), directory walks refuse cycles, and nothing loops forever.
 *
 * <p>Thread-safe: the FUSE server reads from several threads. Each thread decompresses with its own codec;
 * metadata blocks, inodes, directories and data blocks are shared in caches bounded by weight
 * ({@link Lru}), so memory stays bounded however large the image.
 */
public final class SquashfsReader implements AutoCloseable {

    public enum Type { DIRECTORY, FILE, SYMLINK, BLOCK_DEVICE, CHAR_DEVICE, FIFO, SOCKET }

    /** One inode as seen through a path. {@code size} is the file size, the listing size for directories. */
    public record Entry(String path, Type type, int mode, int uid, int gid, long mtime, long size, int nlink,
                        int inodeNumber, String symlinkTarget, int major, int minor) {}

    private static final int MAX_DEPTH = 4096;

    private final Path image;
    private final FileChannel ch;
    private final ThreadLocal<Codec> codecs;
    private final long bytesUsed;
    private final int blockSize;
    private final int inodeCount;
    private final long rootRef;
    private final long inodeTable, dirTable, fragTable, idTableStart, xattrTable;
    private final int fragCount, idCount;
    private final int[] ids;
    private final Lru<Long, byte[][]> metaCache = new Lru<>(8L << 20, c -> c[0].length + 64L);
    private final Lru<Long, Node> nodeCache = new Lru<>(8L << 20, Node::weight);
    private final Lru<Long, Dir> dirCache = new Lru<>(8L << 20, Dir::weight);
    /** Decompressed data blocks and fragment blocks by image position: a fragment serves many small files. */
    private final Lru<Long, byte[]> blockCache = new Lru<>(16L << 20, b -> b.length + 64L);

    public SquashfsReader(Path image) throws IOException {
        this.image = image;
        this.ch = FileChannel.open(image, StandardOpenOption.READ);
        try {
            long fileSize = ch.size();
            ByteBuffer sb = read(0, Format.SUPERBLOCK_SIZE, fileSize);
            if (sb.getInt(0) != Format.MAGIC) throw bad("not a SquashFS image (bad magic)");
            if (sb.getShort(28) != 4 || sb.getShort(30) != 0) throw bad("unsupported SquashFS version " + sb.getShort(28) + "." + sb.getShort(30));
            inodeCount = sb.getInt(4);
            blockSize = sb.getInt(12);
            fragCount = sb.getInt(16);
            int comp = Short.toUnsignedInt(sb.getShort(20));
            int blockLog = Short.toUnsignedInt(sb.getShort(22));
            idCount = Short.toUnsignedInt(sb.getShort(26));
            if (blockSize < 4096 || blockSize > (1 << 20) || Integer.bitCount(blockSize) != 1 || (1 << blockLog) != blockSize)
                throw bad("invalid block size " + blockSize);
            Codec.forId(comp).close();
            codecs = ThreadLocal.withInitial(() -> {
                try {
                    return Codec.forId(comp);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            rootRef = sb.getLong(32);
            bytesUsed = sb.getLong(40);
            idTableStart = sb.getLong(48);
            xattrTable = sb.getLong(56);
            inodeTable = sb.getLong(64);
            dirTable = sb.getLong(72);
            fragTable = sb.getLong(80);
            if (bytesUsed > fileSize || bytesUsed < Format.SUPERBLOCK_SIZE) throw bad("image is truncated (bytes_used " + bytesUsed + " > file size " + fileSize + ")");
            if (inodeTable < Format.SUPERBLOCK_SIZE || inodeTable > dirTable || dirTable > bytesUsed) throw bad("inode/directory table offsets out of order");
            if (inodeCount <= 0 || fragCount < 0) throw bad("invalid inode or fragment count");
            ids = readIds();
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private IOException bad(String what) {
        return new IOException(image + ": corrupt SquashFS image: " + what);
    }

    private ByteBuffer read(long pos, int len, long limit) throws IOException {
        if (pos < 0 || len < 0 || pos + len > limit) throw bad("read of " + len + " bytes at " + pos + " past the end");
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) throw bad("unexpected end of file");
        }
        return b.flip();
    }

    /** Reads the metadata block at absolute position pos: {data, {next position as 8 bytes}}. */
    private byte[][] metaBlock(long pos) throws IOException {
        byte[][] c = metaCache.get(pos);
        if (c != null) return c;
        ByteBuffer h = read(pos, 2, bytesUsed);
        int hdr = Short.toUnsignedInt(h.getShort(0));
        int len = hdr & 0x7FFF;
        if (len == 0 || len > Format.METADATA_SIZE) throw bad("metadata block at " + pos + " has size " + len);
        byte[] raw = read(pos + 2, len, bytesUsed).array();
        byte[] data;
        if ((hdr & Format.META_UNCOMPRESSED) != 0) data = raw;
        else {
            byte[] out = new byte[Format.METADATA_SIZE];
            int n = codecs.get().decompress(raw, 0, len, out, out.length);
            data = java.util.Arrays.copyOf(out, n);
        }
        byte[] next = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(pos + 2 + len).array();
        c = new byte[][] {data, next};
        metaCache.put(pos, c);
        return c;
    }

    /** A position in a run of metadata blocks that reads across block boundaries. */
    private final class Cursor {
        long block;
        int offset;
        byte[] data;
        final long limit;

        Cursor(long block, int offset, long limit) throws IOException {
            this.block = block;
            this.offset = offset;
            this.limit = limit;
            if (block >= limit) throw bad("metadata reference " + block + " outside its table");
            this.data = metaBlock(block)[0];
            if (offset > data.length) throw bad("metadata offset " + offset + " past block end");
        }

        byte[] bytes(int n) throws IOException {
            if (n < 0 || n > (1 << 20)) throw bad("metadata item of " + n + " bytes");
            byte[] out = new byte[n];
            int got = 0;
            while (got < n) {
                if (offset == data.length) {
                    long next = ByteBuffer.wrap(metaBlock(block)[1]).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    if (next >= limit) throw bad("metadata runs past its table");
                    block = next;
                    data = metaBlock(block)[0];
                    offset = 0;
                }
                int k = Math.min(n - got, data.length - offset);
                System.arraycopy(data, offset, out, got, k);
                got += k;
                offset += k;
            }
            return out;
        }

        ByteBuffer buf(int n) throws IOException {
            return ByteBuffer.wrap(bytes(n)).order(ByteOrder.LITTLE_ENDIAN);
        }

        int u16() throws IOException { return Short.toUnsignedInt(buf(2).getShort()); }
        int i32() throws IOException { return buf(4).getInt(); }
        long i64() throws IOException { return buf(8).getLong(); }
    }

    /** Reads entry i of a lookup table (metadata blocks located by an index of u64 positions at indexStart). */
    private ByteBuffer tableEntry(long indexStart, long tableEnd, int i, int entrySize) throws IOException {
        int perBlock = Format.METADATA_SIZE / entrySize;
        long ptrPos = indexStart + 8L * (i / perBlock);
        long blockPos = read(ptrPos, 8, bytesUsed).getLong(0);
        if (blockPos < Format.SUPERBLOCK_SIZE || blockPos >= indexStart) throw bad("lookup table pointer " + blockPos + " out of range");
        Cursor c = new Cursor(blockPos, (i % perBlock) * entrySize, tableEnd);
        return c.buf(entrySize);
    }

    private int[] readIds() throws IOException {
        if (idCount == 0) throw bad("empty id table");
        int[] out = new int[idCount];
        for (int i = 0; i < idCount; i++) out[i] = tableEntry(idTableStart, idTableStart, i, 4).getInt();
        return out;
    }

    // ------------------------------------------------------------------ inodes

    /** A decoded inode. */
    private record Inode(int type, int mode, int uid, int gid, long mtime, int number, int nlink, int xattr,
                         long size, long dirBlock, int dirOffset,
                         long blocksStart, int fragment, int fragOffset, int[] blockSizes, long blockListPos,
                         byte[] target, int rdev) {
        Type kind() {
            return switch (type > Format.EXT ? type - Format.EXT : type) {
                case Format.DIR -> Type.DIRECTORY;
                case Format.FILE -> Type.FILE;
                case Format.SYMLINK -> Type.SYMLINK;
                case Format.BLKDEV -> Type.BLOCK_DEVICE;
                case Format.CHRDEV -> Type.CHAR_DEVICE;
                case Format.FIFO -> Type.FIFO;
                default -> Type.SOCKET;
            };
        }
    }

    private Inode inode(long ref) throws IOException {
        long block = ref >>> 16;
        int offset = (int) (ref & 0xFFFF);
        if (block > dirTable - inodeTable || offset >= Format.METADATA_SIZE) throw bad("inode reference " + Long.toHexString(ref) + " out of range");
        Cursor c = new Cursor(inodeTable + block, offset, dirTable);
        ByteBuffer h = c.buf(16);
        int type = Short.toUnsignedInt(h.getShort());
        int mode = Short.toUnsignedInt(h.getShort()) & 07777;
        int uidIdx = Short.toUnsignedInt(h.getShort());
        int gidIdx = Short.toUnsignedInt(h.getShort());
        long mtime = Integer.toUnsignedLong(h.getInt());
        int number = h.getInt();
        if (uidIdx >= ids.length || gidIdx >= ids.length) throw bad("inode " + number + " has an id index past the id table");
        if (number <= 0 || Integer.toUnsignedLong(number) > inodeCount) throw bad("inode number " + Integer.toUnsignedString(number) + " out of range");
        int uid = ids[uidIdx], gid = ids[gidIdx];
        int nlink = 1, xattr = Format.NO_XATTR, fragment = Format.NO_FRAGMENT, fragOffset = 0, dirOffset = 0, rdev = 0;
        long size = 0, dirBlock = 0, blocksStart = 0, blockListPos = 0;
        int[] blocks = null;
        byte[] target = null;
        switch (type) {
            case Format.DIR -> {
                ByteBuffer b = c.buf(16);
                dirBlock = Integer.toUnsignedLong(b.getInt());
                nlink = b.getInt();
                size = Short.toUnsignedInt(b.getShort());
                dirOffset = Short.toUnsignedInt(b.getShort());
            }
            case Format.DIR + Format.EXT -> {
                ByteBuffer b = c.buf(24);
                nlink = b.getInt();
                size = Integer.toUnsignedLong(b.getInt());
                dirBlock = Integer.toUnsignedLong(b.getInt());
                b.getInt();
                b.getShort();
                dirOffset = Short.toUnsignedInt(b.getShort());
                xattr = b.getInt();
            }
            case Format.FILE, Format.FILE + Format.EXT -> {
                if (type == Format.FILE) {
                    ByteBuffer b = c.buf(16);
                    blocksStart = Integer.toUnsignedLong(b.getInt());
                    fragment = b.getInt();
                    fragOffset = b.getInt();
                    size = Integer.toUnsignedLong(b.getInt());
                } else {
                    ByteBuffer b = c.buf(40);
                    blocksStart = b.getLong();
                    size = b.getLong();
                    b.getLong();
                    nlink = b.getInt();
                    fragment = b.getInt();
                    fragOffset = b.getInt();
                    xattr = b.getInt();
                }
                if (size < 0) throw bad("negative file size");
                long n = fragment == Format.NO_FRAGMENT ? (size + blockSize - 1) / blockSize : size / blockSize;
                if (fragment != Format.NO_FRAGMENT && Integer.toUnsignedLong(fragment) >= fragCount) throw bad("fragment index out of range");
                if (n > (1 << 24)) throw bad("file of " + size + " bytes is too large");
                blocks = new int[(int) n];
                for (int i = 0; i < n; ) {
                    int k = (int) Math.min(n - i, 65536);
                    ByteBuffer b = c.buf(4 * k);
                    for (int j = 0; j < k; j++) blocks[i++] = b.getInt();
                }
            }
            case Format.SYMLINK, Format.SYMLINK + Format.EXT -> {
                ByteBuffer b = c.buf(8);
                nlink = b.getInt();
                int len = b.getInt();
                if (len < 0 || len > 65536) throw bad("symlink target of " + len + " bytes");
                target = c.bytes(len);
                size = len;
                if (type > Format.EXT) xattr = c.i32();
            }
            case Format.BLKDEV, Format.CHRDEV, Format.BLKDEV + Format.EXT, Format.CHRDEV + Format.EXT -> {
                ByteBuffer b = c.buf(8);
                nlink = b.getInt();
                rdev = b.getInt();
                if (type > Format.EXT) xattr = c.i32();
            }
            case Format.FIFO, Format.SOCKET, Format.FIFO + Format.EXT, Format.SOCKET + Format.EXT -> {
                nlink = c.i32();
                if (type > Format.EXT) xattr = c.i32();
            }
            default -> throw bad("unknown inode type " + type);
        }
        return new Inode(type, mode, uid, gid, mtime, number, nlink, xattr, size, dirBlock, dirOffset,
                blocksStart, fragment, fragOffset, blocks, blockListPos, target, rdev);
    }

    // ------------------------------------------------------------------ directories

    private record DirEntry(String name, long ref, int type, byte[] raw) {}

    private List<DirEntry> readDir(Inode d) throws IOException {
        if (d.kind() != Type.DIRECTORY) throw new IOException("not a directory");
        List<DirEntry> out = new ArrayList<>();
        if (d.size() <= 3) return out;
        long end = d.size() - 3;
        if (d.dirBlock() >= fragTableOrEnd() - dirTable) throw bad("directory listing outside the directory table");
        Cursor c = new Cursor(dirTable + d.dirBlock(), d.dirOffset(), fragTableOrEnd());
        long read = 0;
        while (read < end) {
            ByteBuffer h = c.buf(12);
            read += 12;
            int count = h.getInt() + 1;
            long start = Integer.toUnsignedLong(h.getInt());
            int base = h.getInt();
            if (count <= 0 || count > Format.DIR_RUN_MAX) throw bad("directory header with " + count + " entries");
            for (int i = 0; i < count; i++) {
                ByteBuffer e = c.buf(8);
                int off = Short.toUnsignedInt(e.getShort());
                int delta = e.getShort();
                int type = Short.toUnsignedInt(e.getShort());
                int nameLen = Short.toUnsignedInt(e.getShort()) + 1;
                if (nameLen > Format.MAX_NAME) throw bad("directory entry name of " + nameLen + " bytes");
                byte[] raw = c.bytes(nameLen);
                String name = new String(raw, StandardCharsets.UTF_8);
                if (name.equals(".") || name.equals("..") || name.contains("/") || name.indexOf('\0') >= 0)
                    throw bad("invalid directory entry name " + name);
                read += 8 + nameLen;
                if (read > end) throw bad("directory listing longer than its size");
                out.add(new DirEntry(name, (start << 16) | off, type, raw));
            }
        }
        return out;
    }

    private long fragTableOrEnd() {
        // The directory table ends where the next table starts; fragment table metadata follows it.
        return bytesUsed;
    }

    private Inode lookup(String path) throws IOException {
        Inode cur = inode(rootRef);
        if (path.isEmpty() || path.equals("/")) return cur;
        String[] parts = path.replaceAll("^/+", "").split("/");
        for (String p : parts) {
            if (p.isEmpty() || p.equals(".")) continue;
            if (cur.kind() != Type.DIRECTORY) throw new java.nio.file.NotDirectoryException(path);
            DirEntry found = null;
            for (DirEntry e : readDir(cur)) if (e.name().equals(p)) { found = e; break; }
            if (found == null) throw new java.nio.file.NoSuchFileException(path);
            cur = inode(found.ref());
        }
        return cur;
    }

    private Entry entry(String path, Inode i) {
        int major = 0, minor = 0;
        if (i.kind() == Type.BLOCK_DEVICE || i.kind() == Type.CHAR_DEVICE) {
            major = (i.rdev() >>> 8) & 0xFFF;
            minor = (i.rdev() & 0xFF) | ((i.rdev() >>> 12) & 0xFFF00);
        }
        return new Entry(path, i.kind(), i.mode(), i.uid(), i.gid(), i.mtime(), i.size(), i.nlink(), i.number(),
                i.target() == null ? null : new String(i.target(), StandardCharsets.UTF_8), major, minor);
    }

    // ------------------------------------------------------------------ access by reference (FUSE)

    /**
     * An inode by its reference (the 48-bit position of the inode in the inode table), the handle a file system
     * server keeps: the reference is stable for the image's life, so FUSE node ids derive from it without a table.
     */
    public static final class Node {
        private final long ref;
        private final Inode inode;
        /** Image position of each data block of a regular file (prefix sums of the on-disk sizes). */
        private final long[] starts;

        private Node(long ref, Inode inode) {
            this.ref = ref;
            this.inode = inode;
            int[] b = inode.blockSizes();
            if (b == null) starts = null;
            else {
                starts = new long[b.length];
                long pos = inode.blocksStart();
                for (int k = 0; k < b.length; k++) {
                    starts[k] = pos;
                    pos += b[k] & (Format.DATA_UNCOMPRESSED - 1);
                }
            }
        }

        public long ref() { return ref; }
        public Type type() { return inode.kind(); }
        /** Permission bits (07777), without the file type. */
        public int mode() { return inode.mode(); }
        public int uid() { return inode.uid(); }
        public int gid() { return inode.gid(); }
        public long mtime() { return inode.mtime(); }
        public long size() { return inode.size(); }
        public int nlink() { return inode.nlink(); }
        /** The image's inode number (1..inode count), shared by hard links. */
        public int number() { return inode.number(); }
        /** Device number in the kernel's new_encode_dev layout, which is SquashFS's. */
        public int rdev() { return inode.rdev(); }
        public byte[] symlinkTarget() { return inode.target() == null ? null : inode.target().clone(); }

        long weight() {
            return 160 + (starts == null ? 0 : starts.length * 12L) + (inode.target() == null ? 0 : inode.target().length);
        }
    }

    /** A directory entry: the name as stored (bytes, not necessarily UTF-8), the inode reference and type. */
    public record Child(byte[] name, long ref, Type type) {}

    private record Dir(List<Child> list, Map<String, Child> byName) {
        long weight() {
            long w = 64;
            for (Child c : list) w += 96 + 2L * c.name().length;
            return w;
        }
    }

    public long rootRef() {
        return rootRef;
    }

    public int blockSize() {
        return blockSize;
    }

    public long bytesUsed() {
        return bytesUsed;
    }

    public Node node(long ref) throws IOException {
        Node n = nodeCache.get(ref);
        if (n == null) {
            n = new Node(ref, inode(ref));
            nodeCache.put(ref, n);
        }
        return n;
    }

    private Dir dir(Node d) throws IOException {
        Dir cached = dirCache.get(d.ref());
        if (cached != null) return cached;
        List<Child> list = new ArrayList<>();
        Map<String, Child> byName = new java.util.HashMap<>();
        for (DirEntry e : readDir(d.inode)) {
            Child c = new Child(e.raw(), e.ref(), typeOf(e.type()));
            list.add(c);
            // ISO-8859-1 maps bytes to chars one to one: a lossless key for names that are not UTF-8.
            byName.putIfAbsent(new String(e.raw(), StandardCharsets.ISO_8859_1), c);
        }
        Dir built = new Dir(List.copyOf(list), byName);
        dirCache.put(d.ref(), built);
        return built;
    }

    /** The entries of a directory in on-disk order (without "." and ".."). */
    public List<Child> children(Node dir) throws IOException {
        return dir(dir).list();
    }

    /** The entry called {@code name} (raw bytes) in {@code dir}, or null. */
    public Child child(Node dir, byte[] name) throws IOException {
        return dir(dir).byName().get(new String(name, StandardCharsets.ISO_8859_1));
    }

    private Type typeOf(int dirEntryType) throws IOException {
        return switch (dirEntryType) {
            case Format.DIR -> Type.DIRECTORY;
            case Format.FILE -> Type.FILE;
            case Format.SYMLINK -> Type.SYMLINK;
            case Format.BLKDEV -> Type.BLOCK_DEVICE;
            case Format.CHRDEV -> Type.CHAR_DEVICE;
            case Format.FIFO -> Type.FIFO;
            case Format.SOCKET -> Type.SOCKET;
            default -> throw bad("directory entry of unknown type " + dirEntryType);
        };
    }

    public Map<String, byte[]> xattrs(Node n) throws IOException {
        return xattrs(n.inode);
    }

    /**
     * Reads up to {@code len} bytes of a regular file at {@code offset} into dst; returns the count (0 at or
     * past the end). A corrupt block fails this read only, with an IOException.
     */
    public int read(Node n, long offset, byte[] dst, int dstOff, int len) throws IOException {
        Inode i = n.inode;
        if (i.kind() != Type.FILE) throw new IOException("not a regular file");
        if (offset < 0 || offset >= i.size() || len <= 0) return 0;
        len = (int) Math.min(len, i.size() - offset);
        int[] sizes = i.blockSizes();
        int done = 0;
        while (done < len) {
            long pos = offset + done;
            long bi = pos / blockSize;
            int within = (int) (pos % blockSize);
            int expected = (int) Math.min(blockSize, i.size() - bi * blockSize);
            byte[] data;
            int dataOff;
            if (bi < sizes.length) {
                data = cachedBlock(n.starts[(int) bi], sizes[(int) bi], expected);
                dataOff = 0;
            } else {
                if (i.fragment() == Format.NO_FRAGMENT) throw bad("file data shorter than its size");
                data = fragment(i.fragment());
                dataOff = i.fragOffset();
                if (dataOff < 0 || (long) dataOff + expected > data.length) throw bad("fragment slice out of range");
            }
            int k = Math.min(len - done, expected - within);
            System.arraycopy(data, dataOff + within, dst, dstOff + done, k);
            done += k;
        }
        return done;
    }

    private byte[] cachedBlock(long pos, int sizeField, int expected) throws IOException {
        if (sizeField == 0) return new byte[expected];
        byte[] b = blockCache.get(pos);
        if (b != null && b.length == expected) return b;
        b = dataBlock(pos, sizeField, expected);
        blockCache.put(pos, b);
        return b;
    }

    // ------------------------------------------------------------------ public API

    public Entry stat(String path) throws IOException {
        return entry(path, lookup(path));
    }

    /** Entries of a directory, in on-disk (byte) order. */
    public List<Entry> list(String dir) throws IOException {
        Inode d = lookup(dir);
        List<Entry> out = new ArrayList<>();
        String prefix = dir.isEmpty() ? "" : dir + "/";
        for (DirEntry e : readDir(d)) out.add(entry(prefix + e.name(), inode(e.ref())));
        return out;
    }

    public String readlink(String path) throws IOException {
        Inode i = lookup(path);
        if (i.kind() != Type.SYMLINK) throw new IOException(path + " is not a symbolic link");
        return new String(i.target(), StandardCharsets.UTF_8);
    }

    public Map<String, byte[]> xattrs(String path) throws IOException {
        return xattrs(lookup(path));
    }

    private Map<String, byte[]> xattrs(Inode i) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        if (i.xattr() == Format.NO_XATTR) return out;
        if (xattrTable == Format.INVALID_BLOCK || xattrTable + 16 > bytesUsed) throw bad("xattr index without an xattr table");
        ByteBuffer hdr = read(xattrTable, 16, bytesUsed);
        long kvStart = hdr.getLong(0);
        int count = hdr.getInt(8);
        if (Integer.toUnsignedLong(i.xattr()) >= Integer.toUnsignedLong(count)) throw bad("xattr index out of range");
        if (kvStart < Format.SUPERBLOCK_SIZE || kvStart >= xattrTable) throw bad("xattr key/value start out of range");
        ByteBuffer id = tableEntry(xattrTable + 16, xattrTable, i.xattr(), 16);
        long ref = id.getLong();
        int n = id.getInt();
        if (n < 0 || n > 65536) throw bad("xattr count " + n);
        Cursor c = new Cursor(kvStart + (ref >>> 16), (int) (ref & 0xFFFF), xattrTable);
        for (int k = 0; k < n; k++) {
            int type = c.u16();
            int nameLen = c.u16();
            String name = new String(c.bytes(nameLen), StandardCharsets.UTF_8);
            int vlen = c.i32();
            byte[] value;
            if ((type & Format.XATTR_VALUE_OOL) != 0) {
                if (vlen != 8) throw bad("out-of-line xattr reference of " + vlen + " bytes");
                long vref = c.i64();
                Cursor v = new Cursor(kvStart + (vref >>> 16), (int) (vref & 0xFFFF), xattrTable);
                value = v.bytes(v.i32());
            } else value = c.bytes(vlen);
            String prefix = switch (type & 0xFF) {
                case Format.XATTR_USER -> "user.";
                case Format.XATTR_TRUSTED -> "trusted.";
                case Format.XATTR_SECURITY -> "security.";
                default -> throw bad("unknown xattr prefix " + (type & 0xFF));
            };
            out.put(prefix + name, value);
        }
        return out;
    }

    /** The content of a regular file, decompressed block by block (memory: one block). */
    public InputStream open(String path) throws IOException {
        Inode i = lookup(path);
        if (i.kind() != Type.FILE) throw new IOException(path + " is not a regular file");
        return new FileStream(i);
    }

    public byte[] readAllBytes(String path) throws IOException {
        try (InputStream in = open(path)) {
            return in.readAllBytes();
        }
    }

    private byte[] dataBlock(long pos, int sizeField, int expected) throws IOException {
        if (sizeField == 0) return new byte[expected];
        int len = sizeField & (Format.DATA_UNCOMPRESSED - 1);
        if ((sizeField & ~(Format.DATA_UNCOMPRESSED | (Format.DATA_UNCOMPRESSED - 1))) != 0 || len > blockSize)
            throw bad("data block size field " + Integer.toHexString(sizeField));
        byte[] raw = read(pos, len, bytesUsed).array();
        if ((sizeField & Format.DATA_UNCOMPRESSED) != 0) {
            if (len != expected) throw bad("stored block of " + len + " bytes, expected " + expected);
            return raw;
        }
        byte[] out = new byte[blockSize];
        int n = codecs.get().decompress(raw, 0, len, out, blockSize);
        if (n != expected) throw bad("block decompressed to " + n + " bytes, expected " + expected);
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    private byte[] fragment(int index) throws IOException {
        ByteBuffer e = tableEntry(fragTable, fragTable, index, 16);
        long start = e.getLong();
        int size = e.getInt();
        byte[] cached = blockCache.get(start);
        if (cached != null) return cached;
        int len = size & (Format.DATA_UNCOMPRESSED - 1);
        if (len > blockSize || len == 0) throw bad("fragment size " + Integer.toHexString(size));
        byte[] raw = read(start, len, bytesUsed).array();
        byte[] data;
        if ((size & Format.DATA_UNCOMPRESSED) != 0) data = raw;
        else {
            byte[] out = new byte[blockSize];
            data = java.util.Arrays.copyOf(out, codecs.get().decompress(raw, 0, len, out, blockSize));
        }
        blockCache.put(start, data);
        return data;
    }

    private final class FileStream extends InputStream {
        private final Inode inode;
        private int block;
        private long blockPos;
        private long remaining;
        private byte[] cur = new byte[0];
        private int curPos;

        FileStream(Inode inode) {
            this.inode = inode;
            this.blockPos = inode.blocksStart();
            this.remaining = inode.size();
        }

        private boolean fill() throws IOException {
            if (curPos < cur.length) return true;
            if (remaining == 0) return false;
            if (block < inode.blockSizes().length) {
                int sf = inode.blockSizes()[block++];
                int expected = (int) Math.min(blockSize, remaining);
                cur = dataBlock(blockPos, sf, expected);
                blockPos += sf & (Format.DATA_UNCOMPRESSED - 1);
            } else {
                if (inode.fragment() == Format.NO_FRAGMENT) throw bad("file data shorter than its size");
                byte[] f = fragment(inode.fragment());
                int off = inode.fragOffset();
                if (off < 0 || off + remaining > f.length) throw bad("fragment slice out of range");
                cur = java.util.Arrays.copyOfRange(f, off, off + (int) remaining);
            }
            curPos = 0;
            remaining -= cur.length;
            return true;
        }

        @Override
        public int read() throws IOException {
            if (!fill()) return -1;
            return cur[curPos++] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            if (!fill()) return -1;
            int n = Math.min(len, cur.length - curPos);
            System.arraycopy(cur, curPos, b, off, n);
            curPos += n;
            return n;
        }
    }

    /** Visits every entry depth-first (parents before children), each once per path. */
    public void walk(Consumer<Entry> visitor) throws IOException {
        walkInodes((e, i) -> visitor.accept(e));
    }

    private void walkInodes(java.util.function.BiConsumer<Entry, Inode> visitor) throws IOException {
        record Pending(String path, long ref, int depth) {}
        ArrayDeque<Pending> stack = new ArrayDeque<>();
        Set<Long> seenDirs = new HashSet<>();
        stack.push(new Pending("", rootRef, 0));
        while (!stack.isEmpty()) {
            Pending p = stack.pop();
            Inode i = inode(p.ref());
            visitor.accept(entry(p.path(), i), i);
            if (i.kind() == Type.DIRECTORY) {
                if (!seenDirs.add(p.ref()) || p.depth() > MAX_DEPTH) throw bad("directory cycle or excessive depth at " + p.path());
                List<DirEntry> children = readDir(i);
                for (int k = children.size() - 1; k >= 0; k--) {
                    DirEntry e = children.get(k);
                    stack.push(new Pending(p.path().isEmpty() ? e.name() : p.path() + "/" + e.name(), e.ref(), p.depth() + 1));
                }
            }
        }
    }

    /**
     * Extracts the whole tree under dest (which must not exist or be empty). Hard links are recreated;
     * owners are applied and device nodes created only when running as root (else skipped and reported);
     * sockets are skipped; directory modes and mtimes are applied last.
     */
    public void extractTo(Path dest, Consumer<String> warnings) throws IOException {
        Files.createDirectories(dest);
        boolean root = "root".equals(System.getProperty("user.name"));
        Map<Integer, Path> firstByInode = new java.util.HashMap<>();
        List<Entry> dirs = new ArrayList<>();
        List<Map<String, byte[]>> dirXattrs = new ArrayList<>();
        List<IOException> failure = new ArrayList<>();
        walkInodes((e, inode) -> {
            if (!failure.isEmpty()) return;
            try {
                Path target = dest.resolve(e.path()).normalize();
                if (!target.startsWith(dest.normalize())) throw bad("path escapes: " + e.path());
                switch (e.type()) {
                    case DIRECTORY -> {
                        Files.createDirectories(target);
                        dirs.add(e);
                        dirXattrs.add(xattrs(inode));
                    }
                    case FILE -> {
                        Path first = e.nlink() > 1 ? firstByInode.get(e.inodeNumber()) : null;
                        if (first != null) Files.createLink(target, first);
                        else {
                            try (InputStream in = new FileStream(inode)) {
                                Files.copy(in, target);
                            }
                            if (e.nlink() > 1) firstByInode.put(e.inodeNumber(), target);
                            applyMeta(target, e, root);
                            for (var x : xattrs(inode).entrySet()) setXattr(target, x.getKey(), x.getValue(), warnings);
                        }
                    }
                    case SYMLINK -> {
                        Files.createSymbolicLink(target, Path.of(e.symlinkTarget()));
                        if (root) chown(target, e);
                        touchNoFollow(target, e.mtime());
                    }
                    case FIFO -> {
                        Process pr = new ProcessBuilder("mkfifo", "-m", Integer.toOctalString(e.mode() & 0777), target.toString())
                                .redirectErrorStream(true).start();
                        if (pr.waitFor() != 0) warnings.accept("could not create FIFO " + e.path());
                        else {
                            // Java opens a file to set its times, which blocks on a FIFO: touch -h uses utimensat.
                            if (root) chown(target, e);
                            touchNoFollow(target, e.mtime());
                        }
                    }
                    case BLOCK_DEVICE, CHAR_DEVICE -> {
                        if (!root) {
                            warnings.accept("skipped device " + e.path() + " (only root can create device nodes)");
                            break;
                        }
                        Process pr = new ProcessBuilder("mknod", "-m", Integer.toOctalString(e.mode() & 07777), target.toString(),
                                e.type() == Type.BLOCK_DEVICE ? "b" : "c", Integer.toString(e.major()), Integer.toString(e.minor()))
                                .redirectErrorStream(true).start();
                        pr.getInputStream().readAllBytes();
                        if (pr.waitFor() != 0) warnings.accept("could not create device " + e.path());
                        else {
                            chown(target, e);
                            touchNoFollow(target, e.mtime());
                        }
                    }
                    default -> warnings.accept("skipped socket " + e.path());
                }
            } catch (IOException ex) {
                failure.add(ex);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                failure.add(new IOException("interrupted"));
            }
        });
        if (!failure.isEmpty()) throw failure.getFirst();
        for (int k = dirs.size() - 1; k >= 0; k--) {
            Entry e = dirs.get(k);
            Path target = dest.resolve(e.path());
            for (var x : dirXattrs.get(k).entrySet()) setXattr(target, x.getKey(), x.getValue(), warnings);
            applyMeta(target, e, root);
        }
    }

    private static void setXattr(Path p, String name, byte[] value, Consumer<String> warnings) throws IOException {
        if (!name.startsWith("user.")) {
            warnings.accept("skipped xattr " + name + " on " + p);
            return;
        }
        UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
        v.write(name.substring(5), ByteBuffer.wrap(value));
    }

    /** Java opens a file to set its times (blocks on a FIFO, follows symlinks): touch -h uses utimensat. */
    private static void touchNoFollow(Path p, long mtime) throws IOException, InterruptedException {
        Process t = new ProcessBuilder("touch", "-h", "-d", "@" + mtime, p.toString()).redirectErrorStream(true).start();
        t.getInputStream().readAllBytes();
        t.waitFor();
    }

    private static void chown(Path p, Entry e) throws IOException {
        Files.setAttribute(p, "unix:uid", e.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", e.gid(), LinkOption.NOFOLLOW_LINKS);
    }

    private static void applyMeta(Path p, Entry e, boolean root) throws IOException {
        if (root) chown(p, e);
        Files.setAttribute(p, "unix:mode", e.mode());
        Files.setLastModifiedTime(p, FileTime.fromMillis(e.mtime() * 1000));
    }

    public int inodeCount() {
        return inodeCount;
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
