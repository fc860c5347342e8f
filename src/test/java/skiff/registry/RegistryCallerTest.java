package skiff.registry;

import org.junit.jupiter.api.Test;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The caller and the endpoints against a scripted transport: no server, every answer chosen by the test. */
class RegistryCallerTest {
    static final String OCI = "application/vnd.oci.image.manifest.v1+json";

    /** Answers in order, recording each request as "METHOD URI". */
    static class Script implements Transport {
        final Deque<Response> answers = new ArrayDeque<>();
        final List<String> requests = new ArrayList<>();

        Script answer(int status, Map<String, String> headers, String body) {
            Map<String, List<String>> h = new java.util.TreeMap<>();
            headers.forEach((k, v) -> h.put(k.toLowerCase(java.util.Locale.ROOT), List.of(v)));
            answers.add(new Response(status, h, new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8))));
            return this;
        }

        @Override
        public Response send(String method, URI uri, Map<String, String> headers, Duration timeout) {
            requests.add(method + " " + uri);
            if (answers.isEmpty()) throw new AssertionError("unexpected request " + method + " " + uri);
            return answers.removeFirst();
        }

        @Override
        public void close() {
            // nothing held
        }
    }

    static RegistryClient client(Script s, String... endpoints) {
        return new RegistryClient("registry.example", java.util.Arrays.stream(endpoints).map(URI::create).toList(), null, null,
                new RegistryClient.RetryPolicy(3, Duration.ofMillis(1), Duration.ofMillis(5)), s);
    }

    @Test
    void theRegistrysErrorCodeIsTypedAndQuoted() {
        RegistryError e = RegistryError.parse(404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}");
        assertEquals(RegistryError.Code.MANIFEST_UNKNOWN, e.code());
        assertEquals("MANIFEST_UNKNOWN: manifest unknown", e.detail());
        assertEquals(RegistryError.Code.OTHER, RegistryError.parse(500, "{\"errors\":[{\"code\":\"SOMETHING_ELSE\"}]}").code());
        assertEquals("", RegistryError.parse(502, "<html>bad gateway</html>").detail());
    }

    @Test
    void aMissingManifestIsTheImagesProblemWithTheRegistrysWords() {
        Script s = new Script().answer(404, Map.of(), "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}");
        var e = assertThrows(SkiffException.class, () -> client(s, "https://registry.example").getManifest("lib/x", "1.0"));
        assertEquals(ExitCode.IMAGE, e.exitCode());
        assertEquals("image registry.example/lib/x:1.0 not found (MANIFEST_UNKNOWN: manifest unknown): check the name and tag", e.getMessage());
    }

    @Test
    void exitCodesComeFromOneTable() {
        for (RegistryFailures.Kind k : RegistryFailures.Kind.values()) {
            ExitCode expected = switch (k) {
                case NOT_FOUND, NO_ACCESS, NOT_AN_IMAGE -> ExitCode.IMAGE;
                default -> ExitCode.REGISTRY;
            };
            assertEquals(expected, RegistryFailures.fail(k, "x").exitCode(), k.name());
        }
    }

    @Test
    void aSickMirrorGetsOneTryThenTheRegistryItsRetries() {
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"" + OCI + "\",\"config\":{},\"layers\":[]}";
        Script s = new Script()
                .answer(503, Map.of(), "")                              // the mirror: one try only
                .answer(429, Map.of("Retry-After", "0"), "")            // the registry: retried
                .answer(200, Map.of("Content-Type", OCI), manifest);
        RegistryClient.Manifest m = client(s, "https://mirror.example", "https://registry.example").getManifest("lib/x", "1.0");
        assertEquals(OCI, m.mediaType());
        assertEquals(List.of("GET https://mirror.example/v2/lib/x/manifests/1.0", "GET https://registry.example/v2/lib/x/manifests/1.0",
                "GET https://registry.example/v2/lib/x/manifests/1.0"), s.requests);
    }

    @Test
    void aRedirectToAnotherHostIsFollowedWithoutCredentials() {
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"" + OCI + "\",\"config\":{},\"layers\":[]}";
        List<Map<String, String>> sent = new ArrayList<>();
        Script s = new Script() {
            @Override
            public Response send(String method, URI uri, Map<String, String> headers, Duration timeout) {
                sent.add(headers);
                return super.send(method, uri, headers, timeout);
            }
        };
        s.answer(401, Map.of("WWW-Authenticate", "Basic realm=\"r\""), "")
                .answer(307, Map.of("Location", "https://cdn.example/m"), "")
                .answer(200, Map.of("Content-Type", OCI), manifest);
        var c = new RegistryClient("registry.example", List.of(URI.create("https://registry.example")), null,
                new Credentials.UserPass("u", "p"), new RegistryClient.RetryPolicy(1, Duration.ofMillis(1), Duration.ofMillis(1)), s);
        c.getManifest("lib/x", "1.0");
        assertEquals("GET https://cdn.example/m", s.requests.getLast());
        assertTrue(sent.get(1).containsKey("Authorization"), "the registry itself gets the credentials");
        assertTrue(!sent.get(2).containsKey("Authorization"), "another host does not");
    }
}
