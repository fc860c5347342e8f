package skiff.engine.fuse;

import skiff.sys.FuseDevice;
import skiff.squashfs.SquashfsReader;
import skiff.squashfs.SquashfsReader.Child;
import skiff.squashfs.SquashfsReader.Node;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A read-only FUSE file system serving one SquashFS image, speaking the kernel protocol (include/uapi/linux/fuse.h)
 * on the /dev/fuse descriptor. Several threads each block in read(2) on the device; the kernel hands each request
 * to exactly one reader, and replies may go back in any order.
 *
 * <p>Stateless by design: a node id is the inode's reference in the image (plus 2; the root is 1), so LOOKUP needs
 * no table, FORGET nothing to free, and the kernel may keep entries forever. The image is immutable, so every
 * timeout is long, opens and opendirs are skipped by the kernel (no-open), the page cache is kept, readdir and
 * symlinks are cached, and a name that does not exist is answered with a cached negative entry.
 */
public final class FuseServer {
    // Opcodes.
    static final int LOOKUP = 1, FORGET = 2, GETATTR = 3, SETATTR = 4, READLINK = 5, SYMLINK = 6, MKNOD = 8,
            MKDIR = 9, UNLINK = 10, RMDIR = 11, RENAME = 12, LINK = 13, OPEN = 14, READ = 15, WRITE = 16, STATFS = 17,
            RELEASE = 18, FSYNC = 20, SETXATTR = 21, GETXATTR = 22, LISTXATTR = 23, REMOVEXATTR = 24, FLUSH = 25,
            INIT = 26, OPENDIR = 27, READDIR = 28, RELEASEDIR = 29, FSYNCDIR = 30, ACCESS = 34, CREATE = 35,
            INTERRUPT = 36, DESTROY = 38, BATCH_FORGET = 42, FALLOCATE = 43, READDIRPLUS = 44, RENAME2 = 45,
            COPY_FILE_RANGE = 47, TMPFILE = 51;

    // INIT flags.
    static final int ASYNC_READ = 1, DO_READDIRPLUS = 1 << 13, READDIRPLUS_AUTO = 1 << 14, NO_OPEN_SUPPORT = 1 << 17,
            PARALLEL_DIROPS = 1 << 18, MAX_PAGES = 1 << 22, CACHE_SYMLINKS = 1 << 23, NO_OPENDIR_SUPPORT = 1 << 24;
    static final int WANTED = ASYNC_READ | DO_READDIRPLUS | READDIRPLUS_AUTO | NO_OPEN_SUPPORT | PARALLEL_DIROPS
            | MAX_PAGES | CACHE_SYMLINKS | NO_OPENDIR_SUPPORT;
    static final int FOPEN_KEEP_CACHE = 1 << 1, FOPEN_CACHE_DIR = 1 << 3;

    static final int EIO = 5, ENOENT = 2, EINTR = 4, EAGAIN = 11, ENODEV = 19, ENOTDIR = 20, EISDIR = 21,
            EINVAL = 22, ERANGE = 34, ENOSYS = 38, EROFS = 30, ENODATA = 61, EPROTO = 71;

    static final int PROTO_MINOR = 31;
    static final int MAX_PAGES_WANTED = 256;
    static final int MAX_READ = MAX_PAGES_WANTED * 4096;
    /** Requests of a read-only file system are small: names, xattr names; WRITE is refused (max_write 4096). */
    static final int IN_SIZE = 128 * 1024 + 4096;
    static final int MAX_WRITE = 4096;
    /** A year: the image never changes while mounted. */
    static final long TIMEOUT = 365L * 24 * 3600;
    static final long ROOT_ID = 1;

    private final int fd;
    private final SquashfsReader image;
    private final PrintStream log;
    private final AtomicInteger errorsLogged = new AtomicInteger();
    private volatile boolean noOpen;

    public FuseServer(int fd, SquashfsReader image, PrintStream log) {
        this.fd = fd;
        this.image = image;
        this.log = log;
    }

