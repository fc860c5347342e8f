package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.RegistryFixture;
import skiff.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static skiff.registry.RegistryTestSupport.assertBlobsVerify;

/**
 * {@code skiff pull} converts while it downloads: the conversion starts once the layers are known and reads each
 * layer as soon as it has arrived and been verified. Its output is byte for byte the conversion of the stored
 * image, for OCI and for Docker manifests (stored under the digest of their OCI rewrite); a layer that fails
 * its digest, or a Ctrl-C while a layer is still coming, leaves no converted image and no temporary file.
 */
class PullOverlapIT {
    static Path work;
    static RegistryFixture registry;
    static FaultProxy proxy;
    static final int LAYER = 1 << 20;

    @TempDir
    Path tmp;
    Path storage;
    Path home;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("skiff-pulloverlap");
        registry = RegistryFixture.plain(work.resolve("registry"));
        proxy = new FaultProxy(registry.host());
        ImageBuilder img = RegistryTestSupport.randomImage(work.resolve("a"), "latest", 4, LAYER, 11);
        registry.push(img.skopeoRef(), "test/four:1");
        registry.push(img.skopeoRef(), "test/four-docker:1", "--format", "v2s2");
    }

    @AfterAll
    static void stop() {
        if (proxy != null) proxy.close();
        if (registry != null) registry.close();
    }

    @BeforeEach
    void fresh() {
        storage = tmp.resolve("storage");
        home = tmp.resolve("home");
        proxy.clear();
    }

    String ref(String repoTag) {
        return proxy.host() + "/" + repoTag;
    }

    /** Both repositories hold the same layer blobs (skopeo pushes the Docker form with the same compressed layers). */
    String layer(String repo, int i) throws Exception {
        JsonNode m = Json.MAPPER.readTree(RegistryTestSupport.getManifest(registry.host(), "test/four", "1", MediaTypes.OCI_MANIFEST));
        return m.path("layers").path(i).path("digest").asText();
    }

    /** Bytes of content in a temporary conversion output so far (a SquashFS file, or a directory's files). */
    static long written(Path out) {
        try (Stream<Path> s = Files.walk(out)) {
            return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0; // removed meanwhile
        }
    }

    /** Temporary conversion outputs (STORAGE/tmp/convert-*) and published ones (STORAGE/sqfs, STORAGE/dir). */
    List<Path> under(String dir, String glob) throws IOException {
        Path d = storage.resolve(dir);
        if (!Files.isDirectory(d)) return List.of();
        try (Stream<Path> s = Files.list(d)) {
            return s.filter(p -> d.getFileSystem().getPathMatcher("glob:" + glob).matches(p.getFileName())).toList();
        }
    }

    /**
     * Pulls {@code repo} with its lowest layer held back for a while (the conversion reads the layers top down, so it
     * needs that one last), and checks the conversion wrote the higher layers' files meanwhile.
     */
    Path pullOverlapped(String repo, String format) throws Exception {
        String name = ref(repo + ":1");
        // The lowest layer stops half-way for 4 s (then the connection drops and the pull resumes it with a Range).
        proxy.once("GET", "/blobs/" + layer(repo, 0), new FaultProxy.Stall(LAYER / 2, 4_000));
        Process p = RegistryTestSupport.skiff(storage, home, "pull", "--convert", format, name).start();
        long end = System.currentTimeMillis() + 60_000;
        boolean convertingBeforeDownloaded = false;
        Path part = storage.resolve("tmp/ingest/sha256-" + layer(repo, 0).substring(7) + ".part");
        while (p.isAlive() && System.currentTimeMillis() < end) {
            if (Files.exists(part) && !convertingBeforeDownloaded) {
                for (Path t : under("tmp", "convert-*")) convertingBeforeDownloaded |= written(t) > 3 * LAYER / 4;
            }
            Thread.sleep(20);
        }
        assertEquals(0, p.waitFor(), new String(p.getErrorStream().readAllBytes()));
        assertTrue(convertingBeforeDownloaded, "the higher layers' files were written while the lowest layer was still downloading");
        assertEquals(List.of(), under("tmp", "convert-*"), "no temporary output left");
        Digest stored = Store.open(storage).resolve(name).orElseThrow().digest();
        return format.equals("dir") ? storage.resolve("dir").resolve(stored.hex()) : storage.resolve("sqfs").resolve(stored.hex() + ".sqfs");
    }

    @Test
    void theOverlappedSquashfsIsByteIdenticalToTheSequentialConversion() throws Exception {
        List<Digest> stored = new java.util.ArrayList<>();
        for (String repo : List.of("test/four", "test/four-docker")) {
            storage = tmp.resolve("storage-" + repo.replace('/', '-')); // a store without the layers: they download
            Path overlapped = pullOverlapped(repo, "squashfs");
            assertTrue(Files.isRegularFile(overlapped), overlapped.toString());
            // The same image converted from the store afterwards, the usual (sequential) way.
            Path sequential = tmp.resolve(repo.replace('/', '-') + ".sqfs");
            RegistryTestSupport.skiff(storage, home, "convert", "-q", "-o", sequential.toString(), ref(repo + ":1")).run().ok();
            Cmd.of("cmp", overlapped.toString(), sequential.toString()).run().ok();
            stored.add(Store.open(storage).resolve(ref(repo + ":1")).orElseThrow().digest());
        }
        String dockerAtRegistry = Digest.sha256(RegistryTestSupport.getManifest(registry.host(), "test/four-docker", "1",
                MediaTypes.DOCKER_MANIFEST)).toString();
        assertNotEquals(dockerAtRegistry, stored.get(1).toString(),
                "a Docker manifest is stored (and its conversion cached) under its OCI rewrite's digest");
    }

    @Test
    void theOverlappedDirectoryEqualsTheSequentialOne() throws Exception {
        Path overlapped = pullOverlapped("test/four", "dir");
        Path sequential = tmp.resolve("seq");
        RegistryTestSupport.skiff(storage, home, "convert", "-q", "--format", "dir", "-o", sequential.toString(), ref("test/four:1")).run().ok();
        var diff = Cmd.of("diff", "-r", "--no-dereference", overlapped.toString(), sequential.toString()).run();
        assertEquals(0, diff.exit(), diff.toString());
        assertEquals(4, Files.list(overlapped).count(), "file0..file3 of the four layers");
    }

    @Test
    void aCorruptLayerMidPullPublishesNothing() throws Exception {
        String name = ref("test/four:1");
        String bad = layer("test/four", 2);
        proxy.always("GET", "/blobs/" + bad, new FaultProxy.Corrupt());
        var r = RegistryTestSupport.skiff(storage, home, "pull", name).run();
        assertEquals(4, r.exit(), r.toString());
        assertTrue(r.err().contains("does not match its digest"), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line, the pull's error, not the conversion's: " + r.err());
        assertTrue(Store.open(storage).resolve(name).isEmpty());
        assertEquals(List.of(), under("sqfs", "*"), "nothing converted is published");
        assertEquals(List.of(), under("tmp", "convert-*"), "no temporary output left");
        assertBlobsVerify(storage);

        proxy.clear();
        RegistryTestSupport.skiff(storage, home, "pull", name).run().ok();
        assertEquals(1, under("sqfs", "*.sqfs").size());
    }

    @Test
    void ctrlCWhileALayerIsComingLeavesNoConversion() throws Exception {
        String name = ref("test/four:1");
        String last = layer("test/four", 3);
        proxy.once("GET", "/blobs/" + last, new FaultProxy.Stall(LAYER / 2, 30_000));
        Process p = RegistryTestSupport.skiff(storage, home, "pull", name).start();
        Path part = storage.resolve("tmp/ingest/sha256-" + last.substring(7) + ".part");
        long end = System.currentTimeMillis() + 60_000;
        while ((!Files.exists(part) || Files.size(part) < LAYER / 2 || under("tmp", "convert-*").isEmpty())
                && System.currentTimeMillis() < end) Thread.sleep(20);
        assertFalse(under("tmp", "convert-*").isEmpty(), "the conversion started before the interrupt");
        Cmd.of("kill", "-INT", Long.toString(p.pid())).run().ok();
        assertNotEquals(0, p.waitFor());
        assertTrue(Store.open(storage).resolve(name).isEmpty());
        assertEquals(List.of(), under("sqfs", "*"), "nothing converted is published");
        assertEquals(List.of(), under("tmp", "convert-*"), "the interrupted conversion removed its temporary output");
    }
}
