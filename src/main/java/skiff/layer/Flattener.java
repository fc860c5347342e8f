package skiff.layer;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Applies an image's layers (image-spec layer.md: changesets with {@code .wh.} whiteouts and
 * {@code .wh..wh..opq} opaque markers) and streams the resulting tree into a {@link TreeSink}, straight
 * from the compressed blobs, without an unpacked tree on disk.
 *
 * <p>One pass first: {@link OnePass} reads the layers top down, each decompressed once, and writes every file that
 * survives as its content streams by. What that order cannot decide alone (an upper entry below a path that a lower
 * layer makes a symbolic link, a hard link across layers, a path listed twice in one layer: none of them in images
 * that Docker, BuildKit, Buildah or Kaniko build) makes it stop; the sink is {@linkplain TreeSink#restart()
 * restarted} and the two bottom-up passes below run instead.
 *
 * <p>The two passes. Pass 1 reads every layer's tar headers (content skipped) in order and builds the final
 * tree in memory: per path its type and metadata, and for regular files which layer entry supplies the
 * content (an "inode" shared by hard links). Pass 2 emits the directories (parents first), then streams
 * the layers again and hands each surviving file to the sink as its content comes by (only layers that
 * still supply something are read, and inflated again: these stacks are rare), then symlinks and special files,
 * then hard links.
 *
 * <p>Parent links: when an entry's parent path goes through a symbolic link of the tree built so far
 * (lower layers and earlier entries of the same layer), the entry goes where the link leads, as umoci
 * (securejoin) and containerd's naive applier (fs.RootPath) place it: {@code lib/libx.so} over
 * {@code lib -> usr/lib} is {@code usr/lib/libx.so}. Links are resolved in the in-memory tree, never on
 * disk, the way the kernel would inside the container: an absolute target starts again at the image
 * root and ".." stops at it, so every result is a path of the tree. Whiteouts and hard-link targets are
 * resolved the same way. The entry's own last component is never followed: a directory entry named
 * like a symlink replaces it, as in every tool.
 *
 * <p>Untrusted input: names are normalised (leading '/' and "." components dropped); an entry with a
 * ".." component, an entry whose (resolved) parent is not a directory, a parent behind more than
 * {@link Limits#MAX_LINK_HOPS} links (a loop), a hard link to a missing path or to a directory, and
 * names, resolved paths or link targets longer than Linux accepts make the whole conversion fail with
 * exit 5 and a message naming the layer and entry. In one pass, files written before the refusal stay in the sink's
 * temporary output, which the conversion deletes; no link is written before all layers are read. Size and count
 * limits are in {@link Limits}.
 */
public final class Flattener {
    static final String WHITEOUT = ".wh.";
    static final String OPAQUE = ".wh..wh..opq";
    private static final int NAME_MAX = 255;
    static final TreeSink.Metadata IMPLICIT_DIR = new TreeSink.Metadata(0755, 0, 0, 0, Map.of());

    private final List<LayerSource> layers;
    private final Limits limits;
    private final Consumer<String> warnings;
    private final int threads;

    private final Dir root = new Dir(IMPLICIT_DIR, -1);
    long nodes;
    int unknownTypes;
    int droppedXattrs;

    /**
     * What was written; {@code twoPasses}: null when each layer was read once, top down (see {@link OnePass}), else why
     * the layers needed two passes.
     */
    public record Stats(long directories, long files, long bytes, long symlinks, long specials, long hardlinks, String twoPasses) {
        public boolean onePass() {
            return twoPasses == null;
        }
    }

    public Flattener(List<LayerSource> layers, Limits limits, Consumer<String> warnings) {
        this(layers, limits, warnings, Runtime.getRuntime().availableProcessors());
    }

    /**
     * {@code threads}: in one pass, over 2 lets the next layer inflate ahead (see {@link OnePass}); in two passes, how
     * many layers pass 1 may decompress at once (their headers are still applied in order).
     */
    public Flattener(List<LayerSource> layers, Limits limits, Consumer<String> warnings, int threads) {
        this.layers = List.copyOf(layers);
        this.limits = limits;
        this.warnings = warnings;
        this.threads = Math.max(1, threads);
    }

    /** Flattens {@code layers} (lowest first) into {@code sink} and calls {@link TreeSink#finish()}. */
    public static Stats flatten(List<LayerSource> layers, TreeSink sink, Limits limits, Consumer<String> warnings) throws IOException {
        return new Flattener(layers, limits, warnings).run(sink);
    }

    public static Stats flatten(List<LayerSource> layers, TreeSink sink, Limits limits, Consumer<String> warnings, int threads) throws IOException {
        return new Flattener(layers, limits, warnings, threads).run(sink);
    }

    /**
     * Flattens into {@code sink}: in one pass, top down, unless the layers need the bottom-up passes, in which case the
     * sink is {@linkplain TreeSink#restart() restarted} and they run instead.
     */
    public Stats run(TreeSink sink) throws IOException {
        if (!TWO_PASS_ONLY) {
            try {
                return new OnePass(this, layers, limits, threads).run(sink);
            } catch (OutOfMemoryError e) {
                throw outOfMemory(e); // the tree, nearly all this heap held, is unreachable now
            } catch (OnePass.StartOver why) {
                if (TRACE) System.err.println("skiff: two passes: " + why.getMessage());
                sink.restart();
                nodes = 0;
                unknownTypes = 0;
                droppedXattrs = 0;
                reason = why.getMessage();
            }
        }
        return twoPasses(sink);
    }

    private String reason = "two passes were asked for";

    /** Tests compare the two ways. */
    static volatile boolean TWO_PASS_ONLY = false;
    private static final boolean TRACE = skiff.util.Env.is("SKIFF_TRACE", "1");

    private Stats twoPasses(TreeSink sink) throws IOException {
        LayerStreams.Budget budget = new LayerStreams.Budget(limits);
        try {
            if (threads == 1 || layers.size() <= 1) {
                for (int i = 0; i < layers.size(); i++) readHeaders(i, budget);
            } else {
                readHeadersInParallel(budget);
            }
        } catch (OutOfMemoryError e) {
            // The tree is nearly all this heap holds; dropping it makes room to report the problem.
            root.children.clear();
            throw outOfMemory(e);
        }
        warnSkipped();
        return emit(sink);
    }

    SkiffException outOfMemory(OutOfMemoryError e) {
        return new SkiffException(ExitCode.STORAGE, "not enough memory for the file tree of this image (" + nodes
                + " entries so far): give Java more heap, e.g. JAVA_TOOL_OPTIONS=-Xmx8g, or lower [convert] max-entries", e);
    }

    /** Once all layers are read: what was left out, one line each. */
    void warnSkipped() {
        if (unknownTypes > 0)
            warnings.accept("skipped " + unknownTypes + " tar entries of types an image cannot use (volume labels, multi-volume parts)");
        if (droppedXattrs > 0)
            warnings.accept("skipped " + droppedXattrs + " extended attributes whose binary values the tar reader cannot carry");
    }

    // ---------------------------------------------------------------- the in-memory tree

    private abstract static sealed class Node permits Dir, File, Symlink, Special {
        TreeSink.Metadata meta;
        /** The layer that last created or touched the node: whiteouts and opaque markers only hide lower ones. */
        int layer;

        Node(TreeSink.Metadata meta, int layer) {
            this.meta = meta;
            this.layer = layer;
        }
    }

    private static final class Dir extends Node {
        final TreeMap<String, Node> children = new TreeMap<>();

        Dir(TreeSink.Metadata meta, int layer) {
            super(meta, layer);
        }
    }

    /** The content and metadata of a regular file, shared by all its hard links. */
    private static final class Inode {
        final TreeSink.Metadata meta;
        final int layer;
        final long entry;
        final long size;
        String primary;

        Inode(TreeSink.Metadata meta, int layer, long entry, long size) {
            this.meta = meta;
            this.layer = layer;
            this.entry = entry;
            this.size = size;
        }
    }

    private static final class File extends Node {
        final Inode inode;

        File(Inode inode, int layer) {
            super(inode.meta, layer);
            this.inode = inode;
        }
    }

    private static final class Symlink extends Node {
        final String target;

        Symlink(TreeSink.Metadata meta, int layer, String target) {
            super(meta, layer);
            this.target = target;
        }
    }

    private static final class Special extends Node {
        final TreeSink.SpecialType type;
        final int major, minor;

        Special(TreeSink.Metadata meta, int layer, TreeSink.SpecialType type, int major, int minor) {
            super(meta, layer);
            this.type = type;
            this.major = major;
            this.minor = minor;
        }
    }

    // ---------------------------------------------------------------- pass 1

    static TarArchiveInputStream tar(InputStream in) {
        return new TarArchiveInputStream(in, StandardCharsets.UTF_8.name());
    }

    private void readHeaders(int layer, LayerStreams.Budget budget) throws IOException {
        LayerSource src = layers.get(layer);
        try (InputStream in = LayerStreams.open(src, budget); TarArchiveInputStream tar = tar(in)) {
            long index = 0;
            for (TarArchiveEntry e; (e = nextEntry(tar, src)) != null; index++) apply(layer, index, e);
        }
    }

    private static final int BATCH = 512;
    private static final Object END = new Object();

    /**
     * Pass 1 with the layers decompressed concurrently: one reader per layer (at most {@code threads} at
     * a time, started in layer order) hands batches of headers through a small bounded queue, and this
     * thread applies them strictly in layer order. Memory stays bounded (readers ahead block on their
     * queues), and the first error, of a reader or of the tree, stops everything.
     */
    private void readHeadersInParallel(LayerStreams.Budget budget) throws IOException {
        int n = layers.size();
        java.util.concurrent.atomic.AtomicBoolean cancelled = new java.util.concurrent.atomic.AtomicBoolean();
        List<java.util.concurrent.BlockingQueue<Object>> queues = new ArrayList<>();
        for (int i = 0; i < n; i++) queues.add(new java.util.concurrent.ArrayBlockingQueue<>(16));
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(Math.min(threads, n),
                Thread.ofPlatform().daemon().name("skiff-layer-", 0).factory());
        try {
            // FIFO submission: the earliest unfinished layer always has a running reader, so no deadlock.
            for (int i = 0; i < n; i++) {
                int layer = i;
                pool.execute(() -> readLayer(layer, queues.get(layer), budget, cancelled));
            }
            for (int layer = 0; layer < n; layer++) {
                long index = 0;
                for (Object o; (o = queues.get(layer).take()) != END; ) {
                    if (o instanceof RuntimeException e) throw e;
                    if (o instanceof IOException e) throw e;
                    if (o instanceof Error e) throw e;
                    @SuppressWarnings("unchecked") List<TarArchiveEntry> batch = (List<TarArchiveEntry>) o;
                    for (TarArchiveEntry e : batch) apply(layer, index++, e);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while reading layers");
        } finally {
            cancelled.set(true);
            pool.shutdownNow();
        }
    }

    private void readLayer(int layer, java.util.concurrent.BlockingQueue<Object> q, LayerStreams.Budget budget,
                           java.util.concurrent.atomic.AtomicBoolean cancelled) {
        LayerSource src = layers.get(layer);
        try {
            if (cancelled.get()) return;
            try (InputStream in = LayerStreams.open(src, budget); TarArchiveInputStream tar = tar(in)) {
                List<TarArchiveEntry> batch = new ArrayList<>(BATCH);
                for (TarArchiveEntry e; (e = nextEntry(tar, src)) != null; ) {
                    if (cancelled.get()) return;
                    batch.add(e);
                    if (batch.size() == BATCH) {
                        q.put(batch);
                        batch = new ArrayList<>(BATCH);
                    }
                }
                if (!batch.isEmpty()) q.put(batch);
                }
            q.put(END);
        } catch (InterruptedException e) {
            // cancelled: the applying thread has stopped already
        } catch (Throwable t) {
            try {
                q.put(t);
            } catch (InterruptedException ignored) {
                // cancelled
            }
        }
    }

    static TarArchiveEntry nextEntry(TarArchiveInputStream tar, LayerSource src) {
        try {
            return tar.getNextEntry();
        } catch (IOException | IllegalArgumentException e) {
            throw new SkiffException(ExitCode.STORAGE, "layer " + src.name() + " is not a valid tar archive: "
                    + e.getMessage() + " (the blob is corrupt or not a layer; remove the image and pull it again)", e);
        }
    }

    SkiffException reject(int layer, String entry, String why) {
        return new SkiffException(ExitCode.STORAGE, "layer " + layers.get(layer).name() + " has a hostile or broken entry '"
                + entry + "': " + why + "; refusing to convert the image (it was not built by a well-behaved tool)");
    }

    /** Splits a tar name into components, refusing ".." and over-long names. */
    List<String> components(int layer, String name) {
        if (name.indexOf('\0') >= 0) throw reject(layer, name.replace('\0', '?'), "the name contains a NUL byte");
        if (name.getBytes(StandardCharsets.UTF_8).length > limits.maxPathBytes())
            throw reject(layer, name.substring(0, 80) + "...", "the name is longer than " + limits.maxPathBytes() + " bytes");
        List<String> out = new ArrayList<>();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) continue;
            if (c.equals("..")) throw reject(layer, name, "'..' would leave the root filesystem");
            if (c.getBytes(StandardCharsets.UTF_8).length > NAME_MAX)
                throw reject(layer, name, "a path component is longer than " + NAME_MAX + " bytes");
            out.add(c);
        }
        return out;
    }

    void count(int layer, String name) {
        if (++nodes > limits.maxEntries())
            throw new SkiffException(ExitCode.STORAGE, "the image has more than " + limits.maxEntries() + " entries (at layer "
                    + layers.get(layer).name() + ", entry '" + name + "'): refusing to convert it (raise [convert] max-entries in config.toml if it is genuine)");
    }

    /**
     * Where the directory {@code parent} (of entry {@code name}) lies in the tree: {@code parent} itself
     * when no symbolic link is on the way (nearly always), else the path with every link followed. Missing
     * and non-directory components are kept as they are (a missing one will be created; a non-directory is
     * refused by {@link #walk}).
     */
    private List<String> resolve(int layer, String name, List<String> parent) {
        Dir cur = root;
        for (String c : parent) {
            Node child = cur.children.get(c);
            if (child instanceof Symlink) return followLinks(layer, name, parent);
            if (!(child instanceof Dir d)) break; // missing or not a directory: nothing below is a link
            cur = d;
        }
        return parent;
    }

    /**
     * Path resolution as the kernel does it inside the container, over the in-memory tree: a link's target
     * replaces the link, an absolute one starting again at the image root; ".." goes up, and at the root
     * stays there (as securejoin and fs.RootPath clamp it); below a missing component everything is literal.
     */
    private List<String> followLinks(int layer, String name, List<String> parent) {
        Deque<String> todo = new ArrayDeque<>(parent);
        List<String> done = new ArrayList<>();
        List<Dir> dirs = new ArrayList<>(); // the directory at done[0..k], or null where none exists (yet)
        int hops = 0, steps = 0;
        while (!todo.isEmpty()) {
            String c = todo.pollFirst();
            if (++steps > Limits.MAX_RESOLVE_STEPS)
                throw reject(layer, name, "resolving its parent '" + String.join("/", parent) + "' walks more than "
                        + Limits.MAX_RESOLVE_STEPS + " path components through symbolic links");
            if (c.isEmpty() || c.equals(".")) continue;
            if (c.equals("..")) {
                if (!done.isEmpty()) {
                    done.removeLast();
                    dirs.removeLast();
                }
                continue;
            }
            Dir here = done.isEmpty() ? root : dirs.getLast();
            Node child = here == null ? null : here.children.get(c);
            if (child instanceof Symlink s) {
                if (++hops > Limits.MAX_LINK_HOPS)
                    throw reject(layer, name, "its parent '" + String.join("/", parent) + "' goes through more than "
                            + Limits.MAX_LINK_HOPS + " symbolic links (too many levels of symbolic links: a loop?)");
                String[] parts = s.target.split("/", -1);
                for (int k = parts.length - 1; k >= 0; k--) todo.addFirst(parts[k]);
                if (s.target.startsWith("/")) {
                    done.clear();
                    dirs.clear();
                }
                continue;
            }
            if (child == null && c.getBytes(StandardCharsets.UTF_8).length > NAME_MAX)
                throw reject(layer, name, "its parent '" + String.join("/", parent)
                        + "' leads through a symbolic link to a path component longer than " + NAME_MAX + " bytes");
            done.add(c);
            dirs.add(child instanceof Dir d ? d : null);
        }
        return done;
    }

    /**
     * The directory at {@code path} (a resolved path: no symlink on it). With {@code create}, missing
     * directories are made (0755 root: a tar may list a file before, or without, its parent) and existing
     * ones are marked as touched by {@code layer}; without, a missing or non-directory component gives
     * null. {@code asNamed} is the parent as the entry names it, for the message.
     */
    private Dir walk(int layer, String name, List<String> path, List<String> asNamed, boolean create) {
        Dir cur = root;
        for (int i = 0; i < path.size(); i++) {
            Node child = cur.children.get(path.get(i));
            if (child instanceof Dir d) {
                if (create) d.layer = layer;
                cur = d;
            } else if (child == null) {
                if (!create) return null;
                count(layer, name);
                Dir d = new Dir(IMPLICIT_DIR, layer);
                cur.children.put(path.get(i), d);
                cur = d;
            } else {
                if (!create) return null;
                String at = String.join("/", path.subList(0, i + 1));
                throw reject(layer, name, path == asNamed ? "its parent '" + at + "' is not a directory"
                        : "its parent '" + String.join("/", asNamed) + "' leads through symbolic links to '" + at
                        + "', which is not a directory");
            }
        }
        return cur;
    }

    /** The parent of a new entry: resolved, within the path length limit, created where missing. */
    private Dir parentFor(int layer, String name, List<String> comps) {
        List<String> asNamed = comps.subList(0, comps.size() - 1);
        List<String> path = resolve(layer, name, asNamed);
        if (path != asNamed) checkLength(layer, name, path, comps.getLast());
        return walk(layer, name, path, asNamed, true);
    }

    private void checkLength(int layer, String name, List<String> parent, String base) {
        long chars = base.length();
        for (String c : parent) chars += c.length() + 1;
        if (3 * chars <= limits.maxPathBytes()) return; // UTF-8 takes at most 3 bytes per Java char
        long bytes = base.getBytes(StandardCharsets.UTF_8).length;
        for (String c : parent) bytes += c.getBytes(StandardCharsets.UTF_8).length + 1;
        if (bytes > limits.maxPathBytes())
            throw reject(layer, name, "once the symbolic links of its parent are followed, its path is longer than "
                    + limits.maxPathBytes() + " bytes");
    }

    private void apply(int layer, long index, TarArchiveEntry e) {
        String name = e.getName();
        List<String> comps = components(layer, name);
        if (comps.isEmpty()) {
            if (!e.isDirectory()) throw reject(layer, name, "the root of the image must be a directory");
            root.meta = metadata(e);
            return;
        }
        String base = comps.getLast();
        if (base.startsWith(WHITEOUT)) {
            List<String> asNamed = comps.subList(0, comps.size() - 1);
            Dir parent = walk(layer, name, resolve(layer, name, asNamed), asNamed, false);
            if (parent == null) return; // nothing below to hide
            if (base.equals(OPAQUE)) opaque(parent, layer);
            else if (!base.startsWith(WHITEOUT + WHITEOUT)) whiteout(parent, base.substring(WHITEOUT.length()), layer);
            // other .wh..wh.* names are aufs bookkeeping (e.g. .wh..wh.plnk): never part of the tree
            return;
        }
        Node node;
        if (e.isDirectory()) {
            Dir parent = parentFor(layer, name, comps);
            if (parent.children.get(base) instanceof Dir d) {
                // A directory listed again keeps its lower content; only its metadata changes.
                d.meta = metadata(e);
                d.layer = layer;
                return;
            }
            node = new Dir(metadata(e), layer);
            put(parent, base, node, layer, name);
            return;
        }
        if (e.isSymbolicLink()) {
            String target = e.getLinkName();
            if (target.isEmpty() || target.indexOf('\0') >= 0 || target.getBytes(StandardCharsets.UTF_8).length >= limits.maxPathBytes())
                throw reject(layer, name, "the symbolic link target is empty or longer than " + (limits.maxPathBytes() - 1) + " bytes");
            node = new Symlink(metadata(e), layer, target);
        } else if (e.isLink()) {
            node = hardlink(layer, name, comps, e.getLinkName());
            if (node == null) return; // a link to itself changes nothing
        } else if (e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
            TreeSink.SpecialType t = e.isCharacterDevice() ? TreeSink.SpecialType.CHAR_DEVICE
                    : e.isBlockDevice() ? TreeSink.SpecialType.BLOCK_DEVICE : TreeSink.SpecialType.FIFO;
            node = new Special(metadata(e), layer, t, e.getDevMajor(), e.getDevMinor());
        } else if (isRegular(e)) {
            long size = e.isSparse() ? e.getRealSize() : e.getSize();
            node = new File(new Inode(metadata(e), layer, index, size), layer);
        } else {
            unknownTypes++;
            return;
        }
        Dir parent = parentFor(layer, name, comps);
        put(parent, base, node, layer, name);
    }

    static boolean isRegular(TarArchiveEntry e) {
        byte f = e.getLinkFlag();
        return f == TarConstants.LF_NORMAL || f == TarConstants.LF_OLDNORM || f == TarConstants.LF_CONTIG
                || f == TarConstants.LF_GNUTYPE_SPARSE;
    }

    private void put(Dir parent, String base, Node node, int layer, String name) {
        // Replacing anything (a directory included, with its subtree) is what a later layer's entry means.
        if (parent.children.put(base, node) == null) count(layer, name);
    }

    /**
     * A hard link entry: the same inode as its target when that is a file; a copy of a symlink or device.
     * The target's parent is resolved like an entry's (its last component is not followed: a hard link to
     * a symlink is a symlink). Null for a link to itself.
     */
    private Node hardlink(int layer, String name, List<String> comps, String linkName) {
        List<String> t = components(layer, linkName);
        if (t.isEmpty()) throw reject(layer, name, "a hard link to the root directory");
        List<String> tNamed = t.subList(0, t.size() - 1);
        List<String> tParent = resolve(layer, name, tNamed);
        Dir dir = walk(layer, name, tParent, tNamed, false);
        Node target = dir == null ? null : dir.children.get(t.getLast());
        if (target == null)
            throw reject(layer, name, "a hard link to '" + linkName + "', which no earlier entry or layer created");
        List<String> parent = comps.subList(0, comps.size() - 1);
        if (comps.getLast().equals(t.getLast()) && tParent.equals(resolve(layer, name, parent))) return null;
        return switch (target) {
            case File f -> new File(f.inode, layer);
            case Symlink s -> new Symlink(s.meta, layer, s.target);
            case Special s -> new Special(s.meta, layer, s.type, s.major, s.minor);
            case Dir d -> throw reject(layer, name, "a hard link to the directory '" + linkName + "'");
        };
    }

    /** {@code .wh.NAME}: hides NAME of lower layers; what this same layer made stays (layer.md). */
    private void whiteout(Dir parent, String name, int layer) {
        Node n = parent.children.get(name);
        if (n == null) return;
        if (n.layer < layer) parent.children.remove(name);
        else if (n instanceof Dir d) opaque(d, layer); // recreated in this layer: only its lower content goes
    }

    /** {@code .wh..wh..opq}: the directory shows only what this layer puts in it. */
    private static void opaque(Dir dir, int layer) {
        var it = dir.children.entrySet().iterator();
        while (it.hasNext()) {
            Node n = it.next().getValue();
            if (n.layer < layer) it.remove();
            else if (n instanceof Dir d) opaque(d, layer);
        }
    }

    TreeSink.Metadata metadata(TarArchiveEntry e) {
        Map<String, byte[]> xattrs = null;
        Map<String, String> pax = e.getExtraPaxHeaders();
        if (!pax.isEmpty()) {
            for (var h : pax.entrySet()) {
                String k = h.getKey();
                byte[] v;
                if (k.startsWith("SCHILY.xattr.")) {
                    // commons-compress decodes PAX values as UTF-8: a binary value that was not valid UTF-8 is lost.
                    if (h.getValue().indexOf('\uFFFD') >= 0) {
                        droppedXattrs++;
                        continue;
                    }
                    k = k.substring("SCHILY.xattr.".length());
                    v = h.getValue().getBytes(StandardCharsets.UTF_8);
                } else if (k.startsWith("LIBARCHIVE.xattr.")) {
                    k = java.net.URLDecoder.decode(k.substring("LIBARCHIVE.xattr.".length()), StandardCharsets.UTF_8);
                    try {
                        v = Base64.getDecoder().decode(h.getValue().strip());
                    } catch (IllegalArgumentException bad) {
                        droppedXattrs++;
                        continue;
                    }
                } else continue;
                if (xattrs == null) xattrs = new TreeMap<>();
                xattrs.put(k, v);
            }
        }
        long mtime = e.getLastModifiedTime() == null ? 0 : e.getLastModifiedTime().toMillis() / 1000;
        return new TreeSink.Metadata(e.getMode() & 07777, (int) e.getLongUserId(), (int) e.getLongGroupId(), mtime, xattrs);
    }

    // ---------------------------------------------------------------- pass 2

    private Stats emit(TreeSink sink) throws IOException {
        long[] dirs = {0}, files = {0}, bytes = {0}, links = {0}, specials = {0}, hard = {0};
        // Content needed from each layer, keyed by entry index; the first path of an inode (in tree order) carries it.
        List<Map<Long, Inode>> wanted = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) wanted.add(new HashMap<>());

        sink.directory("", root.meta);
        dirs[0]++;
        long[] planned = {1, 0};
        walkTree((path, node) -> {
            planned[0]++;
            if (node instanceof Dir d) {
                sink.directory(path, d.meta);
                dirs[0]++;
            } else if (node instanceof File f && f.inode.primary == null) {
                f.inode.primary = path;
                wanted.get(f.inode.layer).put(f.inode.entry, f.inode);
                planned[1] += f.inode.size;
            }
        });
        sink.planned(planned[0], planned[1]);

        LayerStreams.Budget budget = new LayerStreams.Budget(limits);
        for (int layer = 0; layer < layers.size(); layer++) {
            Map<Long, Inode> want = wanted.get(layer);
            if (want.isEmpty()) continue;
            ContentVisitor emitFile = (ino, size, content) -> {
                sink.file(ino.primary, ino.meta, size, content);
                files[0]++;
                bytes[0] += size;
            };
            if (threads > 1) streamContentPrefetched(layers.get(layer), want, budget, emitFile);
            else streamContent(layers.get(layer), want, budget, emitFile);
        }

        walkTree((path, node) -> {
            switch (node) {
                case Symlink s -> {
                    sink.symlink(path, s.meta, s.target);
                    links[0]++;
                }
                case Special s -> {
                    sink.special(path, s.meta, s.type, s.major, s.minor);
                    specials[0]++;
                }
                default -> {}
            }
        });
        walkTree((path, node) -> {
            if (node instanceof File f && !f.inode.primary.equals(path)) {
                sink.hardlink(path, f.inode.primary);
                hard[0]++;
            }
        });
        sink.finish();
        return new Stats(dirs[0], files[0], bytes[0], links[0], specials[0], hard[0], reason);
    }

    @FunctionalInterface
    private interface ContentVisitor {
        void visit(Inode ino, long size, InputStream content) throws IOException;
    }

    /** Hands {@code visitor} the content of every wanted entry of the layer, in tar order, on this thread. */
    private void streamContent(LayerSource src, Map<Long, Inode> want, LayerStreams.Budget budget, ContentVisitor visitor) throws IOException {
        try (InputStream in = LayerStreams.open(src, budget); TarArchiveInputStream tar = tar(in)) {
            long index = 0;
            int left = want.size();
            byte[] scratch = new byte[8192];
            for (TarArchiveEntry e; left > 0 && (e = nextEntry(tar, src)) != null; index++) {
                Inode ino = want.get(index);
                if (ino == null) continue;
                long size = checkedSize(src, e, ino);
                ExactStream content = new ExactStream(tar, size, src.name(), e.getName());
                visitor.visit(ino, size, content);
                content.drain(scratch);
                left--;
            }
            if (left > 0) throw endedEarly(src);
        }
    }

    private static long checkedSize(LayerSource src, TarArchiveEntry e, Inode ino) {
        long size = e.isSparse() ? e.getRealSize() : e.getSize();
        if (size != ino.size)
            throw new SkiffException(ExitCode.STORAGE, "layer " + src.name() + " changed while it was read (entry '"
                    + e.getName() + "'); the store is being modified or is corrupt: pull the image again");
        return size;
    }

    private static SkiffException endedEarly(LayerSource src) {
        return new SkiffException(ExitCode.STORAGE, "layer " + src.name() + " ended early on the second read; the store is being modified or is corrupt: pull the image again");
    }

    /** As {@link #streamContent}, with decompression on a reader thread that runs ahead (see {@link Prefetch}). */
    private void streamContentPrefetched(LayerSource src, Map<Long, Inode> want, LayerStreams.Budget budget,
                                         ContentVisitor visitor) throws IOException {
        Prefetch.<Inode>run("skiff-layer-content", out -> streamContent(src, want, budget, out::file), visitor::visit);
    }

    @FunctionalInterface
    private interface Visitor {
        void visit(String path, Node node) throws IOException;
    }

    /** Pre-order, sorted by name, iteratively (deep trees must not overflow the stack). */
    private void walkTree(Visitor v) throws IOException {
        Deque<Map.Entry<String, Dir>> stack = new ArrayDeque<>();
        stack.push(Map.entry("", root));
        while (!stack.isEmpty()) {
            var top = stack.pop();
            String prefix = top.getKey().isEmpty() ? "" : top.getKey() + "/";
            List<Map.Entry<String, Dir>> subdirs = new ArrayList<>();
            for (var c : top.getValue().children.entrySet()) {
                String path = prefix + c.getKey();
                v.visit(path, c.getValue());
                if (c.getValue() instanceof Dir d) subdirs.add(Map.entry(path, d));
            }
            for (int i = subdirs.size() - 1; i >= 0; i--) stack.push(subdirs.get(i));
        }
    }

    /** Exactly {@code size} bytes of the current tar entry; close() leaves the tar stream open. */
    static final class ExactStream extends FilterInputStream {
        private long left;
        private final String layer, entry;

        ExactStream(InputStream tar, long size, String layer, String entry) {
            super(tar);
            this.left = size;
            this.layer = layer;
            this.entry = entry;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) return -1;
            int b = in.read();
            if (b < 0) throw truncated();
            left--;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) return -1;
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) throw truncated();
            left -= n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = in.skip(Math.min(n, left));
            left -= s;
            return s;
        }

        @Override
        public int available() throws IOException {
            return (int) Math.min(left, in.available());
        }

        @Override
        public void close() {}

        void drain(byte[] scratch) throws IOException {
            while (left > 0) read(scratch, 0, scratch.length);
        }

        private SkiffException truncated() {
            return new SkiffException(ExitCode.STORAGE, "layer " + layer + " is truncated inside entry '" + entry
                    + "' (the blob is corrupt; remove the image and pull it again)");
        }
    }
}