    /** Serves with {@code threads} threads until the file system is unmounted (or DESTROY); then returns. */
    public void serve(int threads) throws InterruptedException {
        Thread[] ts = new Thread[threads];
        Object done = new Object();
        boolean[] finished = {false};
        for (int i = 0; i < threads; i++) {
            ts[i] = Thread.ofPlatform().daemon().name("fuse-" + i).start(() -> {
                try {
                    loop();
                } catch (Throwable t) {
                    t.printStackTrace(log);
                } finally {
                    synchronized (done) {
                        finished[0] = true;
                        done.notifyAll();
                    }
                }
            });
        }
        synchronized (done) {
            while (!finished[0]) done.wait();
        }
    }

    private void loop() {
        ByteBuffer in = ByteBuffer.allocateDirect(IN_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        Reply out = new Reply(ByteBuffer.allocateDirect(16 + MAX_READ).order(ByteOrder.LITTLE_ENDIAN));
        byte[] scratch = new byte[MAX_READ];
        while (true) {
            int n = FuseDevice.read(fd, in);
            if (n < 0) {
                int e = -n;
                // ENOENT: the request was interrupted before we read it. ENODEV: unmounted (or aborted).
                if (e == EINTR || e == EAGAIN || e == ENOENT) continue;
                if (e != ENODEV) log.println("skiff-fuse: read from /dev/fuse failed: errno " + e);
                return;
            }
            if (n < 40) continue;
            in.limit(n);
            try {
                if (!handle(in, n, out, scratch)) return;
            } finally {
                in.clear();
            }
        }
    }

    /** The reply buffer of one thread: fuse_out_header then the body. */
    private final class Reply {
        final ByteBuffer b;
        long unique;

        Reply(ByteBuffer b) {
            this.b = b;
        }

        ByteBuffer start(long unique) {
            this.unique = unique;
            b.clear();
            b.position(16);
            return b;
        }

        void send() {
            int len = b.position();
            b.putInt(0, len).putInt(4, 0).putLong(8, unique);
            write(len);
        }

        void error(int errno) {
            b.clear();
            b.putInt(0, 16).putInt(4, -errno).putLong(8, unique);
            write(16);
        }

        private void write(int len) {
            int r = FuseDevice.write(fd, b, len);
            // ENOENT: the request was interrupted and the kernel no longer waits for the answer.
            if (r < 0 && -r != ENOENT && -r != ENODEV) log.println("skiff-fuse: reply failed: errno " + -r);
        }
    }

    /** Handles one request; false when the server should stop. */
    private boolean handle(ByteBuffer in, int n, Reply out, byte[] scratch) {
        int opcode = in.getInt(4);
        long unique = in.getLong(8);
        long nodeid = in.getLong(16);
        out.start(unique);
        try {
            switch (opcode) {
                case INIT -> init(in, out);
                case LOOKUP -> lookup(node(nodeid), cString(in, 40, n), out);
                case GETATTR -> {
                    ByteBuffer b = out.start(unique);
                    b.putLong(TIMEOUT).putInt(0).putInt(0);
                    attr(b, node(nodeid));
                    out.send();
                }
                case READLINK -> {
                    Node node = node(nodeid);
                    byte[] t = node.symlinkTarget();
                    if (t == null) out.error(EINVAL);
                    else {
                        out.start(unique).put(t);
                        out.send();
                    }
                }
                case OPEN, OPENDIR -> {
                    if (noOpen) out.error(ENOSYS);
                    else {
                        out.start(unique).putLong(0).putInt(FOPEN_KEEP_CACHE | (opcode == OPENDIR ? FOPEN_CACHE_DIR : 0)).putInt(0);
                        out.send();
                    }
                }
                case READ -> read(node(nodeid), in.getLong(48), in.getInt(56), out, scratch);
                case RELEASE, RELEASEDIR -> {
                    out.start(unique);
                    out.send();
                }
                case READDIR, READDIRPLUS -> readdir(node(nodeid), in.getLong(48), in.getInt(56), opcode == READDIRPLUS, out);
                case STATFS -> statfs(out);
                case GETXATTR -> getxattr(node(nodeid), in.getInt(40), cString(in, 48, n), out);
                case LISTXATTR -> listxattr(node(nodeid), in.getInt(40), out);
                case FORGET, BATCH_FORGET, INTERRUPT -> {
                    return true; // no reply: nothing to forget (stateless), interrupts are moot for quick requests
                }
                case DESTROY -> {
                    out.start(unique);
                    out.send();
                    return false;
                }
                case SETATTR, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, WRITE, SETXATTR, REMOVEXATTR, CREATE,
                     FALLOCATE, RENAME2, COPY_FILE_RANGE, TMPFILE -> out.error(EROFS);
                default -> out.error(ENOSYS);
            }
        } catch (IOException e) {
            if (errorsLogged.incrementAndGet() <= 100) log.println("skiff-fuse: " + e.getMessage());
            out.error(EIO);
        } catch (RuntimeException e) {
            if (errorsLogged.incrementAndGet() <= 100) e.printStackTrace(log);
            out.error(EIO);
        }
        return true;
    }

    private void init(ByteBuffer in, Reply out) {
        int major = in.getInt(40), minor = in.getInt(44), readahead = in.getInt(48), flags = in.getInt(52);
        if (major < 7) {
            out.error(EPROTO);
            return;
        }
        int granted = flags & WANTED;
        noOpen = (granted & NO_OPEN_SUPPORT) != 0;
        ByteBuffer b = out.start(out.unique);
        b.putInt(7).putInt(PROTO_MINOR);
        // A kernel speaking a later major waits for our major and sends INIT again: the first fields suffice.
        if (major > 7) {
            out.send();
            return;
        }
        b.putInt(readahead).putInt(granted)
                .putShort((short) 64).putShort((short) 48)   // max_background, congestion_threshold
                .putInt(MAX_WRITE).putInt(1)                  // max_write, time_gran
                .putShort((short) ((granted & MAX_PAGES) != 0 ? MAX_PAGES_WANTED : 0)).putShort((short) 0)
                .putInt(0);                                   // flags2
        if (minor >= 23) while (b.position() < 16 + 64) b.put((byte) 0);
        else b.position(16 + 24);
        out.send();
    }

    private Node node(long nodeid) throws IOException {
        if (nodeid == ROOT_ID) return image.node(image.rootRef());
        if (nodeid < 2) throw new IOException("invalid node id " + nodeid);
        return image.node(nodeid - 2);
    }

    private long nodeid(long ref) {
        return ref == image.rootRef() ? ROOT_ID : ref + 2;
    }

    private static byte[] cString(ByteBuffer in, int from, int end) throws IOException {
        int z = from;
        while (z < end && in.get(z) != 0) z++;
        if (z >= end) throw new IOException("unterminated name in request");
        byte[] s = new byte[z - from];
        in.get(from, s);
        return s;
    }

    private void lookup(Node dir, byte[] name, Reply out) throws IOException {
        if (dir.type() != SquashfsReader.Type.DIRECTORY) {
            out.error(ENOTDIR);
            return;
        }
        Child c = image.child(dir, name);
        ByteBuffer b = out.start(out.unique);
        if (c == null) {
            // Node id 0 with a timeout: the kernel caches the absence (a negative dentry), which ENOENT would not.
            b.putLong(0).putLong(0).putLong(TIMEOUT).putLong(TIMEOUT).putInt(0).putInt(0);
            for (int i = 0; i < 88; i++) b.put((byte) 0);
        } else entry(b, image.node(c.ref()));
        out.send();
    }

    /** struct fuse_entry_out. */
    private void entry(ByteBuffer b, Node node) {
        b.putLong(nodeid(node.ref())).putLong(0).putLong(TIMEOUT).putLong(TIMEOUT).putInt(0).putInt(0);
        attr(b, node);
    }

    /** struct fuse_attr (88 bytes). */
    private void attr(ByteBuffer b, Node node) {
        long t = node.mtime();
        b.putLong(Integer.toUnsignedLong(node.number())).putLong(node.size()).putLong((node.size() + 511) / 512)
                .putLong(t).putLong(t).putLong(t).putInt(0).putInt(0).putInt(0)
                .putInt(typeBits(node.type()) | node.mode()).putInt(node.nlink()).putInt(node.uid()).putInt(node.gid())
                .putInt(node.rdev()).putInt(image.blockSize()).putInt(0);
    }

    static int typeBits(SquashfsReader.Type t) {
        return switch (t) {
            case DIRECTORY -> 0040000;
            case FILE -> 0100000;
            case SYMLINK -> 0120000;
            case BLOCK_DEVICE -> 0060000;
            case CHAR_DEVICE -> 0020000;
            case FIFO -> 0010000;
            case SOCKET -> 0140000;
        };
    }

    private void read(Node node, long offset, int size, Reply out, byte[] scratch) throws IOException {
        if (node.type() == SquashfsReader.Type.DIRECTORY) {
            out.error(EISDIR);
            return;
        }
        if (node.type() != SquashfsReader.Type.FILE) {
            out.error(EINVAL);
            return;
        }
        int n = image.read(node, offset, scratch, 0, Math.min(Math.max(size, 0), MAX_READ));
        out.start(out.unique).put(scratch, 0, n);
        out.send();
    }

    private void readdir(Node dir, long offset, int size, boolean plus, Reply out) throws IOException {
        if (dir.type() != SquashfsReader.Type.DIRECTORY) {
            out.error(ENOTDIR);
            return;
        }
        List<Child> children = image.children(dir);
        ByteBuffer b = out.start(out.unique);
        int limit = 16 + Math.min(Math.max(size, 0), MAX_READ);
        byte[] dot = {'.'}, dotdot = {'.', '.'};
        for (long i = Math.max(offset, 0); i < children.size() + 2L; i++) {
            byte[] name;
            Node node = null;
            long ino;
            int type;
            if (i < 2) {
                name = i == 0 ? dot : dotdot;
                ino = Integer.toUnsignedLong(dir.number());
                type = 4;
            } else {
                Child c = children.get((int) (i - 2));
                name = c.name();
                node = image.node(c.ref());
                ino = Integer.toUnsignedLong(node.number());
                type = typeBits(c.type()) >>> 12;
            }
            int rec = (24 + name.length + 7) & ~7;
            int need = rec + (plus ? 128 : 0);
            if (b.position() + need > limit) break;
            if (plus) {
                // "." and ".." carry node id 0: the kernel then creates no entry for them.
                if (node == null) for (int k = 0; k < 128; k++) b.put((byte) 0);
                else entry(b, node);
            }
            b.putLong(ino).putLong(i + 1).putInt(name.length).putInt(type).put(name);
            while ((b.position() & 7) != 0) b.put((byte) 0);
        }
        out.send();
    }

    private void statfs(Reply out) {
        ByteBuffer b = out.start(out.unique);
        long bs = image.blockSize();
        b.putLong((image.bytesUsed() + bs - 1) / bs).putLong(0).putLong(0).putLong(image.inodeCount()).putLong(0)
                .putInt((int) bs).putInt(255).putInt((int) bs).putInt(0);
        for (int i = 0; i < 6; i++) b.putInt(0);
        out.send();
    }

    private void getxattr(Node node, int size, byte[] name, Reply out) throws IOException {
        byte[] v = image.xattrs(node).get(new String(name, StandardCharsets.UTF_8));
        if (v == null) {
            out.error(ENODATA);
            return;
        }
        sized(v, size, out);
    }

    private void listxattr(Node node, int size, Reply out) throws IOException {
        Map<String, byte[]> x = image.xattrs(node);
        java.io.ByteArrayOutputStream names = new java.io.ByteArrayOutputStream();
        for (String k : x.keySet()) {
            names.writeBytes(k.getBytes(StandardCharsets.UTF_8));
            names.write(0);
        }
        sized(names.toByteArray(), size, out);
    }

    /** The xattr convention: size 0 asks for the length, a buffer too small is ERANGE. */
    private void sized(byte[] v, int size, Reply out) {
        if (size == 0) {
            out.start(out.unique).putInt(v.length).putInt(0);
            out.send();
        } else if (v.length > size || v.length > MAX_READ) out.error(ERANGE);
        else {
            out.start(out.unique).put(v);
            out.send();
        }
    }
}
