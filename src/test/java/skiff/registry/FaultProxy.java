package skiff.registry;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * An HTTP proxy in front of a real registry that records every request and injects faults: an error
 * status (500, 429 with Retry-After), a connection cut after N body bytes, or a corrupted body byte.
 * Each fault is used once, by the first request whose method and path match, unless it is sticky.
 */
final class FaultProxy implements AutoCloseable {
    record Seen(String method, String path, String range, long millis) {}

    sealed interface Fault permits Status, Cut, Corrupt, Stall {}

    record Status(int code, Map<String, String> headers) implements Fault {}

    record Cut(long afterBytes) implements Fault {}

    record Corrupt() implements Fault {}

    /** Sends {@code afterBytes} of the body, then nothing more for {@code millis}, then cuts. */
    record Stall(long afterBytes, long millis) implements Fault {}

    private record Rule(String method, String pathPart, Fault fault, boolean sticky) {}

    private static final Set<String> FORWARDED = Set.of("Authorization", "Accept", "Range", "Content-Type");
    private static final Set<String> HOP = Set.of("transfer-encoding", "connection", "content-length", "keep-alive", "date");

    private final HttpServer server;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER).build();
    private final String upstream;
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<Seen> seen = new CopyOnWriteArrayList<>();

    FaultProxy(String upstreamHost) {
        this.upstream = "http://" + upstreamHost;
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fault-proxy");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", this::handle);
        server.start();
    }

    String host() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    /** The next {@code method} request whose path contains {@code pathPart} gets {@code fault}. */
    FaultProxy once(String method, String pathPart, Fault fault) {
        rules.add(new Rule(method, pathPart, fault, false));
        return this;
    }

    FaultProxy always(String method, String pathPart, Fault fault) {
        rules.add(new Rule(method, pathPart, fault, true));
        return this;
    }

    void clear() {
        rules.clear();
        seen.clear();
    }

    List<Seen> seen() {
        return List.copyOf(seen);
    }

    List<Seen> seen(String method, String pathPart) {
        return seen.stream().filter(s -> s.method.equals(method) && s.path.contains(pathPart)).toList();
    }

    private Fault take(String method, String path) {
        for (Rule r : rules) {
            if (r.method.equals(method) && path.contains(r.pathPart)) {
                if (!r.sticky && !rules.remove(r)) continue;
                return r.fault;
            }
        }
        return null;
    }

    private void handle(HttpExchange ex) throws IOException {
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getRawPath() + (ex.getRequestURI().getRawQuery() != null ? "?" + ex.getRequestURI().getRawQuery() : "");
        seen.add(new Seen(method, path, ex.getRequestHeaders().getFirst("Range"), System.currentTimeMillis()));
        Fault f = take(method, path);
        try {
            if (f instanceof Status s) {
                s.headers().forEach((k, v) -> ex.getResponseHeaders().set(k, v));
                byte[] body = "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"injected\"}]}".getBytes();
                ex.sendResponseHeaders(s.code(), method.equals("HEAD") ? -1 : body.length);
                if (!method.equals("HEAD")) ex.getResponseBody().write(body);
                ex.close();
                return;
            }
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(upstream + path))
                    .method(method, method.equals("PUT") || method.equals("POST") || method.equals("PATCH")
                            ? HttpRequest.BodyPublishers.ofByteArray(ex.getRequestBody().readAllBytes())
                            : HttpRequest.BodyPublishers.noBody());
            for (String h : FORWARDED) {
                String v = ex.getRequestHeaders().getFirst(h);
                if (v != null) b.header(h, v);
            }
            HttpResponse<InputStream> resp = client.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            resp.headers().map().forEach((k, vs) -> {
                if (!HOP.contains(k.toLowerCase())) ex.getResponseHeaders().put(k, vs);
            });
            long len = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (method.equals("HEAD") || resp.statusCode() == 204 || resp.statusCode() == 304) {
                resp.body().close();
                ex.sendResponseHeaders(resp.statusCode(), -1);
                ex.close();
                return;
            }
            ex.sendResponseHeaders(resp.statusCode(), len < 0 ? 0 : (len == 0 ? -1 : len));
            try (InputStream in = resp.body()) {
                OutputStream out = ex.getResponseBody();
                if (f instanceof Cut c) {
                    byte[] part = in.readNBytes((int) c.afterBytes());
                    out.write(part);
                    out.flush();
                    // Closing short of Content-Length makes the server drop the connection mid-body.
                    ex.close();
                    return;
                }
                if (f instanceof Stall st) {
                    out.write(in.readNBytes((int) st.afterBytes()));
                    out.flush();
                    Thread.sleep(st.millis());
                    ex.close();
                    return;
                }
                if (f instanceof Corrupt) {
                    byte[] all = in.readAllBytes();
                    if (all.length > 0) all[all.length / 2] ^= 0x5a;
                    out.write(all);
                } else {
                    in.transferTo(out);
                }
            }
            ex.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ex.close();
        } catch (IOException e) {
            ex.close();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        client.close();
    }
}
