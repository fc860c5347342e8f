package skiff.layer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import skiff.util.SkiffException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one-pass, top-down flattening against the two bottom-up passes, on thousands of random layer stacks: the same
 * tree (or the same refusal) every time. Stacks shaped like Docker's must take one pass; stacks with everything a
 * hand-made tar can hold (entries below symbolic links, hard links across layers, paths listed twice, markers after
 * entries) must still give what two passes give, whichever way they end up flattened.
 */
class OnePassVsTwoPassTest {
    /** ONEPASS_SCALE=N runs N times as many seeds (a search for differences, not for every build). */
    static final int SCALE = Integer.parseInt(System.getenv().getOrDefault("ONEPASS_SCALE", "1"));
    static final String[] NAMES = {"a", "b", "c", "d"};
    static final int[] MODES = {0644, 0600, 0755, 0700, 0555};
    static final String[] LINK_TARGETS = {"a", "b/c", "../d", "/a/b", "/", "..", "c", "./b/../a", "/d", "nowhere/a"};

    @AfterEach
    void reset() {
        Flattener.TWO_PASS_ONLY = false;
    }

    enum Kind { DIR, FILE, LINK }

    record Made(Kind kind, int layer) {}

    /** Layers as Docker and BuildKit write them: markers first, directories before their entries, no path twice. */
    static List<LayerSource> dockerLike(Random rnd) {
        Map<String, Made> tree = new TreeMap<>();
        tree.put("", new Made(Kind.DIR, -1));
        List<LayerSource> layers = new ArrayList<>();
        int n = 2 + rnd.nextInt(4);
        for (int layer = 0; layer < n; layer++) {
            Tars t = new Tars();
            if (layer == 0) t.dir(".", 0755);
            else if (rnd.nextInt(4) == 0) t.dir(".", MODES[rnd.nextInt(MODES.length)]);
            final int l = layer;
            TreeSet<String> written = new TreeSet<>();
            List<String> lower = tree.keySet().stream().filter(p -> !p.isEmpty() && tree.get(p).layer() < l).toList();
            for (int i = 0; i < 4 && layer > 0 && !lower.isEmpty(); i++) {
                String victim = lower.get(rnd.nextInt(lower.size()));
                if (!tree.containsKey(victim) || written.stream().anyMatch(w -> w.equals(victim) || victim.startsWith(w + "/") || w.startsWith(victim + "/"))) continue;
                written.add(victim);
                if (tree.get(victim).kind() == Kind.DIR && rnd.nextBoolean()) {
                    t.dir(victim, MODES[rnd.nextInt(MODES.length)]);
                    t.file(victim + "/.wh..wh..opq", "");
                    RandomLayersVsUmociTest.removeBelow(tree, victim);
                    tree.put(victim, new Made(Kind.DIR, layer));
                } else {
                    t.file(RandomLayersVsUmociTest.parent(victim).isEmpty() ? ".wh." + RandomLayersVsUmociTest.base(victim) : RandomLayersVsUmociTest.parent(victim) + "/.wh." + RandomLayersVsUmociTest.base(victim), "");
                    RandomLayersVsUmociTest.removeBelow(tree, victim);
                    tree.remove(victim);
                }
            }
            for (int i = 0; i < 30; i++) {
                List<String> dirs = tree.entrySet().stream().filter(e -> e.getValue().kind() == Kind.DIR).map(Map.Entry::getKey).toList();
                String dir = dirs.get(rnd.nextInt(dirs.size()));
                String path = (dir.isEmpty() ? "" : dir + "/") + NAMES[rnd.nextInt(NAMES.length)];
                if (path.split("/").length > 5 || written.contains(path) || written.stream().anyMatch(w -> w.startsWith(path + "/"))) continue;
                int op = rnd.nextInt(12);
                if (op < 5) {
                    // Docker lists a directory an entry goes into when that layer changed it; here, sometimes not.
                    if (!dir.isEmpty() && rnd.nextInt(3) == 0 && !written.contains(dir) && tree.get(dir).layer() < layer) {
                        t.dir(dir, MODES[rnd.nextInt(MODES.length)]);
                        written.add(dir);
                        tree.put(dir, new Made(Kind.DIR, layer));
                    }
                    t.file(path, "content " + rnd.nextInt(50), MODES[rnd.nextInt(MODES.length)], rnd.nextInt(3), 0);
                    RandomLayersVsUmociTest.removeBelow(tree, path);
                    tree.put(path, new Made(Kind.FILE, layer));
                } else if (op < 8) {
                    t.dir(path, MODES[rnd.nextInt(MODES.length)]);
                    if (!(tree.containsKey(path) && tree.get(path).kind() == Kind.DIR)) RandomLayersVsUmociTest.removeBelow(tree, path);
                    tree.put(path, new Made(Kind.DIR, layer));
                } else if (op < 10) {
                    t.symlink(path, LINK_TARGETS[rnd.nextInt(LINK_TARGETS.length)]);
                    RandomLayersVsUmociTest.removeBelow(tree, path);
                    tree.put(path, new Made(Kind.LINK, layer));
                } else {
                    List<String> files = tree.entrySet().stream().filter(e -> e.getValue().kind() == Kind.FILE
                            && e.getValue().layer() == l && !e.getKey().equals(path) && !e.getKey().startsWith(path + "/")).map(Map.Entry::getKey).toList();
                    if (files.isEmpty()) continue;
                    t.hardlink(path, files.get(rnd.nextInt(files.size())));
                    RandomLayersVsUmociTest.removeBelow(tree, path);
                    tree.put(path, new Made(Kind.FILE, layer));
                }
                written.add(path);
            }
            layers.add(Tars.layer("L" + layer, t.bytes()));
        }
        return layers;
    }

