package skiff.layer;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Flattens the layers top down, each decompressed once, handing every file's content to the sink as it streams by.
 *
 * <p>Reading the highest layer first makes each entry's fate known when it comes by: an entry is hidden when a higher
 * layer already supplied its path, replaced one of its parents by something other than a directory, or whited it out
 * (a whiteout or opaque marker of layer M hides what the layers below M have there, never what M itself has:
 * layer.md). What survives is final, so a file's content goes to the sink at once and the blocks of a hidden file are
 * never written. Directories, symbolic links, special files and hard links follow once all layers are read.
 *
 * <p>What this order cannot decide alone, it hands back ({@link StartOver}) to the {@link Flattener}'s two passes,
 * which apply the layers bottom up: an upper entry placed below a path that a lower layer makes a symbolic link
 * ({@code lib/x} over {@code lib -> usr/lib}, which puts it at {@code usr/lib/x}) or a file (a broken layer the two
 * passes refuse), also when a higher layer hides that entry now (it still went that way in its own time); a hard link
 * to an entry of another layer; a path listed twice in one layer; and a whiteout or opaque marker that comes after
 * entries of its own layer at the same place (whose meaning depends on that order). Images built by Docker, BuildKit,
 * Buildah or Kaniko have none of these. One case they do have costs a second read of one layer, not two passes: a file
 * a higher layer hides under the name its layer listed it with, but not under a hard link of that layer to it.
 *
 * <p>The result is what the two passes give, the same tree or the same refusal: {@code OnePassVsTwoPassTest} checks it
 * on random stacks.
 */
final class OnePass {
    /** This stack of layers needs the bottom-up passes; {@code getMessage()} says why (for a trace). */
    static final class StartOver extends RuntimeException {
        StartOver(String why) {
            super(why, null, false, false);
        }
    }

    private static final int NONE = Integer.MAX_VALUE;

    private final Flattener f;
    private final List<LayerSource> layers;
    private final Limits limits;
    private final int threads;
    private final Dir root = new Dir(-1);

    /** The entries of the layer being read, by path as named: what its hard links may point to. */
    private final Map<String, Node> layerEntries = new HashMap<>();
    /** Files of the layer being read whose content must be read again (see {@link #readDeferred}), by entry index. */
    private final Map<Long, Inode> deferred = new HashMap<>();

    OnePass(Flattener f, List<LayerSource> layers, Limits limits, int threads) {
        this.f = f;
        this.layers = layers;
        this.limits = limits;
        this.threads = threads;
        root.real = true;
    }

    // ---------------------------------------------------------------- the tree, as the layers read so far make it

    private abstract static sealed class Node permits Dir, File, Link, Special, Gone {
        /** The layer that made the node. */
        final int layer;
        /**
         * The lowest lower layer with an entry that this node now hides below itself (that entry went through what lay
         * here in its own time, which a layer further down may turn out to have made a symbolic link), and the lowest
         * that listed a directory here which this node hides (with, as {@code hiddenListedFirst}, a layer that did so
         * before such an entry).
         */
        int hiddenUse = NONE, hiddenListed = NONE, hiddenListedFirst = NONE;
        /** Paths below this node that hidden entries went through as directories, or listed as such. */
        Map<String, Way> hiddenWays;

        /** Hidden entries of lower layers went through here while something no higher listing covers was here. */
        boolean wentThrough(int listed, int listedFirst) {
            if (hiddenUse == NONE) return false;
            boolean first = hiddenListedFirst == hiddenListed;
            if (hiddenListed < listed) {
                listed = hiddenListed;
                listedFirst = first ? listed : NONE;
            }
            return !(listed < hiddenUse || listed == hiddenUse && listedFirst == listed);
        }

        void listedHidden(int layer) {
            if (hiddenUse != layer) hiddenListedFirst = layer;
            hiddenListed = layer;
        }

        Node(int layer) {
            this.layer = layer;
        }
    }

