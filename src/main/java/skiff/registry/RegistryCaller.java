package skiff.registry;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import static skiff.registry.RegistryFailures.Kind.BAD_ANSWER;

/**
 * The one caller of a registry's endpoints, as jib's RegistryEndpointCaller: every request of the endpoint
 * classes goes through it. It owns what they share: the endpoints to try (configured mirrors, then the registry),
 * authentication (challenges from {@code WWW-Authenticate}, Bearer tokens and Basic), redirects (followed by hand so
 * that credentials never follow to another host), and the one retry policy (connection errors, 5xx, 429 with
 * Retry-After, exponential backoff). Thread-safe.
 */
final class RegistryCaller {
    private static final int MAX_REDIRECTS = 5;

    private final String domain;
    private final List<URI> endpoints;
    private final Credentials credentials;
    private final Credentials.UserPass forced;
    private final RegistryClient.RetryPolicy retry;
    private final Transport http;
    private final TokenEndpoint tokenEndpoint;
    private final Map<String, Challenge> challenges = new ConcurrentHashMap<>();
    private final Map<String, TokenEndpoint.Token> tokens = new ConcurrentHashMap<>();
    private volatile int preferred;

    RegistryCaller(String domain, List<URI> endpoints, Credentials credentials, Credentials.UserPass forced,
                   RegistryClient.RetryPolicy retry, Transport http) {
        this.domain = domain;
        this.endpoints = List.copyOf(endpoints);
        this.credentials = credentials;
        this.forced = forced;
        this.retry = retry;
        this.http = http;
        this.tokenEndpoint = new TokenEndpoint(http, retry);
    }

    String domain() {
        return domain;
    }

    RegistryClient.RetryPolicy retry() {
        return retry;
    }

    /** The registry itself: the last endpoint, after its mirrors. */
    URI registry() {
        return endpoints.getLast();
    }

    void close() {
        http.close();
    }

    @FunctionalInterface
    interface EndpointCall<T> {
        T call(URI base);
    }

    /** Runs {@code op} on the endpoint that last worked, falling back through the others in order. */
    <T> T onEndpoints(EndpointCall<T> op) {
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

    static String pullScope(String repo) {
        return "repository:" + repo + ":pull";
    }

    private boolean isMirror(URI base) {
        return !base.equals(registry());
    }

    /** The name to give 'skiff login': a mirror's own host, else the registry's. */
    String loginName(URI base) {
        return isMirror(base) ? base.getRawAuthority() : domain;
    }

    /**
     * One logical request with retries on connection errors, 5xx and 429, after authentication. The
     * caller closes the body. Statuses other than those are returned for the caller to judge.
     */
    Transport.Response request(URI base, String method, String path, Map<String, String> headers, String scope) {
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
        throw RegistryFailures.unreachable(base, attempts, last);
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
        String auth = cachedAuthorization(base, scope);
        Transport.Response resp = send(base, method, path, headers, auth);
        if (resp.status() != 401) return resp;
        Challenge ch = Challenge.pick(resp.all("WWW-Authenticate"));
        RegistryError refusal = RegistryError.of(resp);
        Credentials.UserPass up = credentialsFor(base);
        if (ch == null)
            throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " refused the request (401) without saying how to authenticate");
        boolean hadToken = auth != null && auth.startsWith("Bearer ");
        boolean retryable = auth == null || (hadToken && !"insufficient_scope".equals(ch.param("error")))
                || (hadToken && up != null);
        if (!retryable) throw RegistryFailures.denied(base, loginName(base), up, refusal, scope);
        challenges.put(base.getRawAuthority(), ch);
        String fresh = authorization(base, ch, scope, up, true);
        if (fresh == null)
            throw RegistryFailures.fail(RegistryFailures.Kind.AUTH_FAILED, "registry " + base
                    + " requires authentication: run 'skiff login " + loginName(base) + "' (or docker login) and pull again");
        resp = send(base, method, path, headers, fresh);
        if (resp.status() == 401) throw RegistryFailures.denied(base, loginName(base), up, RegistryError.of(resp), scope);
        return resp;
    }

    private Credentials.UserPass credentialsFor(URI base) {
        if (forced != null) return forced;
        return credentials == null ? null : credentials.lookup(loginName(base)).orElse(null);
    }

    private String cachedAuthorization(URI base, String scope) {
        Challenge ch = challenges.get(base.getRawAuthority());
        if (ch == null) return null;
        return authorization(base, ch, scope, credentialsFor(base), false);
    }

    private String authorization(URI base, Challenge ch, String scope, Credentials.UserPass up, boolean refresh) {
        if (ch.scheme().equals("basic")) return up == null ? null : up.basic();
        if (!ch.scheme().equals("bearer")) return null;
        String realm = ch.param("realm");
        if (realm == null || realm.isEmpty())
            throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " asked for a token without naming a realm");
        String service = ch.param("service");
        String sc = scope != null ? scope : ch.param("scope");
        String key = realm + "|" + service + "|" + sc + "|" + (up == null ? "" : up.user());
        TokenEndpoint.Token t = tokens.get(key);
        if (!refresh && t != null && t.fresh()) return "Bearer " + t.value();
        t = tokenEndpoint.fetch(base, loginName(base), realm, service, sc, up);
        tokens.put(key, t);
        return "Bearer " + t.value();
    }

    /** Sends one request and follows redirects itself, dropping credentials when the host changes. */
    private Transport.Response send(URI base, String method, String path, Map<String, String> headers, String auth) throws IOException {
        URI u = URI.create(base.toString() + path);
        String a = auth;
        for (int hop = 0; ; hop++) {
            Map<String, String> h = new HashMap<>(headers);
            if (a != null) h.put("Authorization", a);
            Transport.Response resp = http.send(method, u, h, Duration.ofSeconds(120));
            int s = resp.status();
            if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) return resp;
            Optional<String> loc = resp.header("Location");
            resp.close();
            if (loc.isEmpty() || hop >= MAX_REDIRECTS)
                throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " redirected " + path + " badly (" + s + ", hop " + hop + ")");
            URI next = u.resolve(loc.get());
            if (!"https".equals(next.getScheme()) && !"http".equals(next.getScheme()))
                throw RegistryFailures.fail(BAD_ANSWER, "registry " + base + " redirected to a non-HTTP URL");
            if (!next.getRawAuthority().equalsIgnoreCase(u.getRawAuthority())) a = null;
            u = next;
        }
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SkiffException(ExitCode.REGISTRY, "interrupted");
        }
    }
}
