package skiff.layer;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/**
 * Receives a flattened root filesystem (all layers applied, whiteouts resolved), entry by entry, so a
 * SquashFS image or a directory can be written straight from the compressed layers without an unpacked
 * tree in between.
 *
 * <p>Contract (the flattener guarantees it, every sink may rely on it):
 * <ul>
 *   <li>Paths are relative, normalised, '/'-separated, without "." or ".." components; the root is "".</li>
 *   <li>Every path is emitted exactly once. Regular files come first or after the directories: a one-pass
 *       flattening writes each file as its layer streams by, before the directories are known, so a sink makes a
 *       file's missing parents itself and gives them their metadata when {@link #directory} names them. Every
 *       directory of the tree is named, each after its parent (the root "" first of all), before the symbolic links
 *       and special files; hard links come last, each naming a regular file that was already emitted.</li>
 *   <li>A directory's metadata (notably a mode without write permission) is meant for the finished tree;
 *       a sink writing to disk applies it at {@link #finish()}.</li>
 *   <li>{@link #restart()} may come once, before {@link #finish()}: everything emitted so far is void and the
 *       tree is emitted again from the start.</li>
 * </ul>
 */
public interface TreeSink {

    /** Owner, mode (permission bits incl. setuid/setgid/sticky, no type bits), mtime and xattrs of an entry. */
    record Metadata(int mode, int uid, int gid, long mtimeSeconds, Map<String, byte[]> xattrs) {
        public Metadata {
            xattrs = xattrs == null ? Map.of() : Map.copyOf(xattrs);
        }
    }

    /** Kinds of special file. */
    enum SpecialType { CHAR_DEVICE, BLOCK_DEVICE, FIFO, SOCKET }

    void directory(String path, Metadata meta) throws IOException;

    /** {@code content} yields exactly {@code size} bytes; the sink reads it before returning. */
    void file(String path, Metadata meta, long size, InputStream content) throws IOException;

    void symlink(String path, Metadata meta, String target) throws IOException;

    /** A device node, FIFO or socket. A sink that cannot represent it skips it and says so via the callback it was given. */
    void special(String path, Metadata meta, SpecialType type, int major, int minor) throws IOException;

    /** {@code path} is another name for the regular file {@code target}, already emitted. */
    void hardlink(String path, String target) throws IOException;

    /**
     * Called once by a two-pass flattening, after the directories and before the first file: the whole tree holds {@code entries}
     * paths (the root and hard links included) and {@code contentBytes} bytes of file content. For progress.
     */
    default void planned(long entries, long contentBytes) {}

    /**
     * Forget everything emitted so far: the flattener starts over, in two passes (see {@code OnePass}). A sink that
     * cannot start over may refuse; then a layer stack that needs two passes cannot be flattened into it.
     */
    default void restart() throws IOException {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot start over");
    }

    /** The tree is complete: finalise (write tables, apply directory modes...). */
    void finish() throws IOException;
}
