package skiff.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageManifest;
import skiff.testing.Cmd;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Garbage collection keeps exactly what index.json reaches, and the store stays readable by skopeo. */
class GcTest {
    static Set<Digest> blobsOf(Store s, String name) throws Exception {
        Descriptor d = s.resolve(name).orElseThrow();
        ImageManifest m = s.manifest(d.digest());
        Set<Digest> out = new HashSet<>();
        out.add(d.digest());
        out.add(m.config().digest());
        for (Descriptor l : m.layers()) out.add(l.digest());
        return out;
    }

    static Set<Digest> allBlobs(Store s) throws Exception {
        Set<Digest> out = new HashSet<>();
        try (var files = Files.list(s.layout().resolve("blobs/sha256"))) {
            for (Path p : files.toList())
                if (!p.getFileName().toString().startsWith(".")) out.add(new Digest("sha256", p.getFileName().toString()));
        }
        return out;
    }

    @Test
    void sharedBlobsSurviveRemovingOneImageAndTheRestIsFreed(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Set<Digest> base = blobsOf(s, TwoImages.BASE);
        Set<Digest> app = blobsOf(s, TwoImages.APP);
        Set<Digest> shared = new HashSet<>(base);
        shared.retainAll(app);
        assertEquals(1, shared.size(), "fixture: the two images share their base layer");
        assertEquals(Set.copyOf(union(base, app)), allBlobs(s));

        assertTrue(s.untag(TwoImages.APP));
        Gc.Result r = Gc.collect(s, Gc.Options.blobsAndCaches(List.of()));

        Set<Digest> onlyApp = new HashSet<>(app);
        onlyApp.removeAll(base);
        assertEquals(onlyApp, Set.copyOf(r.blobs()), "exactly the blobs only the removed image used are deleted");
        assertEquals(base, allBlobs(s));
        Cmd.of("skopeo", "inspect", "oci:" + s.layout() + ":" + TwoImages.BASE).run().ok();
        assertTrue(r.blobBytes() > 0);

        assertEquals(0, Gc.collect(s, Gc.Options.blobsAndCaches(List.of())).blobs().size(), "a second collection finds nothing");
    }

    static Set<Digest> union(Set<Digest> a, Set<Digest> b) {
        Set<Digest> u = new HashSet<>(a);
        u.addAll(b);
        return u;
    }

    @Test
    void pruneRemovesUnreferencedBlobsStaleTempFilesAndOrphanCaches(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Digest baseManifest = s.resolve(TwoImages.BASE).orElseThrow().digest();
        Digest stray = s.putBlob("not referenced by anything".getBytes());
        Set<Digest> before = allBlobs(s);

        Path sqfs = Files.createDirectories(storage.resolve("sqfs"));
        Path keptCache = Files.writeString(sqfs.resolve(baseManifest.hex() + ".sqfs"), "x");
        Path orphanCache = Files.writeString(sqfs.resolve("a".repeat(64) + ".sqfs"), "orphan");
        Path dirs = Files.createDirectories(storage.resolve("dir"));
        // A directory rootfs with a read-only directory inside, as images often have.
        Path orphanDir = Files.createDirectories(dirs.resolve("b".repeat(64)).resolve("usr/bin"));
        Files.writeString(orphanDir.resolve("tool"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(orphanDir, java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x"));
        Path unrelated = Files.writeString(sqfs.resolve("README"), "not a cache entry");

        Path tmpDir = s.tmpDir();
        Path oldTmp = Files.writeString(tmpDir.resolve("pull-123.partial"), "old");
        Files.setLastModifiedTime(oldTmp, FileTime.from(Instant.now().minus(Duration.ofHours(3))));
        Path newTmp = Files.writeString(tmpDir.resolve("pull-456.partial"), "new");

        Gc.Result r = Gc.collect(s, new Gc.Options(List.of(sqfs, dirs), Duration.ofMinutes(60)));

        assertEquals(List.of(stray), r.blobs());
        Set<Digest> expected = new HashSet<>(before);
        expected.remove(stray);
        assertEquals(expected, allBlobs(s));
        assertTrue(Files.exists(keptCache), "the cache of an existing image stays");
        assertFalse(Files.exists(orphanCache));
        assertFalse(Files.exists(dirs.resolve("b".repeat(64))), "a read-only directory tree is removed too");
        assertTrue(Files.exists(unrelated), "files that are not cache entries are left alone");
        assertEquals(2, r.caches().size());
        assertFalse(Files.exists(oldTmp));
        assertTrue(Files.exists(newTmp), "a young temporary file may belong to a running command");
        assertEquals(1, r.tempFiles());
        assertTrue(r.summary().startsWith("1 blob, 2 cached root filesystems, 1 temporary file, "), r.summary());
        for (String n : List.of(TwoImages.BASE, TwoImages.APP))
            Cmd.of("skopeo", "inspect", "oci:" + s.layout() + ":" + n).run().ok();
    }

    @Test
    void indexBlobRecordedByPullIsKept(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Descriptor base = s.resolve(TwoImages.BASE).orElseThrow();
        byte[] index = skiff.util.Json.bytes(skiff.image.ImageIndex.of(List.of(base.withAnnotations(null))));
        Digest idx = s.putBlob(index);
        s.tag(TwoImages.BASE, base.withAnnotations(java.util.Map.of(StoredImage.INDEX_DIGEST, idx.toString())));
        Gc.Result r = Gc.collect(s, Gc.Options.blobsAndCaches(List.of()));
        assertEquals(List.of(), r.blobs());
        assertTrue(s.hasBlob(idx));
        assertEquals(idx, StoredImage.require(s, TwoImages.BASE).getFirst().repoDigest());
    }
}
