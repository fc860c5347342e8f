package skiff.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Descriptor;
import skiff.image.ImageManifest;
import skiff.store.Store;
import skiff.store.TwoImages;
import skiff.testing.Cmd;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** skiff save and load, checked against skopeo's docker-archive and oci-archive transports. */
class SaveLoadIT {
    @TempDir
    Path tmp;

    static JsonNode skopeoConfig(String ref) throws Exception {
        return Json.MAPPER.readTree(Cmd.of("skopeo", "inspect", "--config", "--raw", ref).run().ok().out());
    }

    static String configDigest(String ref) throws Exception {
        JsonNode m = Json.MAPPER.readTree(Cmd.of("skopeo", "inspect", "--raw", ref).run().ok().out());
        return m.get("config").get("digest").asText();
    }

    @Test
    void saveIsReadBySkopeoWithTheSameConfigAndDiffIds() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages.into(tmp, storage);
        Store s = Store.open(storage);
        ImageManifest am = s.manifest(s.resolve(TwoImages.APP).orElseThrow().digest());
        Path archive = tmp.resolve("out/app.tar");
        Files.createDirectories(archive.getParent());
        Cmd.skiff(storage, "save", "-o", archive.toString(), "localhost:5000/team/app:2", "base:1").run().ok();

        JsonNode manifest = Json.MAPPER.readTree(Cmd.of("tar", "-xOf", archive.toString(), "manifest.json").run().ok().out());
        assertEquals(2, manifest.size());
        assertEquals("localhost:5000/team/app:2", manifest.get(0).get("RepoTags").get(0).asText());
        assertEquals("base:1", manifest.get(1).get("RepoTags").get(0).asText());
        try (var left = Files.list(archive.getParent())) {
            assertEquals(List.of(archive), left.toList(), "no temporary file left beside the archive");
        }

        Path oci = tmp.resolve("skopeo-oci");
        Cmd.of("skopeo", "copy", "--quiet", "docker-archive:" + archive + ":localhost:5000/team/app:2", "oci:" + oci + ":x").run().ok();
        // skopeo re-serialises a Docker config as an OCI one (a trailing newline may go): compare as JSON.
        JsonNode cfg = skopeoConfig("oci:" + oci + ":x");
        assertEquals(Json.MAPPER.readTree(s.readMetadataBlob(am.config().digest())), cfg, "config unchanged");
        assertEquals(2, cfg.get("rootfs").get("diff_ids").size());
        JsonNode mine = Json.MAPPER.readTree(s.readMetadataBlob(am.config().digest()));
        assertEquals(mine.get("rootfs"), cfg.get("rootfs"));
        // The layers skopeo took from the archive are the uncompressed diffs: their digests are the diff_ids.
        JsonNode copied = Json.MAPPER.readTree(Cmd.of("skopeo", "inspect", "--raw", "oci:" + oci + ":x").run().ok().out());
        for (int k = 0; k < 2; k++) {
            String layer = copied.get("layers").get(k).get("digest").asText();
            String hex = layer.substring(7);
            Path blob = oci.resolve("blobs/sha256").resolve(hex);
            String sha = Cmd.of("sh", "-c", "gzip -dc -f < '" + blob + "' | sha256sum").run().ok().out().split(" ")[0];
            assertEquals(cfg.get("rootfs").get("diff_ids").get(k).asText(), "sha256:" + sha);
        }

