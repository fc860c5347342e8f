package skiff.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CredentialsTest {
    @TempDir
    Path tmp;

    @Test
    void skiffFileFirstThenDockerConfigAndDockerHubAliases() throws Exception {
        Path docker = tmp.resolve("docker.json");
        Files.writeString(docker, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\""
                + Base64.getEncoder().encodeToString("bob:pw:with:colons".getBytes()) + "\"},"
                + "\"ghcr.io\":{\"username\":\"u\",\"password\":\"p\"}}}");
        Credentials c = new Credentials(tmp.resolve("cfg/auth.json"), docker);
        assertEquals(Optional.of(new Credentials.UserPass("bob", "pw:with:colons")), c.lookup("docker.io"));
        assertEquals(Optional.of(new Credentials.UserPass("u", "p")), c.lookup("ghcr.io"));
        assertEquals(Optional.empty(), c.lookup("quay.io"));

        c.store("docker.io", new Credentials.UserPass("alice", "x"));
        assertEquals("alice", c.lookup("index.docker.io").orElseThrow().user());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp.resolve("cfg/auth.json"))));
        assertTrue(Files.readString(tmp.resolve("cfg/auth.json")).contains(Credentials.DOCKER_HUB_KEY));

        c.store("localhost:5000", new Credentials.UserPass("l", "1"));
        assertTrue(c.remove("docker.io"));
        assertFalse(c.remove("docker.io"));
        assertEquals("bob", c.lookup("docker.io").orElseThrow().user(), "Docker's own file still answers");
        assertEquals("l", c.lookup("localhost:5000").orElseThrow().user());
    }

    @Test
    void brokenFilesAreAConfigError() throws Exception {
        Path f = tmp.resolve("auth.json");
        Files.writeString(f, "{\"auths\":{\"x.io\":{\"auth\":\"!!!\"}}}");
        var e = assertThrows(SkiffException.class, () -> new Credentials(f, tmp.resolve("none")).lookup("x.io"));
        assertEquals(ExitCode.POLICY, e.exitCode());
        Files.writeString(f, "not json");
        assertThrows(SkiffException.class, () -> new Credentials(f, tmp.resolve("none")).lookup("x.io"));
    }

    @Test
    void secretsDoNotLeakThroughToString() {
        assertFalse(new Credentials.UserPass("u", "hunter2").toString().contains("hunter2"));
    }
}
