package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import skiff.util.Json;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The REST API under {@code /api/v1}, on Jetty's core handler API (no servlet layer: the gateway needs routing,
 * JSON in and out, and nothing else). Every error is JSON {@code {"code": "...", "message": "..."}} with its own
 * HTTP status; the routes are listed in {@link #ROUTES}, and a test checks each is in the OpenAPI document.
 */
final class Api extends Handler.Abstract {
    static final String PREFIX = "/api/v1";

    /** A route: METHOD and a path template ({name} matches one segment). */
    record Route(String method, String template, Pattern pattern) {
        static Route of(String method, String template) {
            return new Route(method, template, Pattern.compile(template.replaceAll("\\{[a-z_]+}", "([^/]+)")));
        }
    }

    static final List<Route> ROUTES = List.of(
            Route.of("GET", "/"),
            Route.of("GET", PREFIX + "/health"),
            Route.of("GET", PREFIX + "/metrics"),
            Route.of("GET", PREFIX + "/openapi.json"),
            Route.of("POST", PREFIX + "/pulls"),
            Route.of("GET", PREFIX + "/pulls"),
            Route.of("GET", PREFIX + "/pulls/{id}"),
            Route.of("GET", PREFIX + "/pulls/{id}/log"),
            Route.of("GET", PREFIX + "/images"),
            Route.of("GET", PREFIX + "/images/lookup"),
            Route.of("GET", PREFIX + "/images/{digest}"),
            Route.of("DELETE", PREFIX + "/images/{digest}"),
            Route.of("POST", PREFIX + "/admin/expire"),
            Route.of("POST", PREFIX + "/admin/gc"));

    private final GatewayService svc;
    private final Authenticator auth;

    Api(GatewayService svc, Authenticator auth) {
        this.svc = svc;
        this.auth = auth;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String path = request.getHttpURI().getPath();
        String method = request.getMethod();
        try {
            Route match = null;
            Matcher m = null;
            boolean pathKnown = false;
            for (Route r : ROUTES) {
                // A template without {parameters} is compared as a string: a Matcher per route tried was a good part
                // of what each lookup allocated (it is the 10th route), and allocation paces the GC pauses in the p99.
                boolean literal = r.template().indexOf('{') < 0;
                Matcher mm = literal ? null : r.pattern().matcher(path);
                if (literal ? !r.template().equals(path) : !mm.matches()) continue;
                pathKnown = true;
                if (r.method().equals(method)) {
                    match = r;
                    m = mm;
                    break;
                }
            }
            if (match == null) {
                if (pathKnown) throw new ApiException(405, "method_not_allowed", method + " is not allowed on " + path);
                throw ApiException.notFound("no such API route: " + path + " (see " + PREFIX + "/openapi.json)");
            }
            Reply reply = dispatch(match, m, request);
            send(response, callback, reply.status(), reply.type(), reply.body());
        } catch (ApiException e) {
            send(response, callback, e.status(), "application/json", error(e.code(), e.getMessage()));
        } catch (Exception e) {
            send(response, callback, 500, "application/json", error("internal_error", GatewayService.oneLine(e.toString())));
        }
        return true;
    }

    record Reply(int status, String type, byte[] body) {
        static Reply json(int status, Object value) {
            return new Reply(status, "application/json", Json.bytes(value));
        }
    }

    private Reply dispatch(Route r, Matcher m, Request request) throws IOException {
        if (r.template().equals("/")) {
            // The web page: static HTML whose script polls this API.
            try (InputStream in = Api.class.getResourceAsStream("web/index.html")) {
                return new Reply(200, "text/html; charset=utf-8", in.readAllBytes());
            }
        }
        String t = r.template().substring(PREFIX.length());
        Fields q = Request.extractQueryParameters(request);
        switch (r.method() + " " + t) {
            case "GET /health" -> {
                boolean ok = svc.db().healthy();
                Map<String, Object> h = new LinkedHashMap<>();
                h.put("status", ok ? "ok" : "degraded");
                h.put("database", ok ? "ok" : "unavailable");
                if (!ok) throw new ApiException(503, "database_unavailable", "the gateway's database is unavailable; retry later");
                return Reply.json(200, h);
            }
            case "GET /metrics" -> {
                return new Reply(200, "text/plain; version=0.0.4; charset=utf-8", metrics().getBytes(StandardCharsets.UTF_8));
            }
            case "GET /openapi.json" -> {
                try (InputStream in = Api.class.getResourceAsStream("openapi.json")) {
                    return new Reply(200, "application/json", in.readAllBytes());
                }
            }
            case "POST /pulls" -> {
                Caller c = caller(request);
                JsonNode body = body(request);
                List<String> users = new ArrayList<>(strings(body, "allowed_users"));
                List<String> groups = strings(body, "allowed_groups");
                // A private image stays readable by whoever asked for it.
                if ((!users.isEmpty() || !groups.isEmpty()) && !users.contains(c.user())) users.add(c.user());
                GatewayService.Acl acl = new GatewayService.Acl(List.copyOf(users), groups);
                Records.PullRequest p = svc.request(text(body, "reference"), text(body, "platform"), c, acl);
                return Reply.json(p.state() == State.READY ? 200 : 202, request(p));
            }
            case "GET /pulls" -> {
                viewer(request);
                List<Object> out = new ArrayList<>();
                List<Records.PullRequest> rows = svc.queue();
                if ("true".equals(q.getValue("recent"))) {
                    // The queue first, then the latest finished requests (the web page shows both).
                    List<Records.PullRequest> all = new ArrayList<>(rows);
                    for (Records.PullRequest p : svc.db().recent(50)) if (p.state().terminal()) all.add(p);
                    rows = all;
                }
                for (Records.PullRequest p : rows) out.add(request(p));
                return Reply.json(200, Map.of("requests", out));
            }
            case "GET /pulls/{id}" -> {
                viewer(request);
                return Reply.json(200, request(pull(m.group(1))));
            }
            case "GET /pulls/{id}/log" -> {
                viewer(request);
                return new Reply(200, "text/plain; charset=utf-8", pull(m.group(1)).log().getBytes(StandardCharsets.UTF_8));
            }
            case "GET /images" -> {
                Caller c = viewer(request);
                boolean mine = "true".equals(q.getValue("mine"));
                List<Object> out = new ArrayList<>();
                for (Records.Image i : svc.db().images())
                    if (i.status() == State.READY && visible(i, c) && (!mine || i.owner().equals(c.user()))) out.add(image(i));
                return Reply.json(200, Map.of("images", out));
            }
            case "GET /images/lookup" -> {
                Caller c = viewer(request);
                String name = q.getValue("name");
                if (name == null) throw ApiException.badRequest("bad_request", "lookup needs ?name=REFERENCE");
                GatewayService.Hit h = svc.lookup(name, q.getValue("platform"));
                Optional<Records.Image> i = h.image();
                if (i.isEmpty() || i.get().status() != State.READY || !visible(i.get(), c))
                    throw ApiException.notFound("no published image named " + name + " (request it with POST " + PREFIX + "/pulls)");
                if (i.get().isPrivate()) return Reply.json(200, image(i.get(), h.names()));
                // A public image's answer is the same for every caller: serialised once per cache entry.
                byte[] body = h.json().get();
                if (body == null) {
                    body = Json.bytes(image(i.get(), h.names()));
                    h.json().set(body);
                }
                return new Reply(200, "application/json", body);
            }
            case "GET /images/{digest}" -> {
                Caller c = viewer(request);
                Records.Image i = image(m.group(1));
                if (!visible(i, c)) throw ApiException.notFound("no image " + m.group(1));
                return Reply.json(200, image(i));
            }
            case "DELETE /images/{digest}" -> {
                Caller c = caller(request);
                Records.Image i = image(m.group(1));
                if (!visible(i, c)) throw ApiException.notFound("no image " + m.group(1));
                if (!c.admin() && !i.owner().equals(c.user()))
                    throw ApiException.forbidden(c.user() + " may not delete " + i.digest() + ": only its owner (" + i.owner() + ") or an administrator may");
                svc.delete(i.digest());
                return Reply.json(200, Map.of("deleted", i.digest()));
            }
            case "POST /admin/expire" -> {
                admin(request);
                JsonNode body = body(request);
                long unused = body.has("unused_for_s") ? body.get("unused_for_s").asLong() * 1000 : svc.config().expireAfter().toMillis();
                return Reply.json(200, Map.of("expired", svc.expire(unused)));
            }
            case "POST /admin/gc" -> {
                admin(request);
                List<String> removed = new ArrayList<>();
                for (var p : svc.gc(3_600_000)) removed.add(p.getFileName().toString());
                return Reply.json(200, Map.of("removed", removed));
            }
            default -> throw new IllegalStateException("route without a handler: " + r);
        }
    }

    private Records.PullRequest pull(String id) {
        return svc.status(id).orElseThrow(() -> ApiException.notFound("no pull request " + id));
    }

    private Records.Image image(String digest) {
        if (!digest.matches("sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}"))
            throw ApiException.badRequest("bad_digest", "'" + digest + "' is not a digest (sha256:HEX)");
        return svc.db().image(digest).orElseThrow(() -> ApiException.notFound("no image " + digest));
    }

    private Caller caller(Request request) {
        return auth.authenticate(request.getHeaders().get(Authenticator.HEADER));
    }

    private Caller viewer(Request request) {
        return auth.viewer(request.getHeaders().get(Authenticator.HEADER));
    }

    private void admin(Request request) {
        Caller c = caller(request);
        if (!c.admin()) throw ApiException.forbidden(c.user() + " is not an administrator of this gateway");
    }

    private boolean visible(Records.Image i, Caller c) {
        return svc.visible(i, c);
    }

    private static JsonNode body(Request request) throws IOException {
        String s = Content.Source.asString(request, StandardCharsets.UTF_8);
        if (s == null || s.isBlank()) return Json.MAPPER.createObjectNode();
        if (s.length() > 65536) throw ApiException.badRequest("bad_request", "the request body is over 64 KiB");
        try {
            JsonNode n = Json.MAPPER.readTree(s);
            if (n == null || !n.isObject()) throw ApiException.badRequest("bad_request", "the request body must be a JSON object");
            return n;
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw ApiException.badRequest("bad_request", "the request body is not valid JSON: " + GatewayService.oneLine(e.getOriginalMessage()));
        }
    }

    private static String text(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw ApiException.badRequest("bad_request", "'" + field + "' must be a string");
        return n.asText();
    }

    private static List<String> strings(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) return List.of();
        if (!n.isArray()) throw ApiException.badRequest("bad_request", "'" + field + "' must be a list of names");
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual() || !e.asText().matches("[a-z_][a-z0-9_.-]{0,63}"))
                throw ApiException.badRequest("bad_request", "'" + field + "' holds '" + e.asText() + "', which is not a user or group name");
            out.add(e.asText());
        }
        return out;
    }

    private Map<String, Object> request(Records.PullRequest p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", p.id());
        m.put("reference", p.reference());
        m.put("platform", p.platform());
        m.put("owner", p.owner());
        m.put("state", p.state().name());
        m.put("digest", p.digest());
        if (p.reasonCode() != null) m.put("reason", Map.of("code", p.reasonCode(), "message", p.reason()));
        m.put("created", Instant.ofEpochMilli(p.createdMs()).toString());
        m.put("updated", Instant.ofEpochMilli(p.updatedMs()).toString());
        Map<String, Object> progress = new LinkedHashMap<>();
        progress.put("bytes_done", p.bytesDone());
        progress.put("bytes_total", p.bytesTotal());
        long[] entries = svc.entries(p.id());
        if (entries != null) {
            progress.put("entries_done", entries[0]);
            progress.put("entries_total", entries[1]);
        }
        m.put("progress", progress);
        if (p.state() == State.READY && p.digest() != null)
            m.put("path", svc.publisher().sqfs(skiff.image.Digest.parse(p.digest())).toString());
        return m;
    }

    private Map<String, Object> image(Records.Image i) {
        return image(i, svc.namesOf(i.digest()));
    }

    private Map<String, Object> image(Records.Image i, List<Records.Name> named) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("digest", i.digest());
        List<String> names = new ArrayList<>();
        for (Records.Name n : named) names.add(n.name());
        m.put("names", names);
        m.put("platform", i.platform());
        m.put("size", i.sizeBytes());
        m.put("status", i.status().name());
        m.put("owner", i.owner());
        m.put("created", Instant.ofEpochMilli(i.createdMs()).toString());
        m.put("last_used", Instant.ofEpochMilli(i.lastUsedMs()).toString());
        m.put("private", i.isPrivate());
        m.put("path", svc.publisher().sqfs(skiff.image.Digest.parse(i.digest())).toString());
        return m;
    }

    private String metrics() {
        var mt = svc.metrics;
        StringBuilder sb = new StringBuilder();
        counter(sb, "skiff_gateway_requests_total", "Pull requests received.", mt.requests.get());
        counter(sb, "skiff_gateway_requests_joined_total", "Pull requests that joined one already running.", mt.joined.get());
        counter(sb, "skiff_gateway_pulls_total", "Pulls from a registry started.", mt.pulls.get());
        counter(sb, "skiff_gateway_conversions_total", "SquashFS conversions started.", mt.conversions.get());
        counter(sb, "skiff_gateway_ready_total", "Requests that ended READY.", mt.ready.get());
        counter(sb, "skiff_gateway_failed_total", "Requests that ended FAILED.", mt.failed.get());
        counter(sb, "skiff_gateway_lookups_total", "Image lookups.", mt.lookups.get());
        counter(sb, "skiff_gateway_pulled_bytes_total", "Bytes downloaded from registries.", mt.bytesPulled.get());
        sb.append("# HELP skiff_gateway_queue_length Requests not yet READY or FAILED.\n# TYPE skiff_gateway_queue_length gauge\n");
        int q;
        try {
            q = svc.db().active().size();
        } catch (ApiException e) {
            q = -1;
        }
        sb.append("skiff_gateway_queue_length ").append(q).append('\n');
        sb.append("# HELP skiff_gateway_database_up Whether the state database answers.\n# TYPE skiff_gateway_database_up gauge\n");
        sb.append("skiff_gateway_database_up ").append(svc.db().healthy() ? 1 : 0).append('\n');
        return sb.toString();
    }

    private static void counter(StringBuilder sb, String name, String help, long v) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" counter\n");
        sb.append(name).append(' ').append(v).append('\n');
    }

    private static byte[] error(String code, String message) {
        Map<String, String> e = new LinkedHashMap<>();
        e.put("code", code);
        e.put("message", message);
        return Json.bytes(e);
    }

    private static void send(Response response, Callback callback, int status, String type, byte[] body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.write(true, java.nio.ByteBuffer.wrap(body), callback);
    }
}