        // To standard output: the same bytes (member times are fixed).
        Path viaStdout = tmp.resolve("stdout.tar");
        Cmd.of("sh", "-c", "\"$0\" save localhost:5000/team/app:2 base:1 > '" + viaStdout + "'", Cmd.skiffBin().toString())
                .env("SKIFF_STORAGE", storage.toString()).run().ok();
        assertArrayEquals(Files.readAllBytes(archive), Files.readAllBytes(viaStdout));
    }

    @Test
    void loadsSkopeoDockerArchiveAndOciArchiveAndOwnSaveAsTheUnprivilegedUser() throws Exception {
        Path storage = tmp.resolve("storage");
        TwoImages t = TwoImages.into(tmp, storage);
        Store src = Store.open(storage);
        Descriptor app = src.resolve(TwoImages.APP).orElseThrow();
        String appConfig = src.manifest(app.digest()).config().digest().toString();

        Path fresh = tmp.resolve("fresh");
        Files.createDirectories(fresh);
        Path dockerArchive = tmp.resolve("d.tar");
        Cmd.of("skopeo", "copy", "--quiet", "oci:" + t.layout() + ":app", "docker-archive:" + dockerArchive + ":example.org/x/app:7").run().ok();
        Path ociArchive = tmp.resolve("o.tar");
        Cmd.of("skopeo", "copy", "--quiet", "oci:" + t.layout() + ":base", "oci-archive:" + ociArchive + ":docker.io/library/fromoci:1").run().ok();
        Path saved = tmp.resolve("s.tar");
        Cmd.skiff(storage, "save", "-o", saved.toString(), "base:1").run().ok();
        for (Path p : List.of(dockerArchive, ociArchive, saved)) p.toFile().setReadable(true, false);
        ImagesIT.chownToTestUser(tmp, fresh);

        Cmd.Result r = Cmd.skiff(fresh, "load", "-i", dockerArchive.toString()).asTestUser().run().ok();
        assertEquals("Loaded image: example.org/x/app:7", r.out().strip());
        r = Cmd.skiff(fresh, "load").stdin(Files.readAllBytes(ociArchive)).asTestUser().run().ok();
        assertEquals("Loaded image: fromoci:1", r.out().strip());
        r = Cmd.skiff(fresh, "load", "-i", saved.toString()).asTestUser().run().ok();
        assertEquals("Loaded image: base:1", r.out().strip());

        Store s = Store.open(fresh);
        String fresh1 = fresh.resolve("oci").toString();
        assertEquals(appConfig, configDigest("oci:" + fresh1 + ":example.org/x/app:7"));
        // An OCI archive's blobs are copied as they are: the manifest digest is preserved.
        assertEquals(src.resolve(TwoImages.BASE).orElseThrow().digest(), s.resolve("docker.io/library/fromoci:1").orElseThrow().digest());
        assertEquals(configDigest("oci:" + storage.resolve("oci") + ":" + TwoImages.BASE), configDigest("oci:" + fresh1 + ":docker.io/library/base:1"));
        JsonNode images = Json.MAPPER.readTree(Cmd.skiff(fresh, "images", "--format", "json").asTestUser().run().ok().out());
        assertEquals(3, images.size());
        try (var left = Files.list(fresh.resolve("tmp"))) {
            assertEquals(0, left.count(), "no temporary files left");
        }
    }

    @Test
    void errorsAreOneLineWithTheirExitCodes() throws Exception {
        Path storage = tmp.resolve("storage");
        Files.createDirectories(storage);
        Path junk = Files.writeString(tmp.resolve("junk.tar"), "this is not an archive");
        ImagesIT.assertOneLineError(Cmd.skiff(storage, "load", "-i", junk.toString()).run(), 5, "bad image archive");
        ImagesIT.assertOneLineError(Cmd.skiff(storage, "load", "-i", tmp.resolve("missing.tar").toString()).run(), 5, "no such file");
        ImagesIT.assertOneLineError(Cmd.skiff(storage, "save", "-o", tmp.resolve("x.tar").toString(), "nosuch:1").run(), 3, "nosuch:1");
        assertFalse(Files.exists(tmp.resolve("x.tar")));
        ImagesIT.assertOneLineError(Cmd.skiff(storage, "save", "-o", tmp.resolve("x.tar").toString()).run(), 2, "REF");
        ImagesIT.assertOneLineError(Cmd.skiff(storage, "load", "--bogus").run(), 2, "--bogus");
        assertTrue(Cmd.skiff(storage, "images").run().ok().out().startsWith("REPOSITORY"));
    }
}