    private static final class Dir extends Node {
        final TreeMap<String, Node> children = new TreeMap<>();
        /** From the highest listing of the directory; null while no layer read so far listed it. */
        TreeSink.Metadata meta;
        int metaLayer = -1;
        /** The lowest layer that listed the directory, and the lowest that used it as a parent. */
        int minListed = NONE, minUsed = NONE;
        /** A layer that listed the directory before using it (a directory it made over a file of a lower layer). */
        int listedFirst = NONE;
        /** The lowest layer that made or listed it, or placed an entry below it. */
        int lowest = NONE;
        /** Entries of layers below {@code floor} are hidden at this path (a whiteout), or below it (an opaque marker too). */
        int selfFloor = -1, childFloor = -1;
        /** A layer that had a file or link here, which this (higher) directory hides. */
        int shadow = -1;
        /** Whether it is part of the tree: listed, or the parent of an entry. Otherwise only whiteouts lie below it. */
        boolean real;

        Dir(int layer) {
            super(layer);
        }
    }

    /**
     * A regular file's content and metadata, shared by its hard links. {@code origin}: its entry's path in its layer;
     * {@code primary}: the path its content is written at, null while a higher layer hides every name it has.
     * When a higher layer hides its entry but not a hard link of the same layer to it, its content (which streamed by
     * unwritten) is read again once the layer ends: see {@link #readDeferred}.
     */
    private static final class Inode {
        final TreeSink.Metadata meta;
        final long size;
        final String origin;
        /** Its entry's index in its layer (the same path may be listed twice, the later one winning). */
        final long entry;
        String primary;

        Inode(TreeSink.Metadata meta, long size, String origin, long entry) {
            this.meta = meta;
            this.size = size;
            this.origin = origin;
            this.entry = entry;
        }
    }

    private static final class File extends Node {
        final Inode inode;

        File(int layer, Inode inode) {
            super(layer);
            this.inode = inode;
        }
    }

    private static final class Link extends Node {
        final TreeSink.Metadata meta;
        final String target;

        Link(int layer, TreeSink.Metadata meta, String target) {
            super(layer);
            this.meta = meta;
            this.target = target;
        }
    }

    private static final class Special extends Node {
        final TreeSink.Metadata meta;
        final TreeSink.SpecialType type;
        final int major, minor;

        Special(int layer, TreeSink.Metadata meta, TreeSink.SpecialType type, int major, int minor) {
            super(layer);
            this.meta = meta;
            this.type = type;
            this.major = major;
            this.minor = minor;
        }
    }

    /**
     * A path below a hiding node as hidden entries used it: the lowest layers that went through it and that listed it
     * as a directory, and the lowest before those (layers come highest first, so the lowest is the current one when it
     * has done so), and a layer that listed it before going through it.
     */
    private static final class Way {
        int used = NONE, usedBefore = NONE, listed = NONE, listedBefore = NONE, listedFirst = NONE;

        void use(int layer) {
            if (used != layer) usedBefore = used;
            used = layer;
        }

        void list(int layer) {
            if (listed != layer) listedBefore = listed;
            if (used != layer) listedFirst = layer;
            listed = layer;
        }

        /** Whether a layer above {@code layer} went through here where no layer between made it a directory first. */
        boolean wentThrough(int layer) {
            int u = used == layer ? usedBefore : used, l = listed == layer ? listedBefore : listed;
            return u != NONE && !(l < u || l == u && listedFirst == l);
        }
    }

    /** A whiteout: hides the path in the layers below {@code layer}. */
    private static final class Gone extends Node {
        Gone(int layer) {
            super(layer);
        }
    }

    /** A directory of the current layer (a hard link to it is refused by the two passes). */
    private static final Node LISTED_DIR = new Gone(-1);

    // ---------------------------------------------------------------- reading

    /** A file whose content is next on the stream, and where it goes. */
    private record Placed(String path, TreeSink.Metadata meta) {}

