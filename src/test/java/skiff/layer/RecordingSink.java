package skiff.layer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Keeps what the flattener emits and checks the {@link TreeSink} contract on every call. */
final class RecordingSink implements TreeSink {
    /** path -> "dir 755", "file 644 <content>", "symlink -> target", "char 1:3", "hardlink -> target". */
    final Map<String, String> entries = new LinkedHashMap<>();
    final Map<String, Metadata> meta = new LinkedHashMap<>();
    final List<String> order = new ArrayList<>();
    private final Set<String> dirs = new HashSet<>();
    private final Set<String> files = new HashSet<>();
    private int phase; // 0 files and dirs, 1 symlinks/specials, 2 hardlinks
    boolean finished;
    int restarts;

    private void add(String path, int phase, String what, Metadata m) {
        assertFalse(finished, "emitted after finish: " + path);
        assertTrue(phase >= this.phase, "out of order: " + path + " (" + what + ") after phase " + this.phase);
        this.phase = phase;
        assertFalse(entries.containsKey(path), "emitted twice: " + path);
        assertFalse(path.startsWith("/") || path.endsWith("/") || path.contains("//"), "not normalised: " + path);
        for (String c : path.split("/")) assertFalse(c.equals(".") || c.equals(".."), "dot component: " + path);
        if (!path.isEmpty() && !what.startsWith("file ")) {
            assertTrue(dirs.contains(parent(path)), "parent not emitted before " + path);
        } else if (path.isEmpty()) {
            assertTrue(dirs.isEmpty(), "root must come first of the directories");
        }
        entries.put(path, what);
        if (m != null) meta.put(path, m);
        order.add(path);
    }

    @Override
    public void directory(String path, Metadata m) {
        add(path, 0, "dir " + Integer.toOctalString(m.mode()), m);
        dirs.add(path);
    }

    private static String parent(String path) {
        int s = path.lastIndexOf('/');
        return s < 0 ? "" : path.substring(0, s);
    }

    @Override
    public void file(String path, Metadata m, long size, InputStream content) throws IOException {
        byte[] d = content.readAllBytes();
        assertEquals(size, d.length, "size of " + path);
        add(path, 0, "file " + Integer.toOctalString(m.mode()) + " " + new String(d, StandardCharsets.UTF_8), m);
        files.add(path);
    }

    @Override
    public void symlink(String path, Metadata m, String target) {
        add(path, 1, "symlink -> " + target, m);
    }

    @Override
    public void special(String path, Metadata m, SpecialType type, int major, int minor) {
        add(path, 1, type + " " + major + ":" + minor, m);
    }

    @Override
    public void hardlink(String path, String target) {
        assertTrue(files.contains(target), "hard link " + path + " to " + target + ", not an emitted file");
        add(path, 2, "hardlink -> " + target, null);
    }

    /**
     * The tree with owners and mtimes, each hard-link group written alike whichever of its paths carried the content
     * (one pass writes it at the first name in tar order, two passes at the first in tree order).
     */
    java.util.Map<String, String> canonical() {
        java.util.Map<String, java.util.TreeSet<String>> groups = new java.util.TreeMap<>();
        for (var e : entries.entrySet()) {
            String v = e.getValue();
            if (v.startsWith("hardlink -> "))
                groups.computeIfAbsent(v.substring(12), k -> new java.util.TreeSet<>(List.of(k))).add(e.getKey());
        }
        java.util.Map<String, String> tree = new java.util.TreeMap<>();
        for (var e : entries.entrySet()) {
            String v = e.getValue();
            String primary = v.startsWith("hardlink -> ") ? v.substring(12) : e.getKey();
            Metadata m = meta.get(primary);
            String links = groups.containsKey(primary) ? " links " + groups.get(primary) : "";
            tree.put(e.getKey(), entries.get(primary) + " " + m.uid() + ":" + m.gid() + " @" + m.mtimeSeconds() + links);
        }
        return tree;
    }

    @Override
    public void restart() {
        assertFalse(finished, "restarted after finish");
        assertEquals(0, restarts++, "restarted twice");
        entries.clear();
        meta.clear();
        order.clear();
        dirs.clear();
        files.clear();
        phase = 0;
    }

    @Override
    public void finish() {
        for (String f : files) assertTrue(dirs.contains(parent(f)), "the directory of " + f + " was never emitted");
        finished = true;
    }
}
