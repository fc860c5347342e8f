package skiff.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageManifest;
import skiff.store.Store;
import skiff.store.TwoImages;
import skiff.testing.Cmd;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** bin/skiff images, inspect, tag, rmi, prune on a store filled by umoci and skopeo. */
class ImagesIT {
    @TempDir
    Path tmp;

    static void chownToTestUser(Path tmp, Path storage) {
        Cmd.of("chmod", "755", tmp.toString()).run().ok();
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":", storage.toString()).run().ok();
    }

    static void assertOneLineError(Cmd.Result r, int exit, String contains) {
        assertEquals(exit, r.exit(), r.toString());
        assertTrue(r.err().startsWith("skiff: ") && r.err().strip().lines().count() == 1, r.err());
        assertTrue(r.err().contains(contains), r.err());
    }

    @Test
    void imagesListsFamiliarNamesIdsSizesAsTableAndJsonForTheUnprivilegedUser() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Descriptor base = s.resolve(TwoImages.BASE).orElseThrow();
        ImageManifest bm = s.manifest(base.digest());
        // A name by digest only: Docker shows it with tag <none>.
        s.tag("docker.io/library/base@" + base.digest(), base);
        chownToTestUser(tmp, storage);

        Cmd.Result r = Cmd.skiff(storage, "images").asTestUser().run().ok();
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.getFirst().matches("REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +FORMATS"), lines.getFirst());
        assertEquals(4, lines.size(), r.out());
        String id = bm.config().digest().shortHex();
        assertTrue(lines.stream().anyMatch(l -> l.matches("base +1 +" + id + " +(Less than a second|\\d+ seconds?|About a minute) ago +\\d[\\d.]*[kM]?B +-")), r.out());
        assertTrue(lines.stream().anyMatch(l -> l.matches("base +<none> +" + id + " .*")), r.out());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("localhost:5000/team/app ") && l.contains(" 2 ")), r.out());

        JsonNode json = Json.MAPPER.readTree(Cmd.skiff(storage, "images", "--format", "json").asTestUser().run().ok().out());
        assertEquals(3, json.size());
        JsonNode b = null;
        for (JsonNode n : json) if (n.get("name").asText().equals(TwoImages.BASE)) b = n;
        assertEquals(bm.config().digest().toString(), b.get("id").asText());
        assertEquals(base.digest().toString(), b.get("digest").asText());
        assertEquals(bm.layers().stream().mapToLong(Descriptor::size).sum(), b.get("size").asLong());
        assertEquals("base", b.get("repository").asText());

        String digests = Cmd.skiff(storage, "images", "--digests").asTestUser().run().ok().out();
        assertTrue(digests.lines().anyMatch(l -> l.startsWith("base ") && l.contains(base.digest().toString())), digests);
        assertEquals(2, Cmd.skiff(storage, "images", "-q").run().ok().out().lines().count(), "two distinct image ids");
    }

    @Test
    void inspectByNameAndIdAndUnknownIsExit3() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Descriptor app = s.resolve(TwoImages.APP).orElseThrow();
        ImageManifest am = s.manifest(app.digest());

        JsonNode j = Json.MAPPER.readTree(Cmd.skiff(storage, "inspect", "localhost:5000/team/app:2").run().ok().out());
        assertEquals(TwoImages.APP, j.get("name").asText());
        assertEquals(app.digest().toString(), j.get("digest").asText());
        assertEquals("application/vnd.oci.image.manifest.v1+json", j.get("mediaType").asText());
        assertEquals("linux", j.get("platform").get("os").asText());
        assertEquals("/bin/sh", j.get("config").get("config").get("Cmd").get(0).asText());
        assertEquals(2, j.get("layers").size());
        assertEquals(am.layers().get(1).digest().toString(), j.get("layers").get(1).get("digest").asText());
        assertEquals(am.layers().get(1).size(), j.get("layers").get(1).get("size").asLong());

        String idPrefix = am.config().digest().hex().substring(0, 8);
        JsonNode byId = Json.MAPPER.readTree(Cmd.skiff(storage, "inspect", idPrefix).run().ok().out());
        assertEquals(app.digest().toString(), byId.get("digest").asText());

        assertOneLineError(Cmd.skiff(storage, "inspect", "nosuch:1").run(), 3, "nosuch:1");
        assertOneLineError(Cmd.skiff(storage, "inspect", "Bad//Ref").run(), 3, "invalid image reference");
        assertOneLineError(Cmd.skiff(storage, "inspect").run(), 2, "REF");
    }

    @Test
    void tagAndRmiKeepSharedBlobsAndReportUnknownNamesAfterRemovingTheOthers() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Digest baseManifest = s.resolve(TwoImages.BASE).orElseThrow().digest();
        ImageManifest bm = s.manifest(baseManifest);
        ImageManifest am = s.manifest(s.resolve(TwoImages.APP).orElseThrow().digest());

        Cmd.skiff(storage, "tag", "base:1", "mine:1").run().ok();
        assertEquals(baseManifest, s.resolve("docker.io/library/mine:1").orElseThrow().digest());
        assertOneLineError(Cmd.skiff(storage, "tag", "nosuch", "x:1").run(), 3, "nosuch");

        // base:1 goes but mine:1 still names its manifest: nothing is deleted.
        Cmd.Result r = Cmd.skiff(storage, "rmi", "base:1").run().ok();
        assertTrue(r.out().contains("Untagged: " + TwoImages.BASE), r.out());
        assertFalse(r.out().contains("Deleted"), r.out());
        assertTrue(s.hasBlob(baseManifest));

        r = Cmd.skiff(storage, "rmi", "mine:1", "nosuch:9").run();
        assertOneLineError(r, 3, "nosuch:9");
        assertTrue(r.out().contains("Untagged: docker.io/library/mine:1"), r.out());
        assertTrue(r.out().contains("Deleted: " + baseManifest), r.out());
        assertFalse(s.hasBlob(baseManifest));
        assertFalse(s.hasBlob(bm.config().digest()));
        assertTrue(s.hasBlob(bm.layers().getFirst().digest()), "the layer app shares survives");
        for (Descriptor l : am.layers()) assertTrue(s.hasBlob(l.digest()));
        Cmd.of("skopeo", "inspect", "oci:" + s.layout() + ":" + TwoImages.APP).run().ok();
        assertEquals(List.of(TwoImages.APP), s.index().stream().map(d -> d.annotation(Descriptor.REF_NAME)).toList());
    }

    @Test
    void pruneReportsAndFreesOnlyUnreferencedBlobs() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Digest stray = s.putBlob(new byte[123_456]);
        chownToTestUser(tmp, storage);
        Cmd.Result r = Cmd.skiff(storage, "prune").asTestUser().run().ok();
        assertEquals("1 blob, 0.1 MB freed", r.out().strip());
        assertFalse(s.hasBlob(stray));
        for (String n : List.of(TwoImages.BASE, TwoImages.APP))
            Cmd.of("skopeo", "inspect", "oci:" + s.layout() + ":" + n).run().ok();
        assertEquals("0 blobs, 0.0 MB freed", Cmd.skiff(storage, "prune").asTestUser().run().ok().out().strip());
    }

    /** A command adding an image holds the shared gc lock; prune waits for it and then keeps its blobs. */
    @Test
    void pruneWaitsForAnAddInProgressAndKeepsItsBlobs() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Descriptor base = s.resolve(TwoImages.BASE).orElseThrow();
        ImageManifest bm = s.manifest(base.digest());
        Digest garbage = s.putBlob("garbage from before".getBytes());
        Process prune;
        Digest newManifest;
        try (var adding = s.gcShared()) {
            // An "add" in progress: a new config and manifest written, not yet named in index.json.
            byte[] cfg = s.readMetadataBlob(bm.config().digest());
            String withLabel = new String(cfg).replaceFirst("\\{", "{\"author\":\"concurrent\",");
            Digest newConfig = s.putBlob(withLabel.getBytes());
            ImageManifest nm = new ImageManifest(2, base.mediaType(), null,
                    Descriptor.of(bm.config().mediaType(), newConfig, withLabel.getBytes().length), bm.layers(), null, null);
            byte[] mb = Json.bytes(nm);
            newManifest = s.putBlob(mb);
            prune = Cmd.skiff(storage, "prune").start();
            awaitBlockedOn(s.lockFile("gc"), prune);
            assertTrue(prune.isAlive(), "prune must wait for the gc lock");
            s.tag("docker.io/library/added:1", Descriptor.of(base.mediaType(), newManifest, mb.length));
        }
        assertTrue(prune.waitFor(60, TimeUnit.SECONDS));
        String out = new String(prune.getInputStream().readAllBytes());
        assertEquals(0, prune.exitValue(), out + new String(prune.getErrorStream().readAllBytes()));
        assertTrue(out.startsWith("1 blob,"), out);
        assertFalse(s.hasBlob(garbage));
        assertTrue(s.hasBlob(newManifest));
        Cmd.of("skopeo", "inspect", "oci:" + s.layout() + ":docker.io/library/added:1").run().ok();
    }

    @Test
    void formatsShowConvertedRootfsAndRmiDeletesIt() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Digest base = s.resolve(TwoImages.BASE).orElseThrow().digest();
        Path sqfs = skiff.rootfs.Rootfs.ensure(s, base, skiff.rootfs.Rootfs.Format.SQUASHFS);
        assertTrue(Files.isRegularFile(sqfs));
        String out = Cmd.skiff(storage, "images").run().ok().out();
        assertTrue(out.lines().anyMatch(l -> l.startsWith("base ") && l.endsWith(" squashfs")), out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("localhost:5000/team/app ") && l.endsWith(" -")), out);
        JsonNode j = Json.MAPPER.readTree(Cmd.skiff(storage, "inspect", "base:1").run().ok().out());
        assertEquals("squashfs", j.get("formats").get(0).asText());
        Cmd.Result r = Cmd.skiff(storage, "rmi", "base:1").run().ok();
        assertTrue(r.out().contains("1 cached root filesystem"), r.out());
        assertFalse(Files.exists(sqfs));
    }

    @Test
    void aCorruptImageIsReportedByImagesAndCanStillBeRemoved() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        Digest config = s.manifest(s.resolve(TwoImages.BASE).orElseThrow().digest()).config().digest();
        Files.writeString(s.blobPath(config), "{\"tampered\":true}");
        Cmd.Result r = Cmd.skiff(storage, "images").run().ok();
        assertTrue(r.out().contains("localhost:5000/team/app"), r.out());
        assertFalse(r.out().lines().anyMatch(l -> l.startsWith("base ")), r.out());
        assertTrue(r.err().contains(TwoImages.BASE) && r.err().contains("corrupt"), r.err());
        ImagesIT.assertOneLineError(Cmd.skiff(storage, "inspect", "base:1").run(), 5, "corrupt");
        r = Cmd.skiff(storage, "rmi", "base:1").run().ok();
        assertTrue(r.out().contains("Deleted: " + config), r.out());
        assertEquals("", Cmd.skiff(storage, "images").run().ok().err());
    }

    /** Waits until the kernel lists a process blocked on {@code lockFile} (a "->" line of /proc/locks). */
    static void awaitBlockedOn(Path lockFile, Process p) throws Exception {
        long ino = (long) Files.getAttribute(lockFile, "unix:ino");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (String l : Files.readAllLines(Path.of("/proc/locks")))
                if (l.contains("->") && l.matches(".*:" + ino + " .*")) return;
            if (!p.isAlive()) throw new AssertionError("prune ended without waiting for the gc lock: " + new String(p.getInputStream().readAllBytes()));
            Thread.sleep(50);
        }
        throw new AssertionError("prune never blocked on " + lockFile);
    }

    @Test
    void completionScriptCoversTheCommands() {
        Path storage = tmp.resolve("storage");
        Cmd.Result r = Cmd.skiff(storage, "completion").run().ok();
        assertTrue(r.out().contains("complete -F"), r.out());
        for (String c : List.of("images", "inspect", "rmi", "prune", "save", "load")) assertTrue(r.out().contains(c), c);
        Cmd.Result sourced = Cmd.of("bash", "-c", "source <(\"$0\" completion) && complete -p skiff", Cmd.skiffBin().toString())
                .env("SKIFF_STORAGE", storage.toString()).timeout(Duration.ofSeconds(60)).run().ok();
        assertTrue(sourced.out().contains("skiff"), sourced.toString());
    }
}