    Flattener.Stats run(TreeSink sink) throws IOException {
        long[] files = {0}, bytes = {0};
        Prefetch.Files<Placed> write = (p, size, content) -> {
            sink.file(p.path(), p.meta(), size, content);
            files[0]++;
            bytes[0] += size;
        };
        LayerStreams.Budget budget = new LayerStreams.Budget(limits);
        if (threads == 1) readLayers(budget, write);
        else Prefetch.run("skiff-layer", out -> readLayers(budget, out), write);
        f.warnSkipped();
        return emit(sink, files[0], bytes[0]);
    }

    /**
     * With cores to spare (more than the reader and two compressors), the next layer inflates ahead on a thread of its
     * own ({@link Ahead}) while this one is read, so two layers inflate at once.
     */
    private void readLayers(LayerStreams.Budget budget, Prefetch.Files<Placed> out) throws IOException {
        byte[] scratch = new byte[8192];
        Ahead ahead = null;
        try {
            for (int layer = layers.size() - 1; layer >= 0; layer--) {
                InputStream in = ahead != null ? ahead.stream() : LayerStreams.open(layers.get(layer), budget);
                ahead = threads > 2 && layer > 0 ? new Ahead(layers.get(layer - 1), budget) : null;
                readLayer(layer, in, budget, out, scratch);
            }
        } finally {
            if (ahead != null) ahead.close();
        }
        layerEntries.clear();
    }

    private void readLayer(int layer, InputStream stream, LayerStreams.Budget budget, Prefetch.Files<Placed> out, byte[] scratch)
            throws IOException {
        LayerSource src = layers.get(layer);
        layerEntries.clear();
        try (InputStream in = stream; TarArchiveInputStream tar = Flattener.tar(in)) {
            long index = 0;
            for (TarArchiveEntry e; (e = Flattener.nextEntry(tar, src)) != null; index++) {
                Placed p = apply(layer, index, e);
                if (p == null) continue;
                long size = e.isSparse() ? e.getRealSize() : e.getSize();
                Flattener.ExactStream content = new Flattener.ExactStream(tar, size, src.name(), e.getName());
                out.file(p, size, content);
                content.drain(scratch);
            }
        }
        if (!deferred.isEmpty()) readDeferred(layer, budget, out, scratch);
    }

    /**
     * The second read of a layer, for the files a higher layer hides under the name they were listed with but not
     * under another one, a hard link (a package upgraded above under one of two linked names): their content, skipped
     * the first time, goes to their visible name now.
     */
    private void readDeferred(int layer, LayerStreams.Budget budget, Prefetch.Files<Placed> out, byte[] scratch) throws IOException {
        LayerSource src = layers.get(layer);
        try (InputStream in = LayerStreams.open(src, budget); TarArchiveInputStream tar = Flattener.tar(in)) {
            long index = 0;
            for (TarArchiveEntry e; !deferred.isEmpty() && (e = Flattener.nextEntry(tar, src)) != null; index++) {
                Inode ino = deferred.remove(index);
                if (ino == null) continue;
                long size = e.isSparse() ? e.getRealSize() : e.getSize();
                if (size != ino.size)
                    throw new SkiffException(ExitCode.STORAGE, "layer " + src.name() + " changed while it was read (entry '"
                            + e.getName() + "'); the store is being modified or is corrupt: pull the image again");
                Flattener.ExactStream content = new Flattener.ExactStream(tar, size, src.name(), e.getName());
                out.file(new Placed(ino.primary, ino.meta), size, content);
                content.drain(scratch);
            }
        }
        if (!deferred.isEmpty())
            throw new SkiffException(ExitCode.STORAGE, "layer " + src.name() + " ended early on the second read; the store is being modified or is corrupt: pull the image again");
    }

