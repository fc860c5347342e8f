package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.store.Puller;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.RegistryFixture;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static skiff.registry.RegistryTestSupport.assertBlobsVerify;
import static skiff.registry.RegistryTestSupport.skopeoInspect;

/**
 * {@code skiff pull} from a real docker-registry through a fault-injecting proxy: OCI, Docker schema 2
 * and multi-platform images, re-pull without downloads, unknown images, and recovery from 500, 429,
 * connections cut mid-blob and corrupted blobs; concurrent pulls; a pull as an unprivileged user.
 */
class PullIT {
    static Path work;
    static RegistryFixture registry;
    static FaultProxy proxy;
    static String amd64Digest;
    static String arm64Digest;
    static String indexDigest;
    static final int LAYER = 300_000;

    @TempDir
    Path tmp;
    Path storage;
    Path home;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("skiff-pullit");
        registry = RegistryFixture.plain(work.resolve("registry"));
        proxy = new FaultProxy(registry.host());
        ImageBuilder oci = RegistryTestSupport.randomImage(work.resolve("a"), "latest", 3, LAYER, 1);
        registry.push(oci.skopeoRef(), "test/oci:1");
        registry.push(oci.skopeoRef(), "test/docker:1", "--format", "v2s2");
        ImageBuilder other = RegistryTestSupport.randomImage(work.resolve("b"), "latest", 2, LAYER, 2);
        registry.push(other.skopeoRef(), "test/other:1");
        ImageBuilder big = RegistryTestSupport.randomImage(work.resolve("big"), "latest", 2, 6 << 20, 5);
        registry.push(big.skopeoRef(), "test/big:1");

        // A multi-platform index over an amd64 and an arm64 image.
        ImageBuilder amd = RegistryTestSupport.randomImage(work.resolve("m"), "amd64", 1, 1000, 3).config("--architecture", "amd64");
        ImageBuilder arm = RegistryTestSupport.randomImage(work.resolve("m"), "arm64", 1, 1000, 4).config("--architecture", "arm64");
        registry.push(amd.skopeoRef(), "test/multi:amd64");
        registry.push(arm.skopeoRef(), "test/multi:arm64");
        byte[] ma = RegistryTestSupport.getManifest(registry.host(), "test/multi", "amd64", MediaTypes.OCI_MANIFEST);
        byte[] mb = RegistryTestSupport.getManifest(registry.host(), "test/multi", "arm64", MediaTypes.OCI_MANIFEST);
        amd64Digest = Digest.sha256(ma).toString();
        arm64Digest = Digest.sha256(mb).toString();
        String index = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":["
                + "{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + arm64Digest + "\",\"size\":" + mb.length
                + ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
                + "{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + amd64Digest + "\",\"size\":" + ma.length
                + ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
        registry.putManifest("test/multi", "latest", MediaTypes.OCI_INDEX, index.getBytes());
        indexDigest = Digest.sha256(index.getBytes()).toString();
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

    Cmd.Result pull(String... args) {
        List<String> a = new ArrayList<>(List.of("pull"));
        a.addAll(List.of(args));
        return RegistryTestSupport.skiff(storage, home, a.toArray(String[]::new)).run();
    }

    String ref(String repoTag) {
        return proxy.host() + "/" + repoTag;
    }

