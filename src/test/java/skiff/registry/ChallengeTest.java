package skiff.registry;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ChallengeTest {
    @Test
    void parsesBearerWithQuotedCommas() {
        Challenge c = Challenge.parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                + "scope=\"repository:library/ubuntu:pull,push\",error=\"insufficient_scope\"");
        assertEquals("bearer", c.scheme());
        assertEquals("https://auth.docker.io/token", c.param("realm"));
        assertEquals("registry.docker.io", c.param("service"));
        assertEquals("repository:library/ubuntu:pull,push", c.param("scope"));
        assertEquals("insufficient_scope", c.param("error"));
    }

    @Test
    void picksBearerOverBasicAndAcceptsUnquoted() {
        Challenge c = Challenge.pick(List.of("Basic realm=\"x\"", "bearer realm=http://t/token, service=s"));
        assertEquals("bearer", c.scheme());
        assertEquals("http://t/token", c.param("realm"));
        assertEquals("s", c.param("service"));
        assertEquals("basic", Challenge.pick(List.of("Basic realm=\"Registry Realm\"")).scheme());
        assertNull(Challenge.pick(List.of()));
    }
}