    /** Applies one entry of {@code layer}; a regular file that stays visible comes back, to be written now. */
    private Placed apply(int layer, long index, TarArchiveEntry e) {
        String name = e.getName();
        List<String> comps = f.components(layer, name);
        f.count(layer, name);
        if (comps.isEmpty()) {
            if (!e.isDirectory()) throw f.reject(layer, name, "the root of the image must be a directory");
            if (root.metaLayer < 0 || root.metaLayer == layer) {
                root.meta = f.metadata(e);
                root.metaLayer = layer;
            }
            return null;
        }
        String base = comps.getLast();
        if (base.startsWith(Flattener.WHITEOUT)) {
            if (base.equals(Flattener.OPAQUE)) opaque(layer, name, comps);
            else if (!base.startsWith(Flattener.WHITEOUT + Flattener.WHITEOUT)) whiteout(layer, name, comps, base.substring(Flattener.WHITEOUT.length()));
            // other .wh..wh.* names are aufs bookkeeping (e.g. .wh..wh.plnk): never part of the tree
            return null;
        }
        String path = String.join("/", comps);
        if (e.isDirectory()) {
            layerEntries.put(path, LISTED_DIR);
            directory(layer, name, comps, e);
            return null;
        }
        Node node;
        if (e.isSymbolicLink()) {
            String target = e.getLinkName();
            if (target.isEmpty() || target.indexOf('\0') >= 0 || target.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= limits.maxPathBytes())
                throw f.reject(layer, name, "the symbolic link target is empty or longer than " + (limits.maxPathBytes() - 1) + " bytes");
            node = new Link(layer, f.metadata(e), target);
        } else if (e.isLink()) {
            node = hardlink(layer, name, path, e.getLinkName());
            if (node == null) return null;
        } else if (e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
            TreeSink.SpecialType t = e.isCharacterDevice() ? TreeSink.SpecialType.CHAR_DEVICE
                    : e.isBlockDevice() ? TreeSink.SpecialType.BLOCK_DEVICE : TreeSink.SpecialType.FIFO;
            node = new Special(layer, f.metadata(e), t, e.getDevMajor(), e.getDevMinor());
        } else if (Flattener.isRegular(e)) {
            long size = e.isSparse() ? e.getRealSize() : e.getSize();
            node = new File(layer, new Inode(f.metadata(e), size, path, index));
        } else {
            f.unknownTypes++;
            return null;
        }
        boolean placed = place(layer, name, comps, node);
        layerEntries.put(path, node);
        if (!(node instanceof File file)) return null;
        Inode ino = file.inode;
        if (!placed) return null;
        if (ino.primary == null) {
            if (ino.origin.equals(path)) {
                ino.primary = path;
                return new Placed(path, ino.meta);
            }
            // The first visible name of a file this layer listed under a name a higher layer hides.
            ino.primary = path;
            deferred.put(ino.entry, ino);
        }
        return null;
    }

    /**
     * The directory that an entry of {@code layer} named {@code comps} goes into, its missing parents made; null when a
     * higher layer hides the entry. {@code real}: an entry of the tree (otherwise a whiteout or opaque marker, whose
     * parents become part of the tree only if something else lies there, and which has no effect below a file).
     */
    private Dir parent(int layer, String name, List<String> comps, boolean real) {
        return parent(layer, name, comps, real, LEAF_OTHER);
    }

    private static final int LEAF_OTHER = 0, LEAF_DIR = 1, LEAF_NON_DIR = 2;

