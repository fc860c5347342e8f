package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.testing.Cmd;
import skiff.util.Json;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A real 'skiff gateway serve' process (bin/skiff) on a free loopback port, and a small HTTP client for it. */
public final class GatewayFixture implements AutoCloseable {
    public final Path shared;
    final Path home;
    final Process process;
    final int port;
    final List<String> output = java.util.Collections.synchronizedList(new ArrayList<>());
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public record Reply(int status, String body) {
        public JsonNode json() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + body);
            }
        }
    }

    private GatewayFixture(Path shared, Path home, Process p, int port) {
        this.shared = shared;
        this.home = home;
        this.process = p;
        this.port = port;
    }

    /** Starts a gateway publishing into {@code shared}; {@code extra} are more serve options (e.g. --config FILE). */
    public static GatewayFixture start(Path shared, Path home, String... extra) throws IOException {
        return start(shared, home, java.util.Map.of(), extra);
    }

    /** As {@link #start(Path, Path, String...)}, with more environment variables (e.g. SLURM_CONF). */
    public static GatewayFixture start(Path shared, Path home, java.util.Map<String, String> env, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("gateway", "serve", "--listen", "127.0.0.1:0", "--shared", shared.toString()));
        args.addAll(List.of(extra));
        Files.createDirectories(home);
        Cmd cmd = Cmd.skiff(home.resolve("storage"), args.toArray(String[]::new)).env("HOME", home.toString())
                .env("XDG_CONFIG_HOME", home.resolve(".config").toString());
        env.forEach(cmd::env);
        Process p = cmd.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        Pattern listening = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)/");
        List<String> seen = new ArrayList<>();
        String line;
        while ((line = out.readLine()) != null) {
            seen.add(line);
            Matcher m = listening.matcher(line);
            if (m.find()) {
                GatewayFixture f = new GatewayFixture(shared, home, p, Integer.parseInt(m.group(1)));
                Thread.ofVirtual().start(() -> {
                    try {
                        String l;
                        while ((l = out.readLine()) != null) f.output.add(l);
                    } catch (IOException ignored) {
                        // the process ended
                    }
                });
                return f;
            }
        }
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        throw new AssertionError("the gateway did not start: " + seen + " " + err);
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    public Reply call(String method, String path, String body) {
        return call(method, path, body, null);
    }

    /** With {@code credential} in the X-Skiff-Munge header (null: none). */
    public Reply call(String method, String path, String body, String credential) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(30));
        if (credential != null) b.header("X-Skiff-Munge", credential);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        try {
            HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.body());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    public Reply get(String path) {
        return call("GET", path, null);
    }

    public Reply pull(String ref) {
        return call("POST", "/api/v1/pulls", "{\"reference\":\"" + ref + "\"}");
    }

    /** Polls request {@code id} until it is READY or FAILED. */
    public JsonNode await(String id) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < end) {
            JsonNode r = get("/api/v1/pulls/" + id).json();
            String s = r.get("state").asText();
            if (s.equals("READY") || s.equals("FAILED")) return r;
            Thread.sleep(50);
        }
        throw new AssertionError("request " + id + " did not end: " + get("/api/v1/pulls/" + id).body());
    }

    /** A counter's value from /metrics. */
    public long metric(String name) {
        for (String l : get("/api/v1/metrics").body().lines().toList())
            if (l.startsWith(name + " ")) return Long.parseLong(l.substring(name.length() + 1).strip());
        throw new AssertionError("no metric " + name);
    }

    /** SIGKILL: no shutdown hook, no clean-up. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) kill();
    }
}