    /** Anything a tar can hold, over few names: entries below links, loops, markers anywhere, links across layers. */
    static List<LayerSource> chaotic(Random rnd) {
        List<LayerSource> layers = new ArrayList<>();
        List<String> earlier = new ArrayList<>();
        int n = 2 + rnd.nextInt(3);
        for (int layer = 0; layer < n; layer++) {
            Tars t = new Tars();
            if (layer == 0) t.dir(".", 0755);
            List<String> ours = new ArrayList<>();
            TreeSet<String> written = new TreeSet<>();
            int entries = 4 + rnd.nextInt(14);
            for (int i = 0; i < entries; i++) {
                StringBuilder prefix = new StringBuilder();
                for (int depth = rnd.nextInt(3); depth > 0; depth--) prefix.append(NAMES[rnd.nextInt(NAMES.length)]).append('/');
                String dir = NAMES[rnd.nextInt(NAMES.length)];
                int op = rnd.nextInt(22);
                String file = prefix + (rnd.nextBoolean() ? "f" : "g");
                String path = op < 7 || op >= 15 && op < 17 ? file : prefix + dir;
                // Now and then a path twice in one layer; mostly not, so that the stacks also take one pass.
                if (op < 17 && !written.add(path) && rnd.nextInt(4) != 0) continue;
                if (op < 7) {
                    t.file(file, "content " + rnd.nextInt(50), MODES[rnd.nextInt(MODES.length)], 0, 0);
                    ours.add(file);
                } else if (op < 12) t.dir(prefix + dir, MODES[rnd.nextInt(MODES.length)]);
                else if (op < 15) t.symlink(prefix + dir, LINK_TARGETS[rnd.nextInt(LINK_TARGETS.length)]);
                else if (op < 17) {
                    List<String> pool = rnd.nextInt(4) == 0 ? earlier : ours;
                    if (pool.isEmpty()) continue;
                    String target = pool.get(rnd.nextInt(pool.size()));
                    if (file.equals(target) || target.startsWith(file + "/")) continue;
                    t.hardlink(file, target);
                } else if (layer == 0) continue;
                else if (op < 20) t.file(prefix + ".wh." + (rnd.nextInt(3) == 0 ? "f" : dir), "");
                else t.file(prefix + dir + "/.wh..wh..opq", "");
            }
            earlier.addAll(ours);
            layers.add(Tars.layer("L" + layer, t.bytes()));
        }
        return layers;
    }

    /** The tree, or the refusal, with each hard-link group written the same whichever of its paths carries the content. */
    record Outcome(Map<String, String> tree, String refused, String twoPasses, int opens, int layers) {
        boolean onePass() {
            return twoPasses == null;
        }

        /** One pass that read some layer again for a file hidden under one name but not under its hard link. */
        boolean deferred() {
            return onePass() && opens > layers;
        }
    }

    static Outcome flatten(List<LayerSource> given, boolean twoPassOnly, int threads) throws Exception {
        java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
        List<LayerSource> layers = given.stream().map(l -> new LayerSource(l.name(), l.compression(), () -> {
            opens.incrementAndGet();
            return l.opener().open();
        })).toList();
        Flattener.TWO_PASS_ONLY = twoPassOnly;
        RecordingSink sink = new RecordingSink();
        Flattener.Stats stats;
        try {
            stats = Flattener.flatten(layers, sink, Limits.defaults(), w -> {}, threads);
        } catch (SkiffException e) {
            return new Outcome(Map.of(), e.getMessage(), "refused", opens.get(), layers.size());
        } finally {
            Flattener.TWO_PASS_ONLY = false;
        }
        assertTrue(sink.finished);
        Map<String, String> tree = sink.canonical();
        assertEquals(stats.onePass() ? 0 : (twoPassOnly ? 0 : 1), sink.restarts, "restarted exactly when two passes ran after one");
        if (stats.onePass()) assertTrue(opens.get() <= 2 * layers.size(), opens + " reads of " + layers.size() + " layers in one pass");
        return new Outcome(tree, null, stats.twoPasses(), opens.get(), layers.size());
    }