    /**
     * {@code leaf}: the entry is a directory ({@code LEAF_DIR}), or a file, link or special file ({@code LEAF_NON_DIR}),
     * which a higher entry hidden now may have gone through.
     */
    private Dir parent(int layer, String name, List<String> comps, boolean real, int leaf) {
        int k = comps.size() - 1;
        if (layer < root.childFloor) return hidden(layer, name, comps, 0, real, root, -1, leaf);
        Dir cur = root;
        for (int i = 0; i < k; i++) {
            Node n = cur.children.get(comps.get(i));
            if (n == null) break;
            if (n instanceof Dir d) {
                if (d.shadow == layer)
                    throw new StartOver("'" + name + "' of layer " + layers.get(layer).name() + " lies below a non-directory of the same layer");
                if (layer < d.childFloor) {
                    d.hiddenUse = layer;
                    return hidden(layer, name, comps, layer < d.selfFloor ? i : i + 1, real, d, i, leaf);
                }
                cur = d;
                continue;
            }
            if (n.layer > layer) { // a higher layer replaced (or whited out) this parent
                n.hiddenUse = layer;
                return hidden(layer, name, comps, i, real, n, i, leaf);
            }
            if (n instanceof Gone) break; // this layer's own whiteout: the directory is made anew below
            if (n instanceof Link)
                throw new StartOver("'" + name + "' of layer " + layers.get(layer).name() + " lies below a symbolic link of the same layer");
            if (!real) return null; // a whiteout below a file hides nothing
            throw f.reject(layer, name, "its parent '" + String.join("/", comps.subList(0, i + 1)) + "' is not a directory");
        }
        cur = root;
        use(root, layer, real);
        for (int i = 0; i < k; i++) {
            Node n = cur.children.get(comps.get(i));
            Dir d;
            if (n instanceof Dir existing) {
                d = existing;
            } else {
                d = new Dir(layer);
                if (n instanceof Gone g) d.selfFloor = d.childFloor = g.layer;
                else f.count(layer, name);
                cur.children.put(comps.get(i), d);
            }
            use(d, layer, real);
            cur = d;
        }
        return cur;
    }

    /**
     * Null, for an entry a higher layer hides below its first {@code kept} parents, once sure that the two passes
     * would not refuse it for a parent its own layer made a file or a symbolic link (a loop, or a path out of reach),
     * which this order no longer sees. The parents it went through are still made (or used) by it, as two passes
     * would make them before the higher layer removes what lies below.
     */
    private Dir hidden(int layer, String name, List<String> comps, int kept, boolean real, Node at, int atIndex, int leaf) {
        // What lies below the hiding node in the layers further down is never read again, but an entry hidden there
        // went through it in its own time: a lower file or link on its way would have taken it elsewhere (or made it
        // a broken entry). So the ways through are kept, and a lower non-directory found on one needs two passes.
        if (at.hiddenWays == null) at.hiddenWays = new HashMap<>();
        StringBuilder rel = new StringBuilder();
        for (int j = atIndex + 1; j < comps.size(); j++) {
            if (!rel.isEmpty()) rel.append('/');
            rel.append(comps.get(j));
            boolean last = j == comps.size() - 1;
            if (!last) {
                at.hiddenWays.computeIfAbsent(rel.toString(), r -> new Way()).use(layer);
            } else if (leaf == LEAF_DIR) {
                at.hiddenWays.computeIfAbsent(rel.toString(), r -> new Way()).list(layer);
            } else if (leaf == LEAF_NON_DIR) {
                Way way = at.hiddenWays.get(rel.toString());
                if (way != null && way.wentThrough(layer))
                    throw new StartOver("hidden entries of higher layers went through '" + name + "' of layer " + layers.get(layer).name());
            }
        }
        Dir cur = root;
        use(root, layer, real);
        for (int i = 0; i < kept; i++) {
            cur = (Dir) cur.children.get(comps.get(i));
            use(cur, layer, real);
        }
        StringBuilder prefix = new StringBuilder();
        for (int i = 0; i < comps.size() - 1; i++) {
            if (i > 0) prefix.append('/');
            prefix.append(comps.get(i));
            Node n = layerEntries.get(prefix.toString());
            if (n != null && n != LISTED_DIR)
                throw new StartOver("'" + name + "' of layer " + layers.get(layer).name() + " lies below a non-directory of the same layer");
        }
        return null;
    }

    private static void use(Dir d, int layer, boolean real) {
        d.minUsed = layer;
        if (real) {
            d.lowest = layer;
            d.real = true;
        }
    }