    @Test
    void pullsAnOciImageAndRepullsWithoutDownloading() throws Exception {
        String name = ref("test/oci:1");
        var r = pull(name).ok();
        String digest = Digest.sha256(RegistryTestSupport.getManifest(registry.host(), "test/oci", "1", MediaTypes.OCI_MANIFEST)).toString();
        assertEquals("Pulled " + name + "@" + digest, r.out().strip());

        Store store = Store.open(storage);
        Descriptor d = store.resolve(name).orElseThrow();
        assertEquals(digest, d.digest().toString());
        assertEquals(MediaTypes.OCI_MANIFEST, d.mediaType());
        assertEquals("linux/amd64", d.platform().toString());
        assertEquals(3, store.manifest(d.digest()).layers().size());
        assertEquals(5, assertBlobsVerify(storage)); // manifest, config, 3 layers
        assertTrue(skopeoInspect(storage, name).contains("\"Architecture\": \"amd64\""));
        assertEquals(3, proxy.seen("GET", "/blobs/sha256:").size() - 1, "config + 3 layers downloaded once each");

        proxy.clear();
        var again = pull("-q", name).ok();
        assertEquals(digest, again.out().strip());
        assertEquals(List.of(), proxy.seen("GET", "/blobs/"), "an up-to-date re-pull downloads no blob");
        assertEquals(List.of(), proxy.seen("GET", "/manifests/"), "the HEAD digest is in the store, no GET needed");
        assertFalse(Files.exists(storage.resolve("tmp/ingest")) && Files.list(storage.resolve("tmp/ingest")).anyMatch(p -> p.toString().endsWith(".part")));
    }

    @Test
    void pullsDockerSchema2() throws Exception {
        String name = ref("test/docker:1");
        pull(name).ok();
        Store store = Store.open(storage);
        Descriptor d = store.resolve(name).orElseThrow();
        // Stored as its OCI equivalent (so OCI tools see it), the registry's digest kept in an annotation.
        String dockerDigest = Digest.sha256(RegistryTestSupport.getManifest(registry.host(), "test/docker", "1", MediaTypes.DOCKER_MANIFEST)).toString();
        assertEquals(MediaTypes.OCI_MANIFEST, d.mediaType());
        assertEquals(dockerDigest, d.annotation(Puller.MANIFEST_DIGEST));
        assertEquals(dockerDigest, d.annotation(Puller.REPO_DIGEST));
        var m = store.manifest(d.digest());
        assertEquals(MediaTypes.OCI_CONFIG, m.config().mediaType());
        assertTrue(m.layers().stream().allMatch(l -> l.mediaType().equals(MediaTypes.OCI_LAYER_GZIP)));
        assertTrue(store.hasBlob(Digest.parse(dockerDigest)));
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
    }

    @Test
    void choosesThePlatformFromAnIndex() throws Exception {
        String name = ref("test/multi:latest");
        var r = pull(name).ok();
        assertEquals("Pulled " + name + "@" + indexDigest, r.out().strip());
        Store store = Store.open(storage);
        Descriptor d = store.resolve(name).orElseThrow();
        assertEquals(amd64Digest, d.digest().toString());
        assertEquals(indexDigest, d.annotation(Puller.INDEX_DIGEST));
        assertTrue(store.hasBlob(Digest.parse(indexDigest)), "the index blob is kept for the repo digest");
        assertEquals("amd64", store.config(store.manifest(d.digest())).architecture());

        String armName = ref("test/multi:latest");
        pull("--platform", "linux/arm64", armName).ok();
        Descriptor a = store.resolve(armName).orElseThrow();
        assertEquals(arm64Digest, a.digest().toString());
        assertEquals("linux/arm64/v8", a.platform().toString());
        assertBlobsVerify(storage);
        skopeoInspect(storage, armName);

        var none = pull("--platform", "linux/s390x", name);
        assertEquals(3, none.exit(), none.toString());
        assertTrue(none.err().contains("linux/arm64/v8") && none.err().contains("linux/amd64"), none.err());
        assertEquals(1, none.err().lines().count(), "one-line error: " + none.err());
    }

    @Test
    void unknownImageIsExit3() {
        var r = pull(ref("test/nothere:1"));
        assertEquals(3, r.exit(), r.toString());
        assertTrue(r.err().contains("not found"), r.err());
        var t = pull(ref("test/oci:nosuchtag"));
        assertEquals(3, t.exit(), t.toString());
    }

