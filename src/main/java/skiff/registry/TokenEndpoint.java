package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.util.Json;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import static skiff.registry.RegistryFailures.Kind.AUTH_FAILED;
import static skiff.registry.RegistryFailures.Kind.BAD_ANSWER;
import static skiff.registry.RegistryFailures.Kind.UNREACHABLE;

/**
 * The token service a Bearer challenge names (distribution spec "Token Authentication"): GET realm?service&scope,
 * with Basic credentials when there are some. Talks to the realm directly, not through the registry's endpoints:
 * the realm is another server, and a redirect there is not followed.
 */
final class TokenEndpoint {
    private static final long MAX_ANSWER = 1 << 20;

    /** A token and when to stop using it. */
    record Token(String value, long expiresAtMillis) {
        boolean fresh() {
            return System.currentTimeMillis() < expiresAtMillis;
        }
    }

    private final Transport http;
    private final RegistryClient.RetryPolicy retry;

    TokenEndpoint(Transport http, RegistryClient.RetryPolicy retry) {
        this.http = http;
        this.retry = retry;
    }

    Token fetch(URI base, String loginName, String realm, String service, String scope, Credentials.UserPass up) {
        URI r;
        try {
            r = URI.create(realm);
        } catch (IllegalArgumentException e) {
            throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " named an invalid token realm '" + realm + "'");
        }
        if (!"https".equals(r.getScheme()) && !"http".equals(r.getScheme()))
            throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " named a token realm that is not http(s): " + realm);
        // Never send a password over plain HTTP to a realm the user did not choose to trust that way.
        if ("http".equals(r.getScheme()) && up != null && !"http".equals(base.getScheme()) && !RegistryConfig.isLoopback(r.getRawAuthority()))
            throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " asks to send credentials in clear text to " + realm + "; refused");
        StringBuilder q = new StringBuilder();
        if (service != null) q.append("service=").append(URLEncoder.encode(service, StandardCharsets.UTF_8));
        if (scope != null) q.append(q.isEmpty() ? "" : "&").append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
        URI u = URI.create(realm + (q.isEmpty() ? "" : (realm.contains("?") ? "&" : "?") + q));
        Exception last = null;
        for (int attempt = 0; attempt < retry.attempts(); attempt++) {
            if (attempt > 0) RegistryCaller.sleep(retry.backoff(attempt - 1));
            Transport.Response resp;
            try {
                resp = http.send("GET", u, up != null ? Map.of("Authorization", up.basic()) : Map.of(), Duration.ofSeconds(60));
            } catch (IOException e) {
                last = e;
                continue;
            }
            int s = resp.status();
            if (s >= 500 || s == 429) {
                resp.close();
                last = new IOException("HTTP " + s);
                continue;
            }
            if (s == 401 || s == 403) {
                RegistryError e = RegistryError.of(resp);
                throw RegistryFailures.fail(AUTH_FAILED, "authentication to registry " + base + " failed"
                        + (up != null ? " for user '" + up.user() + "'" : "") + " (token service answered " + s
                        + (e.detail().isEmpty() ? "" : ": " + e.detail()) + "): check the user name and password ('skiff login " + loginName + "')");
            }
            if (s != 200)
                throw RegistryFailures.fail(BAD_ANSWER, "token service " + realm + " answered HTTP " + s + " " + RegistryError.of(resp).detail().trim());
            byte[] data;
            try (resp) {
                data = ManifestEndpoint.readBounded(resp.body(), MAX_ANSWER);
            } catch (IOException e) {
                last = e;
                continue;
            }
            if (data == null) throw RegistryFailures.fail(BAD_ANSWER, "token service " + realm + " sent an oversized answer");
            return parse(realm, data);
        }
        throw RegistryFailures.fail(UNREACHABLE, "cannot get a token from " + realm + " (" + RegistryFailures.describe(last) + "): try again later", last);
    }

    private static Token parse(String realm, byte[] data) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(data);
        } catch (IOException e) {
            throw RegistryFailures.fail(BAD_ANSWER, "token service " + realm + " sent an answer that is not JSON");
        }
        String token = n.hasNonNull("token") ? n.get("token").asText() : n.hasNonNull("access_token") ? n.get("access_token").asText() : null;
        if (token == null || token.isEmpty() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e))
            throw RegistryFailures.fail(BAD_ANSWER, "token service " + realm + " sent no usable token");
        long expires = n.hasNonNull("expires_in") ? Math.max(n.get("expires_in").asLong(), 0) : 60;
        // Refresh a little early so a token never expires between being picked and being used.
        long ttlMs = Math.max(expires * 1000 - 10_000, Math.min(expires * 1000, 5_000));
        return new Token(token, System.currentTimeMillis() + ttlMs);
    }
}