    private void directory(int layer, String name, List<String> comps, TarArchiveEntry e) {
        Dir parent = parent(layer, name, comps, true, LEAF_DIR);
        if (parent == null) return;
        String base = comps.getLast();
        Node n = parent.children.get(base);
        Dir d;
        switch (n) {
            case null -> {
                d = new Dir(layer);
                parent.children.put(base, d);
            }
            case Gone g -> {
                if (layer < g.layer) {
                    g.listedHidden(layer);
                    return;
                }
                d = new Dir(layer);
                d.selfFloor = d.childFloor = g.layer;
                parent.children.put(base, d);
            }
            case Dir existing -> {
                if (layer < existing.selfFloor) {
                    existing.listedHidden(layer);
                    return;
                }
                d = existing;
            }
            default -> {
                if (n.layer > layer) {
                    n.listedHidden(layer);
                    return;
                }
                throw new StartOver("'" + name + "' of layer " + layers.get(layer).name() + " replaces an entry of its own layer");
            }
        }
        if (d.metaLayer < 0 || d.metaLayer == layer) {
            d.meta = f.metadata(e);
            d.metaLayer = layer;
        }
        if (d.minUsed != layer) d.listedFirst = layer;
        d.minListed = layer;
        d.lowest = layer;
        d.real = true;
    }

    /** Puts a file, link or special file at {@code comps}; false when a higher layer hides it. */
    private boolean place(int layer, String name, List<String> comps, Node node) {
        Dir parent = parent(layer, name, comps, true, LEAF_NON_DIR);
        if (parent == null) return false;
        String base = comps.getLast();
        Node n = parent.children.get(base);
        if (n != null && (n instanceof Dir d ? n.wentThrough(d.minListed, d.listedFirst) : n.wentThrough(NONE, NONE)))
            throw new StartOver("entries of higher layers went through '" + name + "' of layer " + layers.get(layer).name() + " before being hidden");
        switch (n) {
            case null -> {}
            case Gone g -> {
                if (layer < g.layer) return false;
            }
            case Dir d -> {
                if (layer < d.selfFloor) return false;
                if (d.lowest == layer)
                    throw new StartOver("'" + name + "' of layer " + layers.get(layer).name() + " replaces a directory its own layer used");
                if (!d.real) {
                    // Only higher whiteouts lie below: they hid nothing under a file, but they follow a symbolic link.
                    if (node instanceof Link)
                        throw new StartOver("higher whiteouts lie below the symbolic link '" + name + "' of layer " + layers.get(layer).name());
                } else if (d.minUsed != NONE && d.minListed >= d.minUsed && !(d.minListed == d.minUsed && d.listedFirst == d.minListed)) {
                    throw new StartOver("higher entries lie below '" + name + "', which layer " + layers.get(layer).name()
                            + " makes a " + (node instanceof Link ? "symbolic link" : "non-directory"));
                } else {
                    // A higher layer's directory replaced it, but it still replaced what the layers below had there.
                    d.selfFloor = Math.max(d.selfFloor, layer);
                    d.childFloor = Math.max(d.childFloor, layer);
                    d.shadow = layer;
                    return false;
                }
            }
            default -> {
                if (n.layer > layer) return false;
                throw new StartOver("'" + name + "' is listed twice in layer " + layers.get(layer).name());
            }
        }
        parent.children.put(base, node);
        return true;
    }

    /** {@code .wh.NAME}: hides NAME in the layers below this one. */
    private void whiteout(int layer, String name, List<String> comps, String victim) {
        Dir parent = parent(layer, name, comps, false);
        if (parent == null) return;
        Node n = parent.children.get(victim);
        switch (n) {
            case null -> parent.children.put(victim, new Gone(layer));
            case Gone g -> {}
            case Dir d -> {
                if (d.lowest == layer || d.minUsed == layer)
                    throw new StartOver("the whiteout '" + name + "' of layer " + layers.get(layer).name() + " comes after entries of its own layer there");
                d.selfFloor = Math.max(d.selfFloor, layer);
                d.childFloor = Math.max(d.childFloor, layer);
            }
            default -> {
                if (n.layer == layer)
                    throw new StartOver("the whiteout '" + name + "' of layer " + layers.get(layer).name() + " comes after an entry of its own layer there");
            }
        }
    }

