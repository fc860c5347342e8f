package skiff.squashfs;

import skiff.layer.TreeSink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Writes a SquashFS 4.0 image from a flattened tree, streaming file data as it arrives.
 *
 * <p>Data path: the calling thread cuts each file into 128 KiB blocks and hands them to {@code threads}
 * compression workers; one writer thread appends the results in submission order, so the output is the
 * same bytes for the same input whatever the scheduling. Memory is bounded by a small queue of blocks.
 * A file whose content was already written is stored once: the writer truncates the output back to where the
 * duplicate started (or never writes its held blocks) and points its inode at the first copy. Candidates are found
 * by size and a CRC32C of the block CRCs and tail (a hardware instruction: SHA-256 cost ~4 s of CPU on a 1 GB
 * image), then confirmed byte for byte against the stored copy, so a CRC collision never merges different files. All-zero blocks are stored as sparse blocks (size 0). File tails shorter than a block are packed
 * into shared fragment blocks.
 *
 * <p>Metadata (inodes, directories, ids, xattrs, export and fragment tables) is kept per entry in memory
 * and written at {@link #finish()}.
 */
public final class SquashfsWriter implements TreeSink, AutoCloseable {

    public enum Compression { GZIP, ZSTD, NONE }

    /** level null = the compressor's default; threads = data-block compression workers; warnings get one line each. */
    public record Options(Compression compression, Integer level, int threads, Consumer<String> warnings) {
        public static Options defaults() {
            return new Options(Compression.ZSTD, null, Runtime.getRuntime().availableProcessors(), s -> {});
        }
    }

    /** Library defaults (zlib 6, zstd 3): fast enough for conversion at pull time, close in size to higher levels. */
    static int defaultLevel(Compression c) {
        return switch (c) {
            case GZIP -> 6;
            case ZSTD -> 3;
            case NONE -> 0;
        };
    }

    /** What squashfs-tools assume when an image carries no compressor options. */
    private static int formatDefaultLevel(Compression c) {
        return switch (c) {
            case GZIP -> 9;
            case ZSTD -> 15;
            case NONE -> 0;
        };
    }

    private static final int BS = Format.BLOCK_SIZE;

    private final Path output;
    private final Compression compression;
    private final int level;
    private final Consumer<String> warnings;
    private final FileChannel channel;
    private final ExecutorService pool;
    private Thread writerThread;
    private final BlockingQueue<Item> queue;
    private final List<Codec> codecs = Collections.synchronizedList(new ArrayList<>());
    private final ThreadLocal<Codec> workerCodec;
    private final ThreadLocal<CRC32C> workerCrc = ThreadLocal.withInitial(CRC32C::new);
    private final byte[] optionsBlock;
    private final long dataStart;

    // Tree (caller thread).
    private final Map<String, Dir> dirs = new HashMap<>();
    private final Map<String, FileNode> files = new HashMap<>();
    private Dir root;
    private long maxMtime;
    private boolean finished;
    private boolean closed;

    // Writer-thread state.
    private volatile Throwable failure;
    private long pos;
    /** Files written, by content key; a list because different contents may share a key. */
    private final Map<ContentKey, List<FileData>> seen = new HashMap<>();
    private final byte[] fragBuf = new byte[BS];
    private int fragFill;
    private final List<long[]> fragments = new ArrayList<>(); // {start, sizeField}
    private final ArrayDeque<PendingFragment> pendingFragments = new ArrayDeque<>();
    /** A constant, not a function of the thread count: the image must not depend on the machine. */
    private static final int MAX_PENDING_FRAGMENTS = 8;
    private long duplicateBytes;
    private long rewoundBytes;

    public SquashfsWriter(Path output, Options options) throws IOException {
        this.output = output;
        this.compression = options.compression() == null ? Compression.ZSTD : options.compression();
        this.level = options.level() == null ? defaultLevel(compression) : options.level();
        this.warnings = options.warnings() == null ? s -> {} : options.warnings();
        switch (compression) {
            case GZIP -> {
                if (level < 1 || level > 9) throw new IllegalArgumentException("gzip level must be 1..9, got " + level);
            }
            case ZSTD -> {
                if (level < 1 || level > 22) throw new IllegalArgumentException("zstd level must be 1..22, got " + level);
            }
            case NONE -> {}
        }
        this.optionsBlock = compressorOptions();
        this.dataStart = Format.SUPERBLOCK_SIZE + optionsBlock.length;
        this.channel = FileChannel.open(output, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ);
        this.pos = dataStart;
        this.workerCodec = ThreadLocal.withInitial(() -> {
            Codec c = new Codec(compression, level);
            codecs.add(c);
            return c;
        });
        int threads = Math.max(1, options.threads());
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> {
            Thread t = new Thread(r, "sqfs-compress-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.pool = Executors.newFixedThreadPool(threads, tf);
        this.queue = new ArrayBlockingQueue<>(2 * threads + 4);
        startWriter();
    }

    private void startWriter() {
        writerThread = new Thread(this::writerLoop, "sqfs-writer");
        writerThread.setDaemon(true);
        writerThread.start();
    }

    // ------------------------------------------------------------------ tree building (caller thread)

    private abstract static sealed class Node permits Dir, FileNode, SymlinkNode, SpecialNode {
        /** Null for a directory a file came before, until {@link #directory} names it. */
        Metadata meta;
        int inodeNumber;
        long inodeRef = -1;
        int xattrIndex = Format.NO_XATTR;

        Node(Metadata meta) {
            this.meta = meta;
        }

        abstract int basicType();
    }

    private static final class Dir extends Node {
        final Dir parent;
        final TreeMap<byte[], Node> children = new TreeMap<>(Arrays::compareUnsigned);
        int subdirs;

        Dir(Dir parent, Metadata meta) {
            super(meta);
            this.parent = parent;
        }

        @Override int basicType() { return Format.DIR; }
    }

    private static final class FileNode extends Node {
        final long size;
        volatile FileData data;
        int nlink = 1;

        FileNode(Metadata meta, long size) {
            super(meta);
            this.size = size;
        }

        @Override int basicType() { return Format.FILE; }
    }

    private static final class SymlinkNode extends Node {
        final byte[] target;

        SymlinkNode(Metadata meta, byte[] target) {
            super(meta);
            this.target = target;
        }

        @Override int basicType() { return Format.SYMLINK; }
    }

    private static final class SpecialNode extends Node {
        final SpecialType type;
        final int major, minor;

        SpecialNode(Metadata meta, SpecialType type, int major, int minor) {
            super(meta);
            this.type = type;
            this.major = major;
            this.minor = minor;
        }

        @Override int basicType() {
            return switch (type) {
                case BLOCK_DEVICE -> Format.BLKDEV;
                case CHAR_DEVICE -> Format.CHRDEV;
                case FIFO -> Format.FIFO;
                case SOCKET -> Format.SOCKET;
            };
        }
    }

    /** Where a file's content lives: its blocks (start + size fields) and its tail in a fragment. */
    private record FileData(long start, int[] blockSizes, int fragment, int fragOffset, long sparseBytes) {}

    private record ContentKey(long size, int crc) {}

    private void checkOpen() throws IOException {
        if (finished || closed) throw new IllegalStateException("SquashFS writer already finished");
        rethrow();
    }

    private void rethrow() throws IOException {
        Throwable f = failure;
        if (f == null) return;
        if (f instanceof IOException e) throw new IOException("writing " + output + ": " + e.getMessage(), e);
        if (f instanceof RuntimeException e) throw e;
        if (f instanceof Error e) throw e;
        throw new IOException(f);
    }

    /** The directory {@code path} goes into; made now, to be named later, when a file comes before it (one pass). */
    private Dir parentOf(String path) throws IOException {
        int slash = path.lastIndexOf('/');
        String parent = slash < 0 ? "" : path.substring(0, slash);
        Dir d = dirs.get(parent);
        if (d != null) return d;
        if (parent.isEmpty()) {
            root = new Dir(null, null);
            dirs.put("", root);
            return root;
        }
        d = new Dir(parentOf(parent), null);
        add(parent, d);
        dirs.put(parent, d);
        return d;
    }

    private static byte[] nameOf(String path) throws IOException {
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('\0') >= 0)
            throw new IOException("invalid path " + path);
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length > Format.MAX_NAME)
            throw new IOException("name too long for SquashFS (" + b.length + " > 256 bytes): " + path);
        return b;
    }

    private void add(String path, Node node) throws IOException {
        Dir parent = parentOf(path);
        byte[] name = nameOf(path);
        if (parent.children.putIfAbsent(name, node) != null) throw new IOException("duplicate entry " + path);
        if (node instanceof Dir) parent.subdirs++;
        if (node.meta != null) maxMtime = Math.max(maxMtime, node.meta.mtimeSeconds());
    }

    @Override
    public void directory(String path, Metadata meta) throws IOException {
        checkOpen();
        Dir made = dirs.get(path);
        if (made != null) {
            if (made.meta != null) throw new IOException(path.isEmpty() ? "duplicate root directory" : "duplicate entry " + path);
            made.meta = meta;
            maxMtime = Math.max(maxMtime, meta.mtimeSeconds());
            return;
        }
        if (path.isEmpty()) {
            root = new Dir(null, meta);
            dirs.put("", root);
            maxMtime = Math.max(maxMtime, meta.mtimeSeconds());
            return;
        }
        Dir d = new Dir(parentOf(path), meta);
        add(path, d);
        dirs.put(path, d);
    }

    @Override
    public void symlink(String path, Metadata meta, String target) throws IOException {
        checkOpen();
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        if (t.length == 0 || t.length > 4095)
            throw new IOException("symlink " + path + ": target length " + t.length + " outside 1..4095 bytes");
        add(path, new SymlinkNode(meta, t));
    }

    @Override
    public void special(String path, Metadata meta, SpecialType type, int major, int minor) throws IOException {
        checkOpen();
        if (major < 0 || major > 0xFFF || minor < 0 || minor > 0xFFFFF)
            throw new IOException("device " + path + ": number " + major + ":" + minor + " out of range");
        add(path, new SpecialNode(meta, type, major, minor));
    }

    @Override
    public void hardlink(String path, String target) throws IOException {
        checkOpen();
        FileNode f = files.get(target);
        if (f == null) throw new IOException("hard link " + path + " names " + target + ", which is not a regular file written before");
        add(path, f);
        f.nlink++;
    }

    @Override
    public void file(String path, Metadata meta, long size, InputStream content) throws IOException {
        checkOpen();
        if (size < 0) throw new IOException("negative size for " + path);
        FileNode node = new FileNode(meta, size);
        add(path, node);
        files.put(path, node);
        if (size == 0) {
            node.data = new FileData(0, new int[0], Format.NO_FRAGMENT, 0, 0);
            return;
        }
        put(new Begin(node));
        long remaining = size;
        while (remaining >= BS) {
            byte[] buf = readFully(content, BS, path, size);
            Future<Block> f = pool.submit(() -> compressBlock(buf, BS));
            put(new BlockItem(f));
            remaining -= BS;
        }
        byte[] tail = remaining > 0 ? readFully(content, (int) remaining, path, size) : null;
        put(new End(node, tail));
    }

    private static byte[] readFully(InputStream in, int n, String path, long size) throws IOException {
        // Straight into the block: readNBytes(int) would gather 16 KiB pieces and copy them again.
        byte[] b = new byte[n];
        if (in.readNBytes(b, 0, n) != n) throw new IOException("content of " + path + " ended before its declared size " + size);
        return b;
    }

    private void put(Item item) throws IOException {
        try {
            while (!queue.offer(item, 200, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                rethrow();
                if (!writerThread.isAlive()) throw new IOException("SquashFS writer thread stopped");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing " + output);
        }
        rethrow();
    }

    // ------------------------------------------------------------------ data path (workers + writer thread)

    private sealed interface Item permits Begin, BlockItem, End, Stop {}
    private record Begin(FileNode node) implements Item {}
    private record BlockItem(Future<Block> block) implements Item {}
    private record End(FileNode node, byte[] tail) implements Item {}
    private record Stop() implements Item {}

    /** A compressed (or stored, or sparse) data block and the CRC32C of its raw content. */
    private record Block(byte[] data, int length, boolean stored, boolean sparse, int crc) {}

    /** {@code raw}: the uncompressed fragment block, kept until written so duplicates can be compared with it. */
    private record PendingFragment(int index, byte[] raw, Future<Block> block) {}

    private Block compressBlock(byte[] raw, int len) {
        CRC32C c = workerCrc.get();
        c.reset();
        c.update(raw, 0, len);
        int crc = (int) c.getValue();
        if (isZero(raw, len)) return new Block(null, 0, false, true, crc);
        return compressRaw(raw, len, crc);
    }

    private Block compressRaw(byte[] raw, int len, int crc) {
        byte[] dst = new byte[compression == Compression.ZSTD ? (int) com.github.luben.zstd.Zstd.compressBound(len) : len];
        int n = workerCodec.get().compress(raw, len, dst);
        if (n < 0) return new Block(raw, len, true, false, crc);
        return new Block(dst, n, false, false, crc);
    }

    private static boolean isZero(byte[] b, int len) {
        return Arrays.mismatch(b, 0, len, ZEROS, 0, len) < 0;
    }

    private static final byte[] ZEROS = new byte[BS];

    private void writerLoop() {
        FileNode current = null;
        long start = 0;
        List<Integer> sizes = new ArrayList<>();
        long sparse = 0;
        CRC32C content = new CRC32C();
        byte[] crcBytes = new byte[4];
        while (true) {
            Item item;
            try {
                item = queue.take();
            } catch (InterruptedException e) {
                failure = e;
                return;
            }
            if (failure != null) {
                if (item instanceof Stop) return;
                continue; // drain so the caller never blocks; it sees the failure
            }
            try {
                switch (item) {
                    case Begin b -> {
                        // Only a file with data blocks waits for the fragments compressed so far (they go before
                        // its blocks); a run of small files must not stall on each fragment, or the parser and
                        // the compressors take turns instead of running together.
                        if (b.node().size >= BS) writePendingFragments();
                        current = b.node();
                        start = pos;
                        held = new ArrayList<>();
                        heldBytes = 0;
                        sizes.clear();
                        sparse = 0;
                        content.reset();
                    }
                    case BlockItem bi -> {
                        Block blk = bi.block().get();
                        content.update(intBytes(crcBytes, blk.crc()));
                        if (blk.sparse()) {
                            sizes.add(0);
                            sparse += BS;
                        } else {
                            // A file's blocks are held back until its end shows whether it duplicates one already
                            // written (then they are dropped, never written); only a file whose compressed blocks
                            // outgrow HOLD is written as it comes, and truncated away if it turns out a duplicate.
                            if (held != null && heldBytes + blk.length() <= HOLD) {
                                // trimmed: a compressed block sits in an array of the full block size
                                held.add(blk.length() == blk.data().length ? blk
                                        : new Block(Arrays.copyOf(blk.data(), blk.length()), blk.length(), blk.stored(), false, 0));
                                heldBytes += blk.length();
                            } else {
                                flushHeld();
                                write(blk.data(), blk.length());
                            }
                            sizes.add(blk.length() | (blk.stored() ? Format.DATA_UNCOMPRESSED : 0));
                        }
                    }
                    case End e -> {
                        FileNode node = e.node();
                        if (node != current) throw new IllegalStateException("interleaved files");
                        byte[] tail = e.tail();
                        if (tail != null) {
                            CRC32C t = new CRC32C();
                            t.update(tail);
                            content.update(intBytes(crcBytes, (int) t.getValue()));
                        }
                        ContentKey key = new ContentKey(node.size, (int) content.getValue());
                        int[] bs = sizes.stream().mapToInt(Integer::intValue).toArray();
                        List<FileData> candidates = seen.get(key);
                        FileData prior = null;
                        if (candidates != null)
                            for (FileData c : candidates)
                                if (sameContent(c, bs, start, tail)) {
                                    prior = c;
                                    break;
                                }
                        if (prior != null) {
                            if (held == null) {
                                rewoundBytes += pos - start;
                                channel.truncate(start);
                                pos = start;
                            }
                            held = null;
                            duplicateBytes += node.size;
                            node.data = prior;
                        } else {
                            flushHeld();
                            int frag = Format.NO_FRAGMENT, off = 0;
                            if (tail != null) {
                                if (fragFill + tail.length > BS) submitFragment();
                                frag = fragments.size() + pendingFragments.size();
                                off = fragFill;
                                System.arraycopy(tail, 0, fragBuf, fragFill, tail.length);
                                fragFill += tail.length;
                            }
                            FileData d = new FileData(start, bs, frag, off, sparse);
                            seen.computeIfAbsent(key, k -> new ArrayList<>(1)).add(d);
                            node.data = d;
                        }
                        current = null;
                    }
                    case Stop s -> {
                        if (fragFill > 0) submitFragment();
                        writePendingFragments();
                        return;
                    }
                }
            } catch (Throwable t) {
                failure = t instanceof ExecutionException ee && ee.getCause() != null ? ee.getCause() : t;
                if (item instanceof Stop) return;
            }
        }
    }

    /** Compressed bytes of one file's blocks held in memory before they are written (see the writer loop). */
    private static final long HOLD = 16L << 20;
    /** The current file's blocks not yet written, or null once they are (or for no file). Writer thread only. */
    private List<Block> held;
    private long heldBytes;

    private void flushHeld() throws IOException {
        if (held == null) return;
        for (Block b : held) write(b.data(), b.length());
        held = null;
    }

    private void submitFragment() throws IOException, InterruptedException, ExecutionException {
        byte[] raw = Arrays.copyOf(fragBuf, fragFill);
        int len = fragFill;
        int index = fragments.size() + pendingFragments.size();
        pendingFragments.add(new PendingFragment(index, raw, pool.submit(() -> compressRaw(raw, len, 0))));
        fragFill = 0;
        // Bounded memory; the point where the oldest is written depends only on the input (determinism).
        while (pendingFragments.size() > MAX_PENDING_FRAGMENTS) writeFragment(pendingFragments.poll());
    }

    /** Fragment blocks go between files, in submission order, so their positions are deterministic. */
    private void writePendingFragments() throws IOException, InterruptedException, ExecutionException {
        while (!pendingFragments.isEmpty()) writeFragment(pendingFragments.poll());
    }

    private void writeFragment(PendingFragment p) throws IOException, InterruptedException, ExecutionException {
        Block b = p.block().get();
        long at = pos;
        write(b.data(), b.length());
        fragments.add(new long[] {at, b.length() | (b.stored() ? Format.DATA_UNCOMPRESSED : 0)});
    }

    private static byte[] intBytes(byte[] b, int v) {
        b[0] = (byte) (v >>> 24);
        b[1] = (byte) (v >>> 16);
        b[2] = (byte) (v >>> 8);
        b[3] = (byte) v;
        return b;
    }

    /**
     * Whether the file just read (block size fields {@code sizes}, compressed blocks held or written from {@code start},
     * {@code tail}) has the content of {@code prior}. Compression is deterministic (one codec and level per image), so
     * equal raw blocks give equal compressed ones and the comparison needs no decompression, except for the prior
     * tail when its fragment block is already written. Writer thread only.
     */
    private boolean sameContent(FileData prior, int[] sizes, long start, byte[] tail) throws IOException {
        if (!Arrays.equals(prior.blockSizes(), sizes)) return false;
        long length = 0;
        for (int s : sizes) length += s & ~Format.DATA_UNCOMPRESSED;
        if (held != null) {
            long at = prior.start();
            for (Block b : held) {
                if (!regionEquals(at, b.data(), 0, b.length())) return false;
                at += b.length();
            }
        } else {
            byte[] mine = new byte[COMPARE_CHUNK];
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(COMPARE_CHUNK, length - done);
                readAt(start + done, mine, n);
                if (!regionEquals(prior.start() + done, mine, 0, n)) return false;
                done += n;
            }
        }
        if (tail == null) return prior.fragment() == Format.NO_FRAGMENT;
        if (prior.fragment() == Format.NO_FRAGMENT) return false;
        byte[] frag = rawFragment(prior.fragment());
        return Arrays.equals(frag, prior.fragOffset(), prior.fragOffset() + tail.length, tail, 0, tail.length);
    }

    private static final int COMPARE_CHUNK = 1 << 20;
    private final byte[] compareBuf = new byte[COMPARE_CHUNK];
    /** The last written fragment block decompressed for a comparison: duplicates of small files come in runs. */
    private int cachedFragment = -1;
    private byte[] cachedFragmentBytes;
    private Codec compareCodec;

    /** Whether the output at {@code at} holds b[off..off+len). */
    private boolean regionEquals(long at, byte[] b, int off, int len) throws IOException {
        for (int done = 0; done < len; ) {
            int n = Math.min(COMPARE_CHUNK, len - done);
            readAt(at + done, compareBuf, n);
            if (!Arrays.equals(compareBuf, 0, n, b, off + done, off + done + n)) return false;
            done += n;
        }
        return true;
    }

    private void readAt(long at, byte[] dst, int len) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(dst, 0, len);
        while (bb.hasRemaining()) {
            if (channel.read(bb, at + bb.position()) < 0) throw new IOException("short read of " + output + " at " + at);
        }
    }

    /** The uncompressed bytes of fragment block {@code index}: still being filled, pending, or read back and inflated. */
    private byte[] rawFragment(int index) throws IOException {
        if (index >= fragments.size()) {
            for (PendingFragment p : pendingFragments) if (p.index() == index) return p.raw();
            return fragBuf; // the block being filled
        }
        if (index == cachedFragment) return cachedFragmentBytes;
        long[] f = fragments.get(index);
        int len = (int) (f[1] & ~Format.DATA_UNCOMPRESSED);
        byte[] stored = new byte[len];
        readAt(f[0], stored, len);
        byte[] raw;
        if ((f[1] & Format.DATA_UNCOMPRESSED) != 0) {
            raw = stored;
        } else {
            if (compareCodec == null) compareCodec = new Codec(compression, level);
            raw = new byte[BS];
            compareCodec.decompress(stored, 0, len, raw, BS);
        }
        cachedFragment = index;
        cachedFragmentBytes = raw;
        return raw;
    }

    private void write(byte[] data, int len) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(data, 0, len);
        while (bb.hasRemaining()) pos += channel.write(bb, pos);
    }

    private void writeAt(long at, byte[] data) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(data);
        long p = at;
        while (bb.hasRemaining()) p += channel.write(bb, p);
    }

    // ------------------------------------------------------------------ tables (finish)

    @Override
    public void finish() throws IOException {
        checkOpen();
        if (root == null) throw new IOException("no root directory was given");
        for (var d : dirs.entrySet())
            if (d.getValue().meta == null) throw new IOException("directory '" + d.getKey() + "' holds files but was never named");
        drainWriter();
        finished = true;
        pool.shutdown();
        new Tables().write();
        channel.force(true);
        closeResources();
    }

    /** Lets the writer thread write everything queued (pending fragments included) and stop; rethrows its failure. */
    private void drainWriter() throws IOException {
        put(new Stop());
        try {
            writerThread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing " + output);
        }
        rethrow();
    }

    /** Drops everything written so far: the flattener starts over (in two passes). */
    @Override
    public void restart() throws IOException {
        checkOpen();
        drainWriter();
        channel.truncate(dataStart);
        dirs.clear();
        files.clear();
        root = null;
        maxMtime = 0;
        pos = dataStart;
        seen.clear();
        fragFill = 0;
        fragments.clear();
        pendingFragments.clear();
        duplicateBytes = 0;
        rewoundBytes = 0;
        held = null;
        heldBytes = 0;
        cachedFragment = -1;
        cachedFragmentBytes = null;
        startWriter();
    }

    /** Bytes of file content that were not written because an identical file was already stored. */
    public long duplicateBytes() {
        return duplicateBytes;
    }

    /** Bytes written and then truncated away again: the blocks of duplicates too big to hold (see HOLD). */
    public long rewoundBytes() {
        return rewoundBytes;
    }

    private final class Tables {
        final Codec meta = new Codec(compression, level);
        final MetadataWriter inodes = new MetadataWriter(meta);
        final MetadataWriter dirTable = new MetadataWriter(meta);
        final Map<Integer, Integer> ids = new LinkedHashMap<>();
        final Map<List<XattrEntry>, Integer> xattrIds = new LinkedHashMap<>();
        final List<long[]> xattrIdEntries = new ArrayList<>(); // {ref, count, size}
        final MetadataWriter xattrKv = new MetadataWriter(meta);
        long[] export;

        int id(int v) throws IOException {
            Integer i = ids.get(v);
            if (i != null) return i;
            if (ids.size() >= 65536) throw new IOException("more than 65536 distinct uids/gids");
            ids.put(v, ids.size());
            return ids.size() - 1;
        }

        void write() throws IOException {
            List<Dir> order = postOrder();
            // Inode numbers: children of a directory get consecutive numbers, the directory the next one.
            int next = 1;
            for (Dir d : order) {
                for (Node c : d.children.values()) if (!(c instanceof Dir) && c.inodeNumber == 0) c.inodeNumber = next++;
                d.inodeNumber = next++;
            }
            int inodeCount = next - 1;
            export = new long[inodeCount];
            for (Dir d : order) {
                for (Node c : d.children.values()) if (!(c instanceof Dir) && c.inodeRef < 0) writeInode(c, inodeCount);
                writeDirectory(d, inodeCount);
            }
            byte[] inodeBytes = inodes.finish();
            byte[] dirBytes = dirTable.finish();

            long at = pos;
            long inodeStart = at;
            writeAt(at, inodeBytes);
            at += inodeBytes.length;
            long dirStart = at;
            writeAt(at, dirBytes);
            at += dirBytes.length;

            ByteBuffer fragTable = le(fragments.size() * 16);
            for (long[] f : fragments) fragTable.putLong(f[0]).putInt((int) f[1]).putInt(0);
            long[] r = writeLookupTable(at, fragTable.array());
            long fragStart = r[0];
            at = r[1];

            ByteBuffer exp = le(export.length * 8);
            for (long e : export) exp.putLong(e);
            r = writeLookupTable(at, exp.array());
            long exportStart = r[0];
            at = r[1];

            // Xattr ids must be known before the id table? No: ids come from inodes, already written.
            ByteBuffer idb = le(ids.size() * 4);
            for (int v : ids.keySet()) idb.putInt(v);
            r = writeLookupTable(at, idb.array());
            long idStart = r[0];
            at = r[1];

            long xattrStart = Format.INVALID_BLOCK;
            if (!xattrIdEntries.isEmpty()) {
                long kvStart = at;
                byte[] kv = xattrKv.finish();
                writeAt(at, kv);
                at += kv.length;
                ByteBuffer xe = le(xattrIdEntries.size() * 16);
                for (long[] e : xattrIdEntries) xe.putLong(e[0]).putInt((int) e[1]).putInt((int) e[2]);
                MetadataWriter mw = new MetadataWriter(meta);
                mw.write(xe.array());
                byte[] blocks = mw.finish();
                long blocksAt = at;
                writeAt(at, blocks);
                at += blocks.length;
                ByteBuffer hdr = le(16 + 8 * mw.blockStarts().size());
                hdr.putLong(kvStart).putInt(xattrIdEntries.size()).putInt(0);
                for (long s : mw.blockStarts()) hdr.putLong(blocksAt + s);
                xattrStart = at;
                writeAt(at, hdr.array());
                at += hdr.capacity();
            }
            long bytesUsed = at;

            int flags = Format.FLAG_EXPORTABLE | Format.FLAG_DUPLICATES;
            if (xattrIdEntries.isEmpty()) flags |= Format.FLAG_NO_XATTRS;
            if (optionsBlock.length > 0) flags |= Format.FLAG_COMPRESSOR_OPTIONS;
            if (compression == Compression.NONE)
                flags |= Format.FLAG_UNCOMPRESSED_INODES | Format.FLAG_UNCOMPRESSED_DATA | Format.FLAG_UNCOMPRESSED_FRAGMENTS
                        | Format.FLAG_UNCOMPRESSED_XATTRS | Format.FLAG_UNCOMPRESSED_IDS;
            ByteBuffer sb = le(Format.SUPERBLOCK_SIZE);
            sb.putInt(Format.MAGIC).putInt(inodeCount).putInt((int) clampU32(maxMtime)).putInt(BS)
                    .putInt(fragments.size())
                    .putShort((short) (compression == Compression.ZSTD ? Format.ZSTD : Format.GZIP))
                    .putShort((short) Format.BLOCK_LOG).putShort((short) flags).putShort((short) ids.size())
                    .putShort((short) 4).putShort((short) 0)
                    .putLong(root.inodeRef).putLong(bytesUsed).putLong(idStart).putLong(xattrStart)
                    .putLong(inodeStart).putLong(dirStart).putLong(fragStart).putLong(exportStart);
            writeAt(0, sb.array());
            writeAt(Format.SUPERBLOCK_SIZE, optionsBlock);
            // Pad to 4 KiB: loop devices and some readers want whole device blocks.
            long padded = (bytesUsed + 4095) & ~4095L;
            if (padded > bytesUsed) writeAt(bytesUsed, new byte[(int) (padded - bytesUsed)]);
            channel.truncate(padded);
            meta.close();
        }

        /** Writes a table as metadata blocks followed by the list of their absolute positions; returns {index start, end}. */
        long[] writeLookupTable(long at, byte[] entries) throws IOException {
            MetadataWriter mw = new MetadataWriter(meta);
            mw.write(entries);
            byte[] blocks = mw.finish();
            writeAt(at, blocks);
            long indexAt = at + blocks.length;
            ByteBuffer idx = le(8 * mw.blockStarts().size());
            for (long s : mw.blockStarts()) idx.putLong(at + s);
            writeAt(indexAt, idx.array());
            return new long[] {indexAt, indexAt + idx.capacity()};
        }

        List<Dir> postOrder() {
            List<Dir> out = new ArrayList<>();
            ArrayDeque<Object[]> stack = new ArrayDeque<>();
            stack.push(new Object[] {root, root.children.values().iterator()});
            while (!stack.isEmpty()) {
                Object[] top = stack.peek();
                @SuppressWarnings("unchecked")
                java.util.Iterator<Node> it = (java.util.Iterator<Node>) top[1];
                Dir next = null;
                while (it.hasNext()) {
                    if (it.next() instanceof Dir d) {
                        next = d;
                        break;
                    }
                }
                if (next != null) stack.push(new Object[] {next, next.children.values().iterator()});
                else {
                    stack.pop();
                    out.add((Dir) top[0]);
                }
            }
            return out;
        }

        void header(ByteBuffer b, Node n, int type) throws IOException {
            Metadata m = n.meta;
            // Permission bits only: Linux derives the file type from the inode type and rejects a mode that carries one.
            b.putShort((short) type).putShort((short) (m.mode() & 07777))
                    .putShort((short) id(m.uid())).putShort((short) id(m.gid()))
                    .putInt((int) clampU32(m.mtimeSeconds())).putInt(n.inodeNumber);
        }

        void writeInode(Node n, int inodeCount) throws IOException {
            int xattr = xattrIndex(n);
            n.inodeRef = inodes.reference();
            export[n.inodeNumber - 1] = n.inodeRef;
            ByteBuffer b;
            switch (n) {
                case FileNode f -> {
                    FileData d = f.data;
                    if (d == null) throw new IllegalStateException("file data missing");
                    int nblocks = d.blockSizes().length;
                    boolean ext = d.start() > 0xFFFFFFFFL || f.size > 0xFFFFFFFFL || f.nlink > 1
                            || xattr != Format.NO_XATTR || d.sparseBytes() > 0;
                    b = le((ext ? 56 : 32) + 4 * nblocks);
                    header(b, n, ext ? Format.FILE + Format.EXT : Format.FILE);
                    if (ext) {
                        b.putLong(d.start()).putLong(f.size).putLong(d.sparseBytes()).putInt(f.nlink)
                                .putInt(d.fragment()).putInt(d.fragOffset()).putInt(xattr);
                    } else {
                        b.putInt((int) d.start()).putInt(d.fragment()).putInt(d.fragOffset()).putInt((int) f.size);
                    }
                    for (int s : d.blockSizes()) b.putInt(s);
                }
                case SymlinkNode s -> {
                    boolean ext = xattr != Format.NO_XATTR;
                    b = le(16 + 8 + s.target.length + (ext ? 4 : 0));
                    header(b, n, ext ? Format.SYMLINK + Format.EXT : Format.SYMLINK);
                    b.putInt(1).putInt(s.target.length).put(s.target);
                    if (ext) b.putInt(xattr);
                }
                case SpecialNode sp -> {
                    boolean ext = xattr != Format.NO_XATTR;
                    boolean dev = sp.type == SpecialType.BLOCK_DEVICE || sp.type == SpecialType.CHAR_DEVICE;
                    b = le(16 + 4 + (dev ? 4 : 0) + (ext ? 4 : 0));
                    header(b, n, sp.basicType() + (ext ? Format.EXT : 0));
                    b.putInt(1);
                    if (dev) b.putInt((sp.minor & 0xFF) | (sp.major << 8) | ((sp.minor & ~0xFF) << 12));
                    if (ext) b.putInt(xattr);
                }
                case Dir d -> throw new IllegalStateException();
            }
            inodes.write(b.array());
        }

        record IndexEntry(int index, int start, byte[] name) {}

        void writeDirectory(Dir d, int inodeCount) throws IOException {
            long listingStart = dirTable.uncompressedPosition();
            long blockIndex = dirTable.blockStart();
            int blockOffset = dirTable.offset();
            List<IndexEntry> index = new ArrayList<>();
            long lastIndexedBlock = listingStart / Format.METADATA_SIZE;
            int runCount = 0;
            long runBlock = -1;
            int runBase = 0;
            List<byte[]> runEntries = new ArrayList<>();
            Map.Entry<byte[], Node>[] entries = d.children.entrySet().toArray(new Map.Entry[0]);
            for (int i = 0; i < entries.length; i++) {
                byte[] name = entries[i].getKey();
                Node c = entries[i].getValue();
                long block = c.inodeRef >>> 16;
                int entrySize = 8 + name.length;
                long p = dirTable.uncompressedPosition();
                boolean crosses = (p % Format.METADATA_SIZE) + entrySize > Format.METADATA_SIZE;
                if (runCount == 0 || runCount == Format.DIR_RUN_MAX || block != runBlock
                        || Math.abs((long) c.inodeNumber - runBase) > 32767 || crosses) {
                    // New header.
                    int count = countRun(entries, i, block, c.inodeNumber);
                    long hp = dirTable.uncompressedPosition();
                    if (hp / Format.METADATA_SIZE != lastIndexedBlock) {
                        lastIndexedBlock = hp / Format.METADATA_SIZE;
                        index.add(new IndexEntry((int) (hp - listingStart), (int) dirTable.blockStart(), name));
                    }
                    ByteBuffer h = le(12);
                    h.putInt(count - 1).putInt((int) block).putInt(c.inodeNumber);
                    dirTable.write(h.array());
                    runCount = 0;
                    runBlock = block;
                    runBase = c.inodeNumber;
                }
                ByteBuffer e = le(entrySize);
                e.putShort((short) (c.inodeRef & 0xFFFF)).putShort((short) (c.inodeNumber - runBase))
                        .putShort((short) c.basicType()).putShort((short) (name.length - 1)).put(name);
                dirTable.write(e.array());
                runCount++;
            }
            long listingSize = dirTable.uncompressedPosition() - listingStart;
            long fileSize = listingSize + 3;
            int xattr = xattrIndex(d);
            int parentNumber = d.parent == null ? inodeCount + 1 : d.parent.inodeNumber;
            d.inodeRef = inodes.reference();
            export[d.inodeNumber - 1] = d.inodeRef;
            boolean ext = !index.isEmpty() || xattr != Format.NO_XATTR || fileSize > 0xFFFF;
            ByteBuffer b;
            if (ext) {
                int len = 16 + 24;
                for (IndexEntry ie : index) len += 12 + ie.name().length;
                b = le(len);
                header(b, d, Format.DIR + Format.EXT);
                b.putInt(2 + d.subdirs).putInt((int) fileSize).putInt((int) blockIndex).putInt(parentNumber)
                        .putShort((short) index.size()).putShort((short) blockOffset).putInt(xattr);
                for (IndexEntry ie : index) b.putInt(ie.index()).putInt(ie.start()).putInt(ie.name().length - 1).put(ie.name());
            } else {
                b = le(32);
                header(b, d, Format.DIR);
                b.putInt((int) blockIndex).putInt(2 + d.subdirs).putShort((short) fileSize).putShort((short) blockOffset)
                        .putInt(parentNumber);
            }
            inodes.write(b.array());
        }

        /**
         * How many entries from i share one header: same inode block, inode number within ±32767 of the
         * first, at most 256, and (to give directory indexes a header near the start of each directory
         * metadata block) none that would straddle a metadata block boundary after the first.
         */
        int countRun(Map.Entry<byte[], Node>[] entries, int i, long block, int base) {
            long p = dirTable.uncompressedPosition() + 12;
            int n = 0;
            for (int j = i; j < entries.length && n < Format.DIR_RUN_MAX; j++) {
                Node c = entries[j].getValue();
                int size = 8 + entries[j].getKey().length;
                if (n > 0 && ((c.inodeRef >>> 16) != block || Math.abs((long) c.inodeNumber - base) > 32767
                        || (p % Format.METADATA_SIZE) + size > Format.METADATA_SIZE)) break;
                p += size;
                n++;
            }
            return n;
        }

        int xattrIndex(Node n) throws IOException {
            Map<String, byte[]> x = n.meta.xattrs();
            if (x.isEmpty()) return Format.NO_XATTR;
            List<XattrEntry> list = new ArrayList<>();
            for (var e : new TreeMap<>(x).entrySet()) {
                String k = e.getKey();
                int type;
                String suffix;
                if (k.startsWith("user.")) { type = Format.XATTR_USER; suffix = k.substring(5); }
                else if (k.startsWith("trusted.")) { type = Format.XATTR_TRUSTED; suffix = k.substring(8); }
                else if (k.startsWith("security.")) { type = Format.XATTR_SECURITY; suffix = k.substring(9); }
                else {
                    warnings.accept("SquashFS cannot store extended attribute " + k + " (only user.*, trusted.*, security.*); skipped");
                    continue;
                }
                byte[] v = e.getValue() == null ? new byte[0] : e.getValue();
                list.add(new XattrEntry(type, suffix, v));
            }
            if (list.isEmpty()) return Format.NO_XATTR;
            Integer existing = xattrIds.get(list);
            if (existing != null) return existing;
            long ref = xattrKv.reference();
            long before = xattrKv.uncompressedPosition();
            for (XattrEntry e : list) {
                byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
                ByteBuffer b = le(4 + name.length + 4 + e.value().length);
                b.putShort((short) e.type()).putShort((short) name.length).put(name).putInt(e.value().length).put(e.value());
                xattrKv.write(b.array());
            }
            long size = xattrKv.uncompressedPosition() - before;
            int idx = xattrIdEntries.size();
            xattrIdEntries.add(new long[] {ref, list.size(), size});
            xattrIds.put(list, idx);
            return idx;
        }
    }

    /** Value-compared so identical xattr sets share one id. */
    private record XattrEntry(int type, String name, byte[] value) {
        @Override public boolean equals(Object o) {
            return o instanceof XattrEntry x && x.type == type && x.name.equals(name) && Arrays.equals(x.value, value);
        }

        @Override public int hashCode() {
            return (type * 31 + name.hashCode()) * 31 + Arrays.hashCode(value);
        }
    }

    private static long clampU32(long v) {
        return Math.max(0, Math.min(0xFFFFFFFFL, v));
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Compressor options block (after the superblock), only when the level differs from squashfs-tools' default. */
    private byte[] compressorOptions() {
        if (compression == Compression.NONE || level == formatDefaultLevel(compression)) return new byte[0];
        ByteBuffer b;
        if (compression == Compression.GZIP) {
            b = le(2 + 8);
            b.putShort((short) (8 | Format.META_UNCOMPRESSED)).putInt(level).putShort((short) 15).putShort((short) 0);
        } else {
            b = le(2 + 4);
            b.putShort((short) (4 | Format.META_UNCOMPRESSED)).putInt(level);
        }
        return b.array();
    }

    private void closeResources() throws IOException {
        if (closed) return;
        closed = true;
        pool.shutdownNow();
        writerThread.interrupt();
        try {
            // Workers may still be inside a native compressor: let them leave before freeing it.
            pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
            writerThread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            channel.close();
        } finally {
            synchronized (codecs) {
                for (Codec c : codecs) c.close();
            }
            if (compareCodec != null) compareCodec.close();
        }
    }

    /** Releases threads and the output file; after a failure or without finish() the file is incomplete. */
    @Override
    public void close() throws IOException {
        closeResources();
    }
}