    @Test
    void retriesA500AndHonoursRetryAfterOn429() throws Exception {
        proxy.once("GET", "/manifests/1", new FaultProxy.Status(500, Map.of()));
        proxy.once("GET", "/blobs/sha256:", new FaultProxy.Status(500, Map.of()));
        proxy.once("GET", "/blobs/sha256:", new FaultProxy.Status(429, Map.of("Retry-After", "2")));
        String name = ref("test/oci:1");
        pull(name).ok();
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
        // The request after the 429 waited at least the 2 s the registry asked for.
        List<FaultProxy.Seen> blobs = proxy.seen("GET", "/blobs/sha256:");
        long gap = Long.MAX_VALUE;
        for (int i = 0; i < blobs.size(); i++) {
            for (int j = 0; j < blobs.size(); j++) {
                if (i != j && blobs.get(i).path().equals(blobs.get(j).path()) && blobs.get(j).millis() > blobs.get(i).millis())
                    gap = Math.min(gap, Math.max(0, blobs.get(j).millis() - blobs.get(i).millis()));
            }
        }
        assertTrue(blobs.size() >= 6, "4 blobs plus 2 retried: " + blobs);
        assertTrue(gap >= 400, "backoff between retries of one blob: " + gap + " ms");
        assertTrue(blobs.stream().collect(java.util.stream.Collectors.groupingBy(FaultProxy.Seen::path, java.util.stream.Collectors.counting()))
                .values().stream().anyMatch(c -> c >= 2));
    }

    @Test
    void resumesABlobCutMidwayWithRange() throws Exception {
        String name = ref("test/oci:1");
        proxy.once("GET", "/blobs/sha256:", new FaultProxy.Cut(100_000));
        // Only layers are big enough to cut: make sure the cut hits a layer, not the config.
        JsonNode m = Json.MAPPER.readTree(RegistryTestSupport.getManifest(registry.host(), "test/oci", "1", MediaTypes.OCI_MANIFEST));
        String layer = m.path("layers").path(0).path("digest").asText();
        proxy.clear();
        proxy.once("GET", "/blobs/" + layer, new FaultProxy.Cut(100_000));
        pull(name).ok();
        List<FaultProxy.Seen> got = proxy.seen("GET", "/blobs/" + layer);
        assertEquals(2, got.size(), got.toString());
        assertEquals(null, got.get(0).range());
        assertEquals("bytes=100000-", got.get(1).range(), "the second request continued where the cut left off");
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
    }

    @Test
    void partialFromAKilledPullIsResumedByTheNextPull() throws Exception {
        String name = ref("test/oci:1");
        JsonNode m = Json.MAPPER.readTree(RegistryTestSupport.getManifest(registry.host(), "test/oci", "1", MediaTypes.OCI_MANIFEST));
        String layer = m.path("layers").path(1).path("digest").asText();
        // A part left by an earlier pull that died after 120000 bytes (written by the registry, so it is right).
        Path ingest = Files.createDirectories(storage.resolve("tmp/ingest"));
        byte[] blob = Files.readAllBytes(registry.dir().resolve("data/docker/registry/v2/blobs/sha256")
                .resolve(layer.substring(7, 9)).resolve(layer.substring(7)).resolve("data"));
        Files.write(ingest.resolve("sha256-" + layer.substring(7) + ".part"), java.util.Arrays.copyOf(blob, 120_000));
        pull(name).ok();
        List<FaultProxy.Seen> got = proxy.seen("GET", "/blobs/" + layer);
        assertEquals(1, got.size());
        assertEquals("bytes=120000-", got.get(0).range());
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
    }

