package skiff.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryConfigTest {
    @TempDir
    Path tmp;

    RegistryConfig load(String toml) throws Exception {
        Path f = tmp.resolve("config.toml");
        Files.writeString(f, toml);
        return RegistryConfig.load(f);
    }

    @Test
    void mirrorsComeFirstThenTheRegistryOtherTablesIgnored() throws Exception {
        var c = load("""
                [run]
                whatever = "x"
                [registries."docker.io"]
                mirrors = ["http://127.0.0.1:5001/", "https://mirror.example.org"]
                [registries."myreg.local:5000"]
                insecure = true
                """);
        assertEquals(List.of(URI.create("http://127.0.0.1:5001"), URI.create("https://mirror.example.org"),
                URI.create("https://registry-1.docker.io")), c.pullEndpoints("docker.io"));
        assertEquals(URI.create("http://myreg.local:5000"), c.apiBase("myreg.local:5000"));
        assertEquals(URI.create("https://ghcr.io"), c.apiBase("ghcr.io"));
    }

    @Test
    void loopbackIsPlainHttpByDefault() {
        var c = RegistryConfig.empty();
        assertEquals("http", c.apiBase("localhost:5000").getScheme());
        assertEquals("http", c.apiBase("127.0.0.1:5000").getScheme());
        assertEquals("http", c.apiBase("[::1]:5000").getScheme());
        assertEquals("https", c.apiBase("127.example.org").getScheme());
        assertFalse(RegistryConfig.isLoopback("localhost.evil.org"));
    }

    @Test
    void missingFileIsEmpty() {
        assertTrue(RegistryConfig.load(tmp.resolve("none.toml")).registries().isEmpty());
    }

    @Test
    void invalidValuesNameTheFileAndKeyAndAreExit6() {
        for (String bad : List.of(
                "[registries.\"docker.io\"]\nmirrors = \"http://x\"\n",
                "[registries.\"docker.io\"]\nmirrors = [\"ftp://x\"]\n",
                "[registries.\"docker.io\"]\ninsecure = \"yes\"\n",
                "[registries\nbroken")) {
            var e = assertThrows(SkiffException.class, () -> load(bad), bad);
            assertEquals(ExitCode.POLICY, e.exitCode());
            assertTrue(e.getMessage().contains(tmp.resolve("config.toml").toString()), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        }
        var e = assertThrows(SkiffException.class, () -> load("[registries.\"docker.io\"]\ninsecure = 1\n"));
        assertTrue(e.getMessage().contains("registries.\"docker.io\".insecure"), e.getMessage());
    }
}
