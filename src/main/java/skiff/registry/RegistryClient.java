package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.util.Env;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;

/**
 * A client of one registry (OCI distribution spec, pull side) through its endpoints: configured mirrors
 * first, then the registry itself. Handles Bearer-token and Basic authentication from
 * {@code WWW-Authenticate} challenges, retries (connection errors, 5xx, 429 with Retry-After) with
 * exponential backoff, manual redirects (credentials never follow to another host), digest checks while
 * streaming, and resumable blob downloads with {@code Range}.
 *
 * <p>Thread-safe: the puller downloads several blobs at once through one client.
 */
public final class RegistryClient implements AutoCloseable {
    /** Manifests are small (same bound as the store's metadata blobs); a bigger one is hostile or broken. */
    public static final long MAX_MANIFEST = 8L << 20;
    private static final int MAX_ERROR_BODY = 16 << 10;
    private static final int MAX_REDIRECTS = 5;

    public static final String MANIFEST_ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST,
            MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);

    /** How hard to try: attempts per request, first backoff delay, longest Retry-After honoured. */
    public record RetryPolicy(int attempts, Duration firstDelay, Duration maxDelay) {
        public static final RetryPolicy DEFAULT = new RetryPolicy(5, Duration.ofMillis(500), Duration.ofSeconds(30));

        Duration backoff(int attempt) {
            long ms = firstDelay.toMillis() << Math.min(attempt, 16);
            return Duration.ofMillis(Math.min(ms, maxDelay.toMillis()));
        }
    }

    /** A manifest or index as the registry sent it, verified against {@link #digest()}. */
    public record Manifest(byte[] bytes, String mediaType, Digest digest) {}

    private final String domain;
    private final List<URI> endpoints;
    private final Credentials credentials;
    private final Credentials.UserPass forced;
    private final RetryPolicy retry;
    private final Transport http;
    private final Map<String, Challenge> challenges = new ConcurrentHashMap<>();
    private final Map<String, Token> tokens = new ConcurrentHashMap<>();
    private volatile int preferred;

    private record Token(String value, long expiresAtMillis) {
        boolean fresh() {
            return System.currentTimeMillis() < expiresAtMillis;
        }
    }

    /**
     * @param domain      the image reference's registry (docker.io, host:port)
     * @param endpoints   base URLs to try in order (mirrors, then the registry), see {@link RegistryConfig#pullEndpoints}
     * @param credentials where stored credentials are looked up, per endpoint host
     * @param forced      credentials to use instead of stored ones (login), or null
     */
    public RegistryClient(String domain, List<URI> endpoints, Credentials credentials, Credentials.UserPass forced, RetryPolicy retry) {
        this.domain = domain;
        this.endpoints = List.copyOf(endpoints);
        this.credentials = credentials;
        this.forced = forced;
        this.retry = retry;
        this.http = new Transport.UrlConnection(Env.process());
    }

    public static RegistryClient forPull(String domain, RegistryConfig config, Credentials credentials) {
        return new RegistryClient(domain, config.pullEndpoints(domain), credentials, null, RetryPolicy.DEFAULT);
    }

    public String domain() {
        return domain;
    }

    @Override
    public void close() {
        http.close();
    }

    // ---------------------------------------------------------------- operations

    /**
     * Checks that the registry accepts the credentials given to the constructor ({@code skiff login}):
     * GET /v2/ and, when it answers with a challenge, a token or Basic request with them.
     */
    public void verifyLogin() {
        URI base = endpoints.getLast();
        try (var r = request(base, "GET", "/v2/", Map.of(), null)) {
            if (r.status() == 200) return;
            throw httpError(base, r, "checking the login");
        }
    }

    /**
     * HEAD of a manifest: its digest if the registry says it, empty if it answered without one or with an
     * error status (the GET that follows reports that). Unreachable registries and denials throw.
     */
    public Optional<Digest> headManifest(String repo, String reference) {
        String path = "/v2/" + repo + "/manifests/" + reference;
        return onEndpoints(base -> {
            try (var r = request(base, "HEAD", path, Map.of("Accept", MANIFEST_ACCEPT), scope(repo))) {
                if (r.status() == 404) throw notFound(repo, reference, null);
                if (r.status() != 200) return Optional.<Digest>empty();
                return r.header("Docker-Content-Digest").map(RegistryClient::parseDigestHeader);
            }
        });
    }

    /** GET a manifest or index by tag or digest, bounded in size and verified against its digest. */
    public Manifest getManifest(String repo, String reference) {
        String path = "/v2/" + repo + "/manifests/" + reference;
        Digest wanted = reference.contains(":") ? Digest.parse(reference) : null;
        return onEndpoints(base -> {
            try (var r = request(base, "GET", path, Map.of("Accept", MANIFEST_ACCEPT), scope(repo))) {
                int s = r.status();
                if (s == 404) throw notFound(repo, reference, r);
                if (s != 200) throw httpError(base, r, "fetching the manifest of " + repo + ":" + reference);
                long len = r.contentLength();
                if (len > MAX_MANIFEST) throw tooBig(repo, reference, len);
                byte[] data;
                try {
                    data = readBounded(r.body(), MAX_MANIFEST);
                } catch (IOException e) {
                    throw new SkiffException(ExitCode.REGISTRY, "connection to " + base + " failed while reading the manifest of "
                            + repo + ":" + reference + ": " + e.getMessage() + " (try again)", e);
                }
                if (data == null) throw tooBig(repo, reference, -1);
                Digest header = r.header("Docker-Content-Digest").map(RegistryClient::parseDigestHeader).orElse(null);
                Digest expect = wanted != null ? wanted : header;
                Digest actual = expect != null ? digestOf(expect.algorithm(), data) : Digest.sha256(data);
                if (expect != null && !expect.equals(actual))
                    throw new SkiffException(ExitCode.REGISTRY, "manifest of " + repo + ":" + reference + " from " + base
                            + " does not match its digest (expected " + expect + ", got " + actual + "); nothing was stored (try again, or report the registry)");
                if (!actual.algorithm().equals("sha256")) actual = Digest.sha256(data);
                String ct = r.header("Content-Type").orElse(null);
                return new Manifest(data, mediaTypeOf(data, ct, repo, reference), actual);
            }
        });
    }

    /**
     * Downloads blob {@code d} into {@code partial}, continuing what an earlier attempt left there (the
     * existing bytes are re-hashed, then the rest is asked for with {@code Range}). Never writes more than
     * {@code d.size()} bytes. On return the file holds exactly the blob, verified and synced; on a digest
     * mismatch it is emptied and the error is thrown. Other failures leave the part for the next attempt.
     * The caller must hold a lock that keeps other processes off {@code partial}.
     */
    public void downloadBlob(String repo, Descriptor d, Path partial, LongConsumer progress) throws IOException {
        String path = "/v2/" + repo + "/blobs/" + d.digest();
        // The JDK's SHA-256 (an intrinsic under C2, which bin/skiff gives pull): an openssl child fed through a pipe
        // no longer paid once pull ran with the full JIT (bench/RESULTS.md, 2026-12-01 20:46Z).
        MessageDigest md = d.digest().newMessageDigest();
        try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long have = ch.size();
            if (have > d.size()) {
                ch.truncate(0);
                have = 0;
            }
            if (have > 0) rehash(ch, have, md);
            ch.position(have);
            progress.accept(have);
            IOException lastCut = null;
            for (int attempt = 0; have < d.size() || d.size() == 0; attempt++) {
                if (attempt >= retry.attempts()) throw new SkiffException(ExitCode.REGISTRY, "downloading blob " + d.digest()
                        + " of " + repo + " failed " + attempt + " times, last: " + lastCut.getMessage()
                        + " (run the pull again: it resumes where this one stopped)", lastCut);
                if (attempt > 0) sleep(retry.backoff(attempt - 1));
                final long from = have;
                Map<String, String> h = from > 0 ? Map.of("Range", "bytes=" + from + "-") : Map.of();
                try {
                    onEndpoints(base -> {
                        try (var r = request(base, "GET", path, h, scope(repo))) {
                            int s = r.status();
                            if (s == 404) throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " does not have blob "
                                    + d.digest() + " of " + repo + " that the manifest lists (the image is broken there)");
                            long start;
                            if (s == 206 && from > 0 && rangeStart(r) == from) {
                                start = from;
                            } else if (s == 200) {
                                start = 0;
                            } else if (s == 416 || s == 206) {
                                start = -1; // unusable range answer: start over below
                            } else {
                                throw httpError(base, r, "downloading blob " + d.digest());
                            }
                            if (start < 0) {
                                truncate(ch, md);
                                throw new RangeRestart();
                            }
                            if (start == 0 && from > 0) truncate(ch, md);
                            copy(r.body(), ch, md, d, progress);
                            return null;
                        } catch (IOException e) {
                            throw new Cut(e);
                        }
                    });
                } catch (Cut c) {
                    lastCut = c.io;
                } catch (RangeRestart rr) {
                    lastCut = new IOException("the registry answered the Range request badly");
                }
                // The file position counts exactly the bytes written and hashed, also after a cut.
                have = ch.position();
                if (have == d.size()) break;
                if (lastCut == null) lastCut = new IOException("the registry closed the connection after " + have + " of " + d.size() + " bytes");
            }
            String actual = HexFormat.of().formatHex(md.digest());
            if (!actual.equals(d.digest().hex())) {
                ch.truncate(0);
                throw new SkiffException(ExitCode.REGISTRY, "blob " + d.digest() + " of " + repo + " from " + domain
                        + " does not match its digest (got " + d.digest().algorithm() + ":" + actual + "); it was discarded and nothing was stored (try again, or report the registry)");
            }
            // Durable before the caller renames it into the store (as containerd does), so a crash cannot
            // leave a named blob with missing data; fdatasync suffices, the size is in the data.
            ch.force(false);
        }
    }

    /** A connection broke while the body streamed; the part written so far is kept. */
    private static final class Cut extends RuntimeException {
        final IOException io;

        Cut(IOException io) {
            super(io.getMessage(), io, false, false);
            this.io = io;
        }
    }

    private static final class RangeRestart extends RuntimeException {
        RangeRestart() {
            super(null, null, false, false);
        }
    }

    private static void truncate(FileChannel ch, MessageDigest md) throws IOException {
        ch.truncate(0);
        ch.position(0);
        md.reset();
    }

    private static void rehash(FileChannel ch, long have, MessageDigest md) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        long pos = 0;
        while (pos < have) {
            buf.clear();
            if (have - pos < buf.capacity()) buf.limit((int) (have - pos));
            int n = ch.read(buf, pos);
            if (n < 0) throw new IOException("partial download shrank while re-reading it");
            md.update(buf.array(), 0, n);
            pos += n;
        }
    }

    private static void copy(InputStream in, FileChannel ch, MessageDigest md, Descriptor d, LongConsumer progress) throws IOException {
        long have = ch.position();
        byte[] buf = new byte[1 << 20];
        int n;
        while ((n = in.read(buf)) > 0) {
            if (have + n > d.size()) {
                ch.truncate(0);
                md.reset();
                throw new SkiffException(ExitCode.REGISTRY, "blob " + d.digest() + " is bigger than the " + d.size()
                        + " bytes its manifest says; it was discarded and nothing was stored (the registry or image is broken)");
            }
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
            while (bb.hasRemaining()) ch.write(bb);
            md.update(buf, 0, n);
            have += n;
            progress.accept(have);
        }
    }

    private static long rangeStart(Transport.Response resp) {
        // Content-Range: bytes START-END/TOTAL
        String cr = resp.header("Content-Range").orElse("");
        var m = java.util.regex.Pattern.compile("bytes (\\d+)-\\d+/(\\d+|\\*)").matcher(cr.trim());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    // ---------------------------------------------------------------- endpoints, retries, auth

    @FunctionalInterface
    private interface EndpointCall<T> {
        T call(URI base);
    }

    /** Runs {@code op} on the endpoint that last worked, falling back through the others in order. */
    private <T> T onEndpoints(EndpointCall<T> op) {
        int first = preferred;
        SkiffException firstError = null;
        for (int k = 0; k < endpoints.size(); k++) {
            int i = k == 0 ? first : (k <= first ? k - 1 : k);
            try {
                T t = op.call(endpoints.get(i));
                preferred = i;
                return t;
            } catch (SkiffException e) {
                // A mirror may lack the image or be down; the registry's own answer is the one reported.
                if (i == endpoints.size() - 1 || k == endpoints.size() - 1) throw e;
                if (firstError == null) firstError = e;
            }
        }
        throw firstError;
    }

    private String scope(String repo) {
        return "repository:" + repo + ":pull";
    }

    private boolean isMirror(URI base) {
        return !base.equals(endpoints.getLast());
    }

    /**
     * One logical request with retries on connection errors, 5xx and 429, after authentication. The
     * caller closes the body. Statuses other than those are returned for the caller to judge.
     */
    private Transport.Response request(URI base, String method, String path, Map<String, String> headers,
                                       String scope) {
        // A mirror gets one try: falling back to the next endpoint beats waiting on a sick mirror.
        int attempts = isMirror(base) ? 1 : retry.attempts();
        Exception last = null;
        for (int attempt = 0; attempt < attempts; attempt++) {
            Duration wait = retry.backoff(attempt);
            try {
                Transport.Response resp = authenticated(base, method, path, headers, scope);
                int s = resp.status();
                if (s < 500 && s != 429) return resp;
                Optional<Duration> ra = retryAfter(resp);
                if (attempt == attempts - 1) return resp;
                resp.close();
                if (ra.isPresent()) wait = ra.get().compareTo(retry.maxDelay()) > 0 ? retry.maxDelay() : ra.get();
                last = new IOException("HTTP " + s);
            } catch (IOException e) {
                last = e;
                if (attempt == attempts - 1) break;
            }
            sleep(wait);
        }
        throw new SkiffException(ExitCode.REGISTRY, "cannot reach registry " + base + " (" + describe(last) + ", "
                + attempts + (attempts == 1 ? " attempt" : " attempts") + "): check the network, the registry address, or a proxy"
                + ("https".equals(base.getScheme()) ? "; a plain-HTTP registry needs 'insecure = true' in config.toml" : ""), last);
    }

    private static String describe(Exception e) {
        if (e == null) return "no answer";
        if (e instanceof ConnectException) return "connection refused";
        if (e instanceof java.net.SocketTimeoutException) return "timed out";
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m != null ? ": " + m : "");
    }

    private static Optional<Duration> retryAfter(Transport.Response resp) {
        Optional<String> v = resp.header("Retry-After");
        if (v.isEmpty()) return Optional.empty();
        String s = v.get().trim();
        try {
            return Optional.of(Duration.ofSeconds(Math.max(0, Long.parseLong(s))));
        } catch (NumberFormatException e) {
            try {
                ZonedDateTime t = ZonedDateTime.parse(s, DateTimeFormatter.RFC_1123_DATE_TIME);
                Duration d = Duration.between(ZonedDateTime.now(t.getZone()), t);
                return Optional.of(d.isNegative() ? Duration.ZERO : d);
            } catch (RuntimeException e2) {
                return Optional.empty();
            }
        }
    }

    /** Sends with cached authorisation; on 401 answers the challenge once and resends. */
    private Transport.Response authenticated(URI base, String method, String path, Map<String, String> headers,
                                             String scope) throws IOException {
        String authority = base.getRawAuthority();
        String auth = cachedAuthorization(base, scope);
        Transport.Response resp = send(base, method, path, headers, auth);
        if (resp.status() != 401) return resp;
        Challenge ch = Challenge.pick(resp.all("WWW-Authenticate"));
        String body = errorBody(resp);
        Credentials.UserPass up = credentialsFor(base);
        if (ch == null) throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " refused the request (401) without saying how to authenticate");
        boolean hadToken = auth != null && auth.startsWith("Bearer ");
        boolean retryable = auth == null || (hadToken && !"insufficient_scope".equals(ch.param("error")))
                || (hadToken && up != null);
        if (!retryable) throw denied(base, up, body, scope);
        challenges.put(authority, ch);
        String fresh = authorization(base, ch, scope, up, true);
        if (fresh == null) throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " requires authentication: run 'skiff login "
                + loginName(base) + "' (or docker login) and pull again");
        resp = send(base, method, path, headers, fresh);
        if (resp.status() == 401) throw denied(base, up, errorBody(resp), scope);
        return resp;
    }

    private String loginName(URI base) {
        return isMirror(base) ? base.getRawAuthority() : domain;
    }

    private SkiffException denied(URI base, Credentials.UserPass up, String body, String scope) {
        String detail = registryError(body);
        if (up == null && scope != null)
            return new SkiffException(ExitCode.IMAGE, "registry " + base + " denied access to " + scope.split(":")[1]
                    + (detail.isEmpty() ? "" : " (" + detail + ")") + ": the image does not exist, or it is private and needs 'skiff login " + loginName(base) + "'");
        return new SkiffException(ExitCode.REGISTRY, "authentication to registry " + base + " failed"
                + (up != null ? " for user '" + up.user() + "'" : "") + (detail.isEmpty() ? "" : " (" + detail + ")")
                + ": check the user name and password ('skiff login " + loginName(base) + "')");
    }

    private Credentials.UserPass credentialsFor(URI base) {
        if (forced != null) return forced;
        String host = isMirror(base) ? base.getRawAuthority() : domain;
        return credentials == null ? null : credentials.lookup(host).orElse(null);
    }

    private String cachedAuthorization(URI base, String scope) throws IOException {
        Challenge ch = challenges.get(base.getRawAuthority());
        if (ch == null) return null;
        return authorization(base, ch, scope, credentialsFor(base), false);
    }

    private String authorization(URI base, Challenge ch, String scope, Credentials.UserPass up, boolean refresh) throws IOException {
        if (ch.scheme().equals("basic")) return up == null ? null : up.basic();
        if (!ch.scheme().equals("bearer")) return null;
        String realm = ch.param("realm");
        if (realm == null || realm.isEmpty()) throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " asked for a token without naming a realm");
        String service = ch.param("service");
        String sc = scope != null ? scope : ch.param("scope");
        String key = realm + "|" + service + "|" + sc + "|" + (up == null ? "" : up.user());
        Token t = tokens.get(key);
        if (!refresh && t != null && t.fresh()) return "Bearer " + t.value();
        t = fetchToken(base, realm, service, sc, up);
        tokens.put(key, t);
        return "Bearer " + t.value();
    }

    private Token fetchToken(URI base, String realm, String service, String scope, Credentials.UserPass up) throws IOException {
        URI r;
        try {
            r = URI.create(realm);
        } catch (IllegalArgumentException e) {
            throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " named an invalid token realm '" + realm + "'");
        }
        if (!"https".equals(r.getScheme()) && !"http".equals(r.getScheme()))
            throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " named a token realm that is not http(s): " + realm);
        // Never send a password over plain HTTP to a realm the user did not choose to trust that way.
        if ("http".equals(r.getScheme()) && up != null && !"http".equals(base.getScheme()) && !RegistryConfig.isLoopback(r.getRawAuthority()))
            throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " asks to send credentials in clear text to " + realm + "; refused");
        StringBuilder q = new StringBuilder();
        if (service != null) q.append("service=").append(URLEncoder.encode(service, StandardCharsets.UTF_8));
        if (scope != null) q.append(q.isEmpty() ? "" : "&").append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
        URI u = URI.create(realm + (q.isEmpty() ? "" : (realm.contains("?") ? "&" : "?") + q));
        Exception last = null;
        for (int attempt = 0; attempt < retry.attempts(); attempt++) {
            if (attempt > 0) sleep(retry.backoff(attempt - 1));
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
                String body = errorBody(resp);
                throw new SkiffException(ExitCode.REGISTRY, "authentication to registry " + base + " failed"
                        + (up != null ? " for user '" + up.user() + "'" : "") + " (token service answered " + s
                        + (registryError(body).isEmpty() ? "" : ": " + registryError(body)) + "): check the user name and password ('skiff login " + loginName(base) + "')");
            }
            if (s != 200) {
                String body = errorBody(resp);
                throw new SkiffException(ExitCode.REGISTRY, "token service " + realm + " answered HTTP " + s + " " + registryError(body).trim());
            }
            byte[] data;
            try (resp) {
                data = readBounded(resp.body(), 1 << 20);
            }
            if (data == null) throw new SkiffException(ExitCode.REGISTRY, "token service " + realm + " sent an oversized answer");
            JsonNode n;
            try {
                n = Json.MAPPER.readTree(data);
            } catch (IOException e) {
                throw new SkiffException(ExitCode.REGISTRY, "token service " + realm + " sent an answer that is not JSON");
            }
            String token = n.hasNonNull("token") ? n.get("token").asText() : n.hasNonNull("access_token") ? n.get("access_token").asText() : null;
            if (token == null || token.isEmpty() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e))
                throw new SkiffException(ExitCode.REGISTRY, "token service " + realm + " sent no usable token");
            long expires = n.hasNonNull("expires_in") ? Math.max(n.get("expires_in").asLong(), 0) : 60;
            // Refresh a little early so a token never expires between being picked and being used.
            long ttlMs = Math.max(expires * 1000 - 10_000, Math.min(expires * 1000, 5_000));
            return new Token(token, System.currentTimeMillis() + ttlMs);
        }
        throw new SkiffException(ExitCode.REGISTRY, "cannot get a token from " + realm + " (" + describe(last) + "): try again later", last);
    }

    /** Sends one request and follows redirects itself, dropping credentials when the host changes. */
    private Transport.Response send(URI base, String method, String path, Map<String, String> headers, String auth) throws IOException {
        URI u = URI.create(base.toString() + path);
        String a = auth;
        for (int hop = 0; ; hop++) {
            Map<String, String> h = new java.util.HashMap<>(headers);
            if (a != null) h.put("Authorization", a);
            Transport.Response resp = http.send(method, u, h, Duration.ofSeconds(120));
            int s = resp.status();
            if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) return resp;
            Optional<String> loc = resp.header("Location");
            resp.close();
            if (loc.isEmpty() || hop >= MAX_REDIRECTS)
                throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " redirected " + path + " badly (" + s + ", hop " + hop + ")");
            URI next = u.resolve(loc.get());
            if (!"https".equals(next.getScheme()) && !"http".equals(next.getScheme()))
                throw new SkiffException(ExitCode.REGISTRY, "registry " + base + " redirected to a non-HTTP URL");
            if (!next.getRawAuthority().equalsIgnoreCase(u.getRawAuthority())) a = null;
            u = next;
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Reads at most {@code max} bytes; null if there were more. */
    static byte[] readBounded(InputStream in, long max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[64 << 10];
        long total = 0;
        int n;
        while ((n = in.read(buf)) > 0) {
            total += n;
            if (total > max) return null;
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private static String errorBody(Transport.Response resp) {
        try (InputStream in = resp.body()) {
            byte[] b = in.readNBytes(MAX_ERROR_BODY);
            return new String(b, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** The first {"errors":[{code,message}]} entry of a distribution-spec error body, or "". */
    static String registryError(String body) {
        if (body == null || body.isBlank()) return "";
        try {
            JsonNode n = Json.MAPPER.readTree(body);
            JsonNode e = n.path("errors").path(0);
            if (e.isObject()) {
                String code = e.path("code").asText("");
                String msg = e.path("message").asText("");
                return (code + (msg.isEmpty() ? "" : ": " + msg)).replaceAll("[\\r\\n\\p{Cntrl}]", " ").trim();
            }
            if (n.hasNonNull("details")) return n.get("details").asText().replaceAll("\\p{Cntrl}", " ");
        } catch (IOException ignored) {
            // not JSON
        }
        return "";
    }

    private SkiffException httpError(URI base, Transport.Response resp, String what) {
        String detail = registryError(errorBody(resp));
        return new SkiffException(ExitCode.REGISTRY, "registry " + base + " answered HTTP " + resp.status() + " " + what
                + (detail.isEmpty() ? "" : " (" + detail + ")"));
    }

    private SkiffException notFound(String repo, String reference, Transport.Response resp) {
        String detail = resp == null ? "" : registryError(errorBody(resp));
        String sep = reference.contains(":") ? "@" : ":";
        return new SkiffException(ExitCode.IMAGE, "image " + domain + "/" + repo + sep + reference + " not found"
                + (detail.isEmpty() ? "" : " (" + detail + ")") + ": check the name and tag");
    }

    private SkiffException tooBig(String repo, String reference, long len) {
        return new SkiffException(ExitCode.REGISTRY, "manifest of " + repo + ":" + reference + " is "
                + (len >= 0 ? len + " bytes, " : "") + "bigger than the " + MAX_MANIFEST + "-byte limit; refused");
    }

    private static Digest parseDigestHeader(String v) {
        try {
            return Digest.parse(v.trim());
        } catch (SkiffException e) {
            throw new SkiffException(ExitCode.REGISTRY, "registry sent an invalid Docker-Content-Digest header '" + v + "'");
        }
    }

    static Digest digestOf(String algorithm, byte[] data) {
        java.security.MessageDigest md = new Digest(algorithm, algorithm.equals("sha256") ? "0".repeat(64) : "0".repeat(128)).newMessageDigest();
        return new Digest(algorithm, HexFormat.of().formatHex(md.digest(data)));
    }

    /** The manifest's media type: its own mediaType field, else Content-Type, else its shape. */
    private static String mediaTypeOf(byte[] data, String contentType, String repo, String reference) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(data);
        } catch (IOException e) {
            throw new SkiffException(ExitCode.REGISTRY, "manifest of " + repo + ":" + reference + " is not valid JSON");
        }
        if (n == null || !n.isObject()) throw new SkiffException(ExitCode.REGISTRY, "manifest of " + repo + ":" + reference + " is not a JSON object");
        String mt = n.path("mediaType").asText("");
        if (mt.isEmpty() && contentType != null) {
            String ct = contentType.split(";")[0].trim();
            if (MediaTypes.isIndex(ct) || MediaTypes.isManifest(ct)) mt = ct;
        }
        if (mt.isEmpty()) mt = n.has("manifests") ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST;
        if (n.path("schemaVersion").asInt() == 1 || mt.contains("distribution.manifest.v1"))
            throw new SkiffException(ExitCode.IMAGE, "image " + repo + ":" + reference + " uses the obsolete Docker schema 1 manifest, which skiff does not support");
        if (!MediaTypes.isIndex(mt) && !MediaTypes.isManifest(mt))
            throw new SkiffException(ExitCode.IMAGE, repo + ":" + reference + " is not a container image (media type " + mt + ")");
        return mt;
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SkiffException(ExitCode.REGISTRY, "interrupted");
        }
    }
}