    @Test
    void aCorruptBlobIsRefusedAndNothingIsStored() throws Exception {
        String name = ref("test/oci:1");
        JsonNode m = Json.MAPPER.readTree(RegistryTestSupport.getManifest(registry.host(), "test/oci", "1", MediaTypes.OCI_MANIFEST));
        String layer = m.path("layers").path(2).path("digest").asText();
        proxy.always("GET", "/blobs/" + layer, new FaultProxy.Corrupt());
        var r = pull(name);
        assertEquals(4, r.exit(), r.toString());
        assertTrue(r.err().contains("does not match its digest"), r.err());
        Store store = Store.open(storage);
        assertTrue(store.resolve(name).isEmpty(), "no name for a failed pull");
        assertFalse(store.hasBlob(Digest.parse(layer)));
        assertBlobsVerify(storage);

        proxy.clear();
        pull(name).ok();
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
    }

    String layerDigest(String repo, String tag, int i) throws Exception {
        JsonNode m = Json.MAPPER.readTree(RegistryTestSupport.getManifest(registry.host(), repo, tag, MediaTypes.OCI_MANIFEST));
        return m.path("layers").path(i).path("digest").asText();
    }

    @Test
    void bigBlobsAreVerifiedWhileStreamingToo() throws Exception {
        String name = ref("test/big:1");
        String layer = layerDigest("test/big", "1", 1);
        proxy.always("GET", "/blobs/" + layer, new FaultProxy.Corrupt());
        var r = pull(name);
        assertEquals(4, r.exit(), r.toString());
        assertTrue(r.err().contains("does not match its digest"), r.err());
        assertTrue(Store.open(storage).resolve(name).isEmpty());
        assertFalse(Store.open(storage).hasBlob(Digest.parse(layer)));
        assertBlobsVerify(storage);
        proxy.clear();
        proxy.once("GET", "/blobs/" + layer, new FaultProxy.Cut(3 << 20));
        pull(name).ok();
        assertEquals("bytes=" + (3 << 20) + "-", proxy.seen("GET", "/blobs/" + layer).get(1).range());
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
    }

    @Test
    void aKilledPullLeavesNothingVisibleAndTheNextOneResumes() throws Exception {
        String name = ref("test/big:1");
        String layer = layerDigest("test/big", "1", 0);
        proxy.once("GET", "/blobs/" + layer, new FaultProxy.Stall(2 << 20, 60_000));
        Process p = RegistryTestSupport.skiff(storage, home, "pull", name).start();
        long end = System.currentTimeMillis() + 60_000;
        Path part = storage.resolve("tmp/ingest/sha256-" + layer.substring(7) + ".part");
        while ((!Files.exists(part) || Files.size(part) < (2 << 20)) && System.currentTimeMillis() < end) Thread.sleep(50);
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly().waitFor();
        assertEquals(2 << 20, Files.size(part), "the part holds what arrived before the kill");
        Store store = Store.open(storage);
        assertTrue(store.resolve(name).isEmpty(), "a killed pull names nothing");
        assertFalse(store.hasBlob(Digest.parse(layer)));
        assertBlobsVerify(storage);

        pull(name).ok();
        List<FaultProxy.Seen> got = proxy.seen("GET", "/blobs/" + layer);
        assertEquals("bytes=" + (2 << 20) + "-", got.getLast().range(), "the next pull resumed the part");
        assertFalse(Files.exists(part));
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
    }

    @Test
    void showsProgressOnATerminal() {
        // script(1) gives skiff a pseudo-terminal as stdout/stderr.
        var r = Cmd.of("script", "-qec", Cmd.skiffBin() + " pull " + ref("test/other:1"), "/dev/null")
                .env("SKIFF_STORAGE", storage.toString()).env("HOME", home.toString()).run().ok();
        assertTrue(r.out().contains("[====================]"), r.out());
        assertTrue(r.out().contains("296.0 KiB / 296.0 KiB"), r.out());
        assertTrue(r.out().contains("Pulled " + ref("test/other:1") + "@sha256:"), r.out());
        // The conversion that follows the download says what it does, then what it made. The progress line names the
        // image in full or, when the phase's text leaves no room in the terminal's 80 columns, by its last component
        // (ConvertProgress.line): which phase gets painted depends on timing.
        assertTrue(r.out().contains("other:1 -> squashfs  "), r.out());
        assertTrue(r.out().contains(ref("test/other:1") + ": converted to squashfs in "), r.out());
    }