    @Test
    void dockerLikeStacksTakeOnePassAndGiveTheSameTree() throws Exception {
        int deferred = 0;
        for (long seed = 1; seed <= 400 * SCALE; seed++) {
            List<LayerSource> layers = dockerLike(new Random(seed));
            Outcome two = flatten(layers, true, 1);
            Outcome one = flatten(layers, false, new int[] {1, 2, 4}[(int) (seed % 3)]);
            assertEquals(two.refused(), one.refused(), "seed " + seed + describe(layers));
            assertEquals(two.tree(), one.tree(), "seed " + seed + describe(layers));
            assertTrue(one.onePass(), "seed " + seed + ": a Docker-shaped stack needed two passes: " + one.twoPasses() + describe(layers));
            if (one.deferred()) deferred++;
        }
        // A file a higher layer hides under one name but not under its hard link (the layer is read again for it).
        assertTrue(deferred > 20 * SCALE, deferred + " of " + 400 * SCALE + " stacks had such a file");
    }

    @Test
    void onePassWritesTheSameSquashfsBytesWhateverTheThreadCount(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        for (long seed = 1; seed <= 12; seed++) {
            Random rnd = new Random(seed);
            List<LayerSource> layers = new ArrayList<>();
            // A base with files of several blocks, some replaced or removed above, then Docker-shaped layers.
            Tars base = new Tars().dir(".", 0755).dir("big", 0755);
            for (int i = 0; i < 4; i++) {
                byte[] b = new byte[100_000 + rnd.nextInt(400_000)];
                rnd.nextBytes(b);
                base.file("big/f" + i, new String(b, java.nio.charset.StandardCharsets.ISO_8859_1));
            }
            layers.add(Tars.layer("base", base.bytes()));
            layers.add(Tars.layer("change", new Tars().file("big/.wh.f1", "").file("big/f2", "replaced").bytes()));
            layers.addAll(dockerLike(rnd));
            byte[] first = null;
            for (int threads : new int[] {1, 2, 4}) {
                java.nio.file.Path out = tmp.resolve("s" + seed + "-" + threads + ".sqfs");
                Flattener.Stats stats;
                try (var w = new skiff.squashfs.SquashfsWriter(out, new skiff.squashfs.SquashfsWriter.Options(
                        skiff.squashfs.SquashfsWriter.Compression.ZSTD, null, threads, x -> {}))) {
                    stats = Flattener.flatten(layers, w, Limits.defaults(), x -> {}, threads);
                }
                assertTrue(stats.onePass(), "seed " + seed + ": " + stats.twoPasses());
                byte[] bytes = java.nio.file.Files.readAllBytes(out);
                if (first == null) first = bytes;
                else org.junit.jupiter.api.Assertions.assertArrayEquals(first, bytes, "seed " + seed + ", " + threads + " threads");
            }
        }
    }

    @Test
    void anyStackGivesWhatTwoPassesGive() throws Exception {
        int onePass = 0, refused = 0;
        for (long seed = 1; seed <= 1500 * SCALE; seed++) {
            List<LayerSource> layers = chaotic(new Random(seed));
            Outcome two = flatten(layers, true, 1);
            Outcome one = flatten(layers, false, new int[] {1, 2, 4}[(int) (seed % 3)]);
            assertEquals(two.refused(), one.refused(), "seed " + seed + describe(layers));
            assertEquals(two.tree(), one.tree(), "seed " + seed + describe(layers));
            if (one.onePass()) onePass++;
            if (one.refused() != null) refused++;
        }
        // Both ways must have been exercised for the comparison to mean anything.
        assertTrue(onePass > 100 * SCALE && onePass < 1400 * SCALE, onePass + " of " + 1500 * SCALE + " stacks took one pass");
        assertTrue(refused > 10, refused + " refusals");
    }

    /** The layers' entries, for a failure's message: what to paste into a test of its own. */
    static String describe(List<LayerSource> layers) throws java.io.IOException {
        StringBuilder sb = new StringBuilder();
        for (LayerSource l : layers) {
            sb.append('\n').append(l.name()).append(':');
            try (var tar = new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(LayerStreams.open(l, new LayerStreams.Budget(Limits.defaults())))) {
                for (var e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                    sb.append(' ').append(e.getName());
                    if (e.isSymbolicLink()) sb.append("->").append(e.getLinkName());
                    if (e.isLink()) sb.append("=>").append(e.getLinkName());
                }
            }
        }
        return sb.toString();
    }
}