    /** {@code DIR/.wh..wh..opq}: DIR shows nothing of the layers below this one. */
    private void opaque(int layer, String name, List<String> comps) {
        Dir existing = find(comps.subList(0, comps.size() - 1));
        if (existing != null && existing.minUsed == layer)
            throw new StartOver("the opaque marker '" + name + "' of layer " + layers.get(layer).name() + " comes after entries of its own layer there");
        Dir dir = comps.size() == 1 ? root : parent(layer, name, comps, false);
        if (dir == null) return;
        dir.childFloor = Math.max(dir.childFloor, layer);
    }

    /** The directory at {@code path} in the tree so far, or null. */
    private Dir find(List<String> path) {
        Dir cur = root;
        for (String c : path) {
            if (!(cur.children.get(c) instanceof Dir d)) return null;
            cur = d;
        }
        return cur;
    }

    /**
     * A hard link: the same inode as its target, a regular file this layer listed before it, or a copy of a symbolic
     * link or special file; null for a link to itself. Anything else goes to the two passes, which resolve it
     * against the layers below (or refuse it).
     */
    private Node hardlink(int layer, String name, String path, String linkName) {
        List<String> t = f.components(layer, linkName);
        if (t.isEmpty()) throw f.reject(layer, name, "a hard link to the root directory");
        String target = String.join("/", t);
        Node found = layerEntries.get(target);
        if (found == null)
            throw new StartOver("the hard link '" + name + "' of layer " + layers.get(layer).name() + " points to another layer");
        if (target.equals(path)) return null;
        return switch (found) {
            case File file -> new File(layer, file.inode);
            case Link l -> new Link(layer, l.meta, l.target);
            case Special s -> new Special(layer, s.meta, s.type, s.major, s.minor);
            default -> throw new StartOver("the hard link '" + name + "' of layer " + layers.get(layer).name()
                    + " points to a directory");
        };
    }

    // ---------------------------------------------------------------- the rest of the tree

    @FunctionalInterface
    private interface Visitor {
        void visit(String path, Node node) throws IOException;
    }

    /** Pre-order, sorted by name, iteratively; directories that only hold whiteouts are not part of the tree. */
    private void walkTree(Visitor v) throws IOException {
        Deque<Map.Entry<String, Dir>> stack = new ArrayDeque<>();
        stack.push(Map.entry("", root));
        while (!stack.isEmpty()) {
            var top = stack.pop();
            String prefix = top.getKey().isEmpty() ? "" : top.getKey() + "/";
            List<Map.Entry<String, Dir>> subdirs = new ArrayList<>();
            for (var c : top.getValue().children.entrySet()) {
                Node n = c.getValue();
                if (n instanceof Gone || n instanceof Dir d && !d.real) continue;
                String path = prefix + c.getKey();
                v.visit(path, n);
                if (n instanceof Dir d) subdirs.add(Map.entry(path, d));
            }
            for (int i = subdirs.size() - 1; i >= 0; i--) stack.push(subdirs.get(i));
        }
    }

    private Flattener.Stats emit(TreeSink sink, long files, long bytes) throws IOException {
        long[] dirs = {1}, links = {0}, specials = {0}, hard = {0};
        sink.directory("", root.meta == null ? Flattener.IMPLICIT_DIR : root.meta);
        walkTree((path, node) -> {
            if (node instanceof Dir d) {
                sink.directory(path, d.meta == null ? Flattener.IMPLICIT_DIR : d.meta);
                dirs[0]++;
            }
        });
        walkTree((path, node) -> {
            switch (node) {
                case Link l -> {
                    sink.symlink(path, l.meta, l.target);
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
            if (node instanceof File file && !file.inode.primary.equals(path)) {
                sink.hardlink(path, file.inode.primary);
                hard[0]++;
            }
        });
        sink.finish();
        return new Flattener.Stats(dirs[0], files, bytes, links[0], specials[0], hard[0], null);
    }
}