    @Test
    void concurrentPullsOfOverlappingImagesKeepTheStoreSound() throws Exception {
        List<String> names = List.of(ref("test/oci:1"), ref("test/oci:1"), ref("test/other:1"), ref("test/multi:latest"));
        List<Process> ps = new ArrayList<>();
        for (String n : names) ps.add(RegistryTestSupport.skiff(storage, home, "pull", "-q", n).start());
        for (Process p : ps) {
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            String err = new String(p.getErrorStream().readAllBytes());
            assertEquals(0, p.waitFor(), err);
        }
        assertBlobsVerify(storage);
        for (String n : names) skopeoInspect(storage, n);
        assertEquals(3, Store.open(storage).index().size());
    }

    @Test
    void pullsAsAnUnprivilegedUser() throws Exception {
        Files.createDirectories(storage);
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Cmd.of("chown", "-R", Cmd.TEST_USER, storage.toString()).run().ok();
        String name = ref("test/other:1");
        var r = Cmd.skiff(storage, "pull", name).asTestUser().run().ok();
        assertTrue(r.out().startsWith("Pulled " + name + "@sha256:"), r.out());
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
        var owner = Files.getOwner(storage.resolve("oci/index.json")).getName();
        assertEquals(Cmd.TEST_USER, owner);
    }

    @Test
    void mirrorsAreTriedFirstAndInvalidConfigIsExit6() throws Exception {
        // docker.io-style: the reference names a registry that is down; the mirror has the image.
        int dead = RegistryFixture.freePort();
        Path cfg = Files.createDirectories(home.resolve(".config/skiff")).resolve("config.toml");
        Files.writeString(cfg, "[run]\nother = 1\n\n[registries.\"127.0.0.1:" + dead + "\"]\nmirrors = [\"http://" + proxy.host() + "\"]\n");
        String name = "127.0.0.1:" + dead + "/test/other:1";
        var r = pull(name).ok();
        assertTrue(r.out().startsWith("Pulled " + name + "@sha256:"), r.out());
        assertFalse(proxy.seen("GET", "/blobs/").isEmpty());
        skopeoInspect(storage, name);

        Files.writeString(cfg, "[registries.\"docker.io\"]\nmirrors = \"http://x\"\n");
        var bad = pull(name);
        assertEquals(6, bad.exit(), bad.toString());
        assertTrue(bad.err().contains(cfg.toString()) && bad.err().contains("mirrors"), bad.err());
        Files.writeString(cfg, "[registries\nbroken");
        assertEquals(6, pull(name).exit());
    }

    @Test
    void goesThroughTheHttpProxyOfTheEnvironment() throws Exception {
        // The fault proxy forwards whatever it gets to the registry, so it can play a forward proxy for a
        // registry name that does not resolve at all.
        Path cfg = Files.createDirectories(home.resolve(".config/skiff")).resolve("config.toml");
        Files.writeString(cfg, "[registries.\"registry.invalid:5000\"]\ninsecure = true\n");
        String name = "registry.invalid:5000/test/other:1";
        var r = RegistryTestSupport.skiff(storage, home, "pull", name).env("http_proxy", "http://" + proxy.host()).run().ok();
        assertTrue(r.out().startsWith("Pulled " + name + "@sha256:"), r.out());
        assertFalse(proxy.seen("GET", "/blobs/").isEmpty());
        skopeoInspect(storage, name);
    }

    @Test
    void quietModePrintsOnlyTheDigestAndNoProgress() {
        var r = pull("-q", ref("test/other:1")).ok();
        assertTrue(r.out().strip().matches("sha256:[0-9a-f]{64}"), r.out());
        assertEquals("", r.err());
        assertNotNull(r);
    }
}
