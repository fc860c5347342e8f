package skiff;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import skiff.reference.Reference;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ReferenceTest {
    static final String D = "sha256:" + "a".repeat(64);

    @ParameterizedTest
    @CsvSource({
            "ubuntu, docker.io/library/ubuntu:latest",
            "ubuntu:22.04, docker.io/library/ubuntu:22.04",
            "library/ubuntu, docker.io/library/ubuntu:latest",
            "index.docker.io/library/ubuntu:1, docker.io/library/ubuntu:1",
            "docker.io/ubuntu, docker.io/library/ubuntu:latest",
            "org/img, docker.io/org/img:latest",
            "ghcr.io/org/img:tag, ghcr.io/org/img:tag",
            "host:5000/a/b:t, host:5000/a/b:t",
            "localhost/a, localhost/a:latest",
            "localhost:5000/a, localhost:5000/a:latest",
            "127.0.0.1:5000/x/y:v1.2-rc_3, 127.0.0.1:5000/x/y:v1.2-rc_3",
            "Foo/bar, Foo/bar:latest",
            "a__b/c.d-e, docker.io/a__b/c.d-e:latest",
    })
    void normalisesAsDocker(String in, String out) {
        assertEquals(out, Reference.parse(in).toString());
    }

    @Test
    void digests() {
        assertEquals("docker.io/library/ubuntu@" + D, Reference.parse("ubuntu@" + D).toString());
        Reference r = Reference.parse("ubuntu:22.04@" + D);
        assertEquals("docker.io/library/ubuntu:22.04@" + D, r.toString());
        assertEquals(D, r.manifestReference());
        assertEquals("host:5000/a/b@" + D, Reference.parse("host:5000/a/b@" + D).toString());
    }

    @Test
    void familiarNames() {
        assertEquals("ubuntu", Reference.parse("ubuntu").familiarName());
        assertEquals("org/img", Reference.parse("org/img").familiarName());
        assertEquals("ghcr.io/org/img", Reference.parse("ghcr.io/org/img").familiarName());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "UPPER", "a/UPPER", "ubuntu:", "ubuntu:-x", "ubuntu@sha256:abc", "a//b", "-a", "a-", "host:5000/",
            "ubuntu@md5:" + "a", "a:b:c/d"})
    void rejectsInvalid(String in) {
        SkiffException e = assertThrows(SkiffException.class, () -> Reference.parse(in));
        assertEquals(ExitCode.IMAGE, e.exitCode());
    }
}
