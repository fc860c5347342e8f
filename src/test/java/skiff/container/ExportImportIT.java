package skiff.container;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.ImageConfig;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * export → other tools read the tarball (GNU tar, skopeo's tarball transport) → import gives back the
 * same tree, as an image (unpacked by umoci, independent of skiff) and as a container. Run as the
 * unprivileged test user, whose files the tar must record as root's.
 */
class ExportImportIT {
    @TempDir
    static Path work;
    static Path storage;
    static Path out;
    static Map<String, String> original;

    @BeforeAll
    static void container() throws Exception {
        storage = work.resolve("storage");
        out = Files.createDirectories(work.resolve("out"));
        ContainerFixture.image(work, storage);
        ContainerFixture.chownToTestUser(storage, out);
        skiff("create", "--name", "src", ContainerFixture.IMAGE).ok();
        Cmd.of("runuser", "-u", Cmd.TEST_USER, "--", "sh", "-c",
                "echo made-in-container > " + storage.resolve("containers/src/rootfs/root/note")).run().ok();
        // A user xattr (what DirectorySink keeps of an image's xattrs) travels through export and import.
        Files.getFileAttributeView(storage.resolve("containers/src/rootfs/root/note"),
                java.nio.file.attribute.UserDefinedFileAttributeView.class).write("skiff.origin", java.nio.ByteBuffer.wrap("test".getBytes()));
        original = ContainerFixture.describe(storage.resolve("containers/src/rootfs"));
    }

    static Cmd.Result skiff(String... args) {
        return Cmd.skiff(storage, args).asTestUser().run();
    }

    @Test
    void exportIsAPlainRootOwnedTarThatOtherToolsRead() throws Exception {
        Path tar = out.resolve("src.tar");
        skiff("export", "-o", tar.toString(), "src").ok();
        assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(tar)));
        String listing = Cmd.of("tar", "--numeric-owner", "-tvf", tar.toString()).run().ok().out();
        assertTrue(listing.contains("root/note"), listing);
        assertTrue(listing.lines().allMatch(l -> l.split("\\s+")[1].equals("0/0")), "all entries root-owned:\n" + listing);
        assertTrue(listing.contains("etc/passwd.link link to etc/passwd"), "hard links kept:\n" + listing);
        assertTrue(listing.contains("etc/abs-link -> /etc/passwd"), listing);
        assertTrue(listing.contains("long name with spaces and é.txt"), listing);
        String names = Cmd.of("tar", "-tf", tar.toString()).run().ok().out();
        assertTrue(names.lines().noneMatch(l -> l.startsWith("./") || l.startsWith("/")), "relative names without ./:\n" + names);

        // GNU tar unpacks it to the same tree.
        Path unpacked = Files.createDirectories(work.resolve("gnutar"));
        Cmd.of("tar", "-C", unpacked.toString(), "-xf", tar.toString()).run().ok();
        assertEquals(original, ContainerFixture.describe(unpacked));

        // skopeo takes it as a layer (the way 'docker import' does).
        Cmd.of("skopeo", "copy", "--quiet", "tarball:" + tar, "oci:" + work.resolve("skopeo-layout") + ":x").run().ok();
        assertTrue(Files.isRegularFile(work.resolve("skopeo-layout/index.json")));

        // -o - writes the same bytes to standard output.
        var stdout = Cmd.of("sh", "-c", "runuser -u " + Cmd.TEST_USER + " -- env SKIFF_STORAGE=" + storage + " " + Cmd.skiffBin()
                + " export -o - src | sha256sum").run().ok();
        String fileSum = Cmd.of("sha256sum", tar.toString()).run().ok().out().split(" ")[0];
        assertEquals(fileSum, stdout.out().split(" ")[0]);
    }

    @Test
    void importRoundTripsAsImageAndAsContainer() throws Exception {
        Path tar = out.resolve("round.tar");
        skiff("export", "-o", tar.toString(), "src").ok();
        Cmd.of("gzip", "-k", tar.toString()).run().ok();
        Cmd.of("chown", Cmd.TEST_USER, tar + ".gz").run().ok();

        String digest = skiff("import", tar + ".gz", "example.org/imported:1").ok().out().strip();
        Store store = Store.open(storage);
        var desc = store.resolve("example.org/imported:1").orElseThrow();
        assertEquals(digest, desc.digest().toString());
        var manifest = store.manifest(desc.digest());
        assertEquals(1, manifest.layers().size());
        ImageConfig config = store.config(manifest);
        assertEquals("linux", config.os());
        assertEquals(1, config.rootfs().diffIds().size());
        assertEquals(1, config.history().size());

        // The image flattens (umoci, independent of skiff) to the container's tree.
        Path layout = work.resolve("imported-layout");
        Cmd.of("skopeo", "copy", "--quiet", "oci:" + store.layout() + ":example.org/imported:1", "oci:" + layout + ":x").run().ok();
        Cmd.of("umoci", "unpack", "--image", layout + ":x", work.resolve("imported-bundle").toString()).run().ok();
        assertEquals(original, ContainerFixture.describe(work.resolve("imported-bundle/rootfs")));

        // --to-container gives a container with the same tree, owned by the user, that exports to the same bytes.
        assertEquals("back", skiff("import", "--to-container", "--name", "back", tar.toString()).ok().out().strip());
        Path back = storage.resolve("containers/back/rootfs");
        assertEquals(original, ContainerFixture.describe(back));
        assertEquals(1500, ContainerFixture.uid(back.resolve("root/note")));
        var xattrs = Files.getFileAttributeView(back.resolve("root/note"), java.nio.file.attribute.UserDefinedFileAttributeView.class);
        assertEquals(List.of("skiff.origin"), xattrs.list());
        skiff("export", "-o", out.resolve("back.tar").toString(), "back").ok();
        assertArrayEquals(Files.readAllBytes(tar), Files.readAllBytes(out.resolve("back.tar")));

        JsonNode ps = Json.MAPPER.readTree(skiff("ps", "--format", "json").ok().out());
        assertTrue(Arrays.stream(Json.MAPPER.treeToValue(ps, JsonNode[].class)).anyMatch(n -> n.get("name").asText().equals("back")));
        skiff("rm", "back").ok();
    }

    @Test
    void hostileTarballIsRefusedWithExit5() throws Exception {
        Path evil = out.resolve("evil.tar");
        Path src = Files.createDirectories(work.resolve("evil-src"));
        Files.writeString(src.resolve("x"), "x");
        // GNU tar keeps the '..' when told to (-P), as an attacker's tool would.
        Cmd.of("tar", "-P", "-cf", evil.toString(), "--transform", "s,^x,../../escaped,", "-C", src.toString(), "x").run().ok();
        Cmd.of("chown", Cmd.TEST_USER, evil.toString()).run().ok();
        var r = skiff("import", "--to-container", "--name", "evil", evil.toString());
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("unsafe") && r.err().contains(".."), r.err());
        assertTrue(Files.notExists(storage.resolve("escaped")) && Files.notExists(work.resolve("escaped")));
        assertTrue(Containers.open(storage).find("evil").isEmpty());
        assertEquals(List.of(), skiff("ps", "-q").ok().out().lines().filter(l -> l.equals("evil")).toList());
    }
}
