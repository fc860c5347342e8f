package skiff.layer;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import skiff.testing.ImageBuilder;
import skiff.testing.TreeDiff;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Random stacks of layers (files, directories, symlinks, hard links, replacements of any kind by any
 * other, whiteouts and opaque markers, over few names so paths collide a lot), flattened by skiff and by
 * umoci: the trees must be equal. Each seed is a reproducible case (25 seeds passed when written; 6 run
 * here to keep the suite quick). Hard links never target their own path or a path below it: a tar
 * extractor would delete the target while making room for the link.
 */
class RandomLayersVsUmociTest {
    enum Kind { DIR, FILE, LINK }

    /** What exists after the layers so far: path -> kind, and the layer that last wrote it. */
    record Node(Kind kind, int layer) {}

    static final String[] NAMES = {"a", "b", "c", "d"};
    static final int[] FILE_MODES = {0644, 0600, 0755, 0400};
    static final int[] DIR_MODES = {0755, 0700, 0750, 0555};

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void randomLayersFlattenLikeUmoci(long seed, @TempDir Path tmp) throws Exception {
        Random rnd = new Random(seed);
        Map<String, Node> tree = new TreeMap<>();
        tree.put("", new Node(Kind.DIR, -1));
        ImageBuilder img = ImageBuilder.create(tmp.resolve("img"));
        for (int layer = 0; layer < 4; layer++) {
            Tars t = new Tars();
            // The root's own entry: without it umoci leaves the root as its umask made it.
            if (layer == 0) t.dir(".", 0755);
            final int l = layer;
            // Whiteouts and opaque markers first, for what lower layers made (layer.md recommends this order).
            List<String> lower = tree.entrySet().stream().filter(e -> !e.getKey().isEmpty() && e.getValue().layer() < l).map(Map.Entry::getKey).toList();
            for (int i = 0; i < 3 && layer > 0 && !lower.isEmpty(); i++) {
                String victim = lower.get(rnd.nextInt(lower.size()));
                if (!tree.containsKey(victim)) continue;
                if (tree.get(victim).kind() == Kind.DIR && rnd.nextBoolean()) {
                    t.file(victim + "/.wh..wh..opq", "");
                    removeBelow(tree, victim);
                } else {
                    t.file(parent(victim).isEmpty() ? ".wh." + base(victim) : parent(victim) + "/.wh." + base(victim), "");
                    removeBelow(tree, victim);
                    tree.remove(victim);
                }
            }
            for (int i = 0; i < 25; i++) {
                List<String> dirs = tree.entrySet().stream().filter(e -> e.getValue().kind() == Kind.DIR).map(Map.Entry::getKey).toList();
                String dir = dirs.get(rnd.nextInt(dirs.size()));
                String path = (dir.isEmpty() ? "" : dir + "/") + NAMES[rnd.nextInt(NAMES.length)];
                if (path.split("/").length > 5) continue;
                int op = rnd.nextInt(10);
                if (op < 4) {
                    t.file(path, "content " + rnd.nextInt(1000) + " of " + path, FILE_MODES[rnd.nextInt(FILE_MODES.length)], 0, 0);
                    removeBelow(tree, path);
                    tree.put(path, new Node(Kind.FILE, layer));
                } else if (op < 7) {
                    t.dir(path, DIR_MODES[rnd.nextInt(DIR_MODES.length)]);
                    if (tree.containsKey(path) && tree.get(path).kind() == Kind.DIR) tree.put(path, new Node(Kind.DIR, layer));
                    else {
                        removeBelow(tree, path);
                        tree.put(path, new Node(Kind.DIR, layer));
                    }
                } else if (op < 8) {
                    t.symlink(path, rnd.nextBoolean() ? "/etc/" + NAMES[rnd.nextInt(4)] : "../" + NAMES[rnd.nextInt(4)]);
                    removeBelow(tree, path);
                    tree.put(path, new Node(Kind.LINK, layer));
                } else {
                    List<String> files = tree.entrySet().stream().filter(e -> e.getValue().kind() == Kind.FILE && !e.getKey().equals(path) && !e.getKey().startsWith(path + "/")).map(Map.Entry::getKey).toList();
                    if (files.isEmpty()) continue;
                    t.hardlink(path, files.get(rnd.nextInt(files.size())));
                    removeBelow(tree, path);
                    tree.put(path, new Node(Kind.FILE, layer));
                }
            }
            Path tar = tmp.resolve("layer" + layer + ".tar");
            Files.write(tar, t.bytes());
            img.layerFromTar(tar);
        }
        List<String> warnings = new ArrayList<>();
        Path ours = tmp.resolve("ours");
        Images.flatten(Images.layers(img.layout(), "latest"), ours, warnings);
        Path theirs = Images.umociUnpack(img.layout(), "latest", tmp.resolve("umoci"));
        TreeDiff.assertSame(TreeDiff.ownerAccess(TreeDiff.snapshot(theirs, false)), TreeDiff.ownerAccess(TreeDiff.snapshot(ours, false)));
    }

    static void removeBelow(Map<String, Node> tree, String path) {
        tree.keySet().removeIf(p -> p.startsWith(path + "/"));
    }

    static String parent(String p) {
        int i = p.lastIndexOf('/');
        return i < 0 ? "" : p.substring(0, i);
    }

    static String base(String p) {
        return p.substring(p.lastIndexOf('/') + 1);
    }
}
