package skiff.gateway.client;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The CLI's side of the gateway API: the JDK's HttpClient and Jackson, nothing of the server's libraries. Several
 * gateway URLs fail over in order: one that cannot be reached or answers 503 (its database away) gives way to the
 * next. Errors become one-line {@link SkiffException}s carrying the gateway's own message and code.
 */
public final class GatewayClient {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<URI> urls;
    private final Supplier<String> credential;
    /** The gateway that answered last: a request's status is asked where the request was made. */
    private URI sticky;

    /** @param credential makes the X-Skiff-Munge header value for each call, or null for none */
    public GatewayClient(List<String> urls, Supplier<String> credential) {
        if (urls.isEmpty()) throw new SkiffException(ExitCode.USAGE, "no gateway URL: give --gateway URL or set [gateway] url in config.toml");
        List<URI> u = new ArrayList<>();
        for (String s : urls) {
            String t = s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
            URI uri;
            try {
                uri = URI.create(t);
            } catch (IllegalArgumentException e) {
                throw new SkiffException(ExitCode.USAGE, "gateway URL '" + s + "' is not a URL");
            }
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null)
                throw new SkiffException(ExitCode.USAGE, "gateway URL '" + s + "' is not an http:// or https:// URL");
            u.add(uri);
        }
        this.urls = List.copyOf(u);
        this.credential = credential;
    }

    public URI answered() {
        return sticky;
    }

    /** POST /pulls: the request record (state, id, digest once READY). */
    public JsonNode requestPull(String reference, String platform, List<String> allowUsers, List<String> allowGroups) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("reference", reference);
        if (platform != null) body.put("platform", platform);
        if (!allowUsers.isEmpty()) body.put("allowed_users", allowUsers);
        if (!allowGroups.isEmpty()) body.put("allowed_groups", allowGroups);
        return call("POST", "/api/v1/pulls", new String(Json.bytes(body), StandardCharsets.UTF_8), false);
    }

    public JsonNode status(String id) {
        return call("GET", "/api/v1/pulls/" + URLEncoder.encode(id, StandardCharsets.UTF_8), null, true);
    }

    public JsonNode images(boolean mine) {
        return call("GET", "/api/v1/images" + (mine ? "?mine=true" : ""), null, false);
    }

    private JsonNode call(String method, String path, String body, boolean stick) {
        List<String> failures = new ArrayList<>();
        List<URI> order = stick && sticky != null ? List.of(sticky) : urls;
        for (URI base : order) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                    .header("Accept", "application/json");
            if (body != null) b.header("Content-Type", "application/json");
            String cred = credential == null ? null : credential.get();
            if (cred != null) b.header("X-Skiff-Munge", cred);
            HttpResponse<String> r;
            try {
                r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                failures.add(base + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SkiffException(ExitCode.INTERNAL, "interrupted while waiting for the gateway");
            }
            JsonNode json;
            try {
                json = Json.MAPPER.readTree(r.body());
            } catch (IOException e) {
                failures.add(base + ": answered " + r.statusCode() + " with no JSON (is this a skiff gateway?)");
                continue;
            }
            if (r.statusCode() == 503 && !stick) {
                failures.add(base + ": " + json.path("message").asText("unavailable"));
                continue;
            }
            sticky = base;
            if (r.statusCode() >= 400) throw error(base, json.path("code").asText("error"), json.path("message").asText(r.body()));
            return json;
        }
        throw new SkiffException(ExitCode.REGISTRY, "no gateway answered: " + String.join("; ", failures));
    }

    /** The exit code for an error code of the API (docs/gateway.md), and the gateway's message. */
    public static SkiffException error(URI base, String code, String message) {
        ExitCode e = switch (code) {
            case "bad_reference", "bad_platform", "bad_request", "bad_digest" -> ExitCode.USAGE;
            case "not_found", "image_error", "image_too_large" -> ExitCode.IMAGE;
            case "unauthenticated", "forbidden", "policy_refused" -> ExitCode.POLICY;
            case "insufficient_storage", "storage_error" -> ExitCode.STORAGE;
            default -> ExitCode.REGISTRY;
        };
        return new SkiffException(e, "gateway " + (base == null ? "" : base + " ") + "(" + code + "): " + message);
    }
}
