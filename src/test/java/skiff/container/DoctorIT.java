package skiff.container;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.testing.Cmd;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** skiff doctor on this machine, which ci/setup.sh prepares to pass every required check. */
class DoctorIT {
    @TempDir
    Path tmp;

    @Test
    void passesAsRootAndAsTheTestUser() throws Exception {
        Path storage = Files.createDirectories(tmp.resolve("storage"));
        var asRoot = Cmd.skiff(storage, "doctor").run();
        assertEquals(0, asRoot.exit(), asRoot.toString());
        assertFalse(asRoot.out().contains("FAIL"), asRoot.out());

        ContainerFixture.chownToTestUser(storage);
        var asUser = Cmd.skiff(storage, "doctor").asTestUser().run();
        assertEquals(0, asUser.exit(), asUser.toString());
        for (String name : new String[] {"userns.probe", "fuse.device", "fusermount3", "squashfs.mounter", "squashfuse", "storage", "java", "deflate"})
            assertTrue(asUser.out().lines().anyMatch(l -> l.startsWith("ok ") && l.contains(name)), name + " ok:\n" + asUser.out());
        var noDeflate = Cmd.skiff(storage, "doctor").env("SKIFF_DEFLATE", "java").asTestUser().run();
        assertEquals(0, noDeflate.exit(), "libdeflate is optional: " + noDeflate);
        assertTrue(noDeflate.out().lines().anyMatch(l -> l.startsWith("warn") && l.contains("deflate") && l.contains("libdeflate0")),
                noDeflate.out());

        JsonNode doc = Json.MAPPER.readTree(Cmd.skiff(storage, "doctor", "--format", "json").asTestUser().run().ok().out());
        assertTrue(doc.get("ok").asBoolean());
        assertTrue(doc.get("checks").size() >= 8, doc.toString());
    }

    @Test
    void missingSquashfuseWarnsByDefaultAndFailsWithTheFixAndExit7WhenItIsTheMounter() throws Exception {
        // A PATH with every usual command but squashfuse.
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        try (Stream<Path> s = Files.list(Path.of("/usr/bin"))) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.startsWith("squashfuse")) Files.createSymbolicLink(bin.resolve(n), p);
            }
        }
        Path storage = Files.createDirectories(tmp.resolve("storage"));
        // skiff's own server is the default mounter: without squashfuse there is only no fallback.
        var dflt = Cmd.skiff(storage, "doctor").env("PATH", bin + ":/usr/sbin").run();
        assertEquals(0, dflt.exit(), dflt.toString());
        String warn = dflt.out().lines().filter(l -> l.split("\\s+")[1].equals("squashfuse")).findFirst().orElseThrow(() -> new AssertionError(dflt.out()));
        assertTrue(warn.startsWith("warn") && warn.contains("no fallback"), warn);
        // With squashfuse as the mounter it is required.
        Path conf = Files.createDirectories(tmp.resolve("conf/skiff"));
        Files.writeString(conf.resolve("config.toml"), "[run]\nsquashfs-mounter = \"squashfuse\"\n");
        var r = Cmd.skiff(storage, "doctor").env("PATH", bin + ":/usr/sbin").env("XDG_CONFIG_HOME", conf.getParent().toString()).run();
        assertEquals(7, r.exit(), r.toString());
        String line = r.out().lines().filter(l -> l.split("\\s+")[1].equals("squashfuse")).findFirst().orElseThrow(() -> new AssertionError(r.out()));
        assertTrue(line.startsWith("FAIL"), line);
        assertTrue(line.contains("— install squashfuse"), line);
        assertTrue(r.out().lines().filter(l -> l.startsWith("FAIL")).count() == 1, "only squashfuse fails:\n" + r.out());

        JsonNode doc = Json.MAPPER.readTree(Cmd.skiff(storage, "doctor", "--format", "json").env("PATH", bin + ":/usr/sbin")
                .env("XDG_CONFIG_HOME", conf.getParent().toString()).run().out());
        assertFalse(doc.get("ok").asBoolean());
    }

    @Test
    void unwritableStorageFails() throws Exception {
        Path storage = Files.createDirectories(tmp.resolve("root-only"));
        Files.setAttribute(storage, "unix:mode", 0755);
        Files.setAttribute(tmp, "unix:mode", 0755);
        var r = Cmd.skiff(storage.resolve("sub"), "doctor").asTestUser().run();
        assertEquals(7, r.exit(), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("FAIL") && l.contains("storage") && l.contains("not writable")), r.out());
    }
}
