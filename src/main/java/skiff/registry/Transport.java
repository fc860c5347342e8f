package skiff.registry;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One HTTP exchange, no redirects followed, no authentication: the registry client layers those on top.
 *
 * <p>Implemented with {@link HttpURLConnection}, not {@code java.net.http.HttpClient}, for measured
 * reasons on the CI machine with bin/skiff's C1-only JVM: HttpClient delivered a 50 MB blob in 1.3 s
 * (its reactive body pipeline is costly without C2) where HttpURLConnection, reading the socket
 * straight into the caller's buffer, took 0.13-0.33 s; and HttpClient initialises TLS (loading the
 * CA store) when it is built, some 0.25-0.5 s of a pull's start-up even for a plain-HTTP registry,
 * where HttpURLConnection does so only on the first https connection.
 */
interface Transport extends AutoCloseable {
    Response send(String method, URI uri, Map<String, String> headers, Duration timeout) throws IOException;

    @Override
    void close();

    /** Status, headers (names lowercased) and the body, which the caller must close. */
    record Response(int status, Map<String, List<String>> headers, InputStream body) implements AutoCloseable {
        Optional<String> header(String name) {
            List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
            return v == null || v.isEmpty() ? Optional.empty() : Optional.ofNullable(v.getFirst());
        }

        List<String> all(String name) {
            return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
        }

        long contentLength() {
            try {
                return header("Content-Length").map(Long::parseLong).orElse(-1L);
            } catch (NumberFormatException e) {
                return -1;
            }
        }

        @Override
        public void close() {
            try {
                body.close();
            } catch (IOException ignored) {
                // the connection is dropped, nothing to keep
            }
        }
    }

    /**
     * The proxy the usual environment variables ask for (Java itself ignores them): {@code https_proxy}
     * / {@code HTTPS_PROXY} for https, {@code http_proxy} / {@code HTTP_PROXY} for http, except for hosts
     * in {@code no_proxy} / {@code NO_PROXY} (comma-separated names, {@code .suffix} or {@code *}) and
     * loopback addresses. Null for a direct connection. Proxy credentials are not supported.
     */
    static Proxy proxyFor(URI uri, Map<String, String> env) {
        String host = uri.getHost();
        if (host == null) return null;
        String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        if (RegistryConfig.isLoopback(h.contains(":") ? "[" + h + "]" : h)) return null;
        String noProxy = first(env, "no_proxy", "NO_PROXY");
        if (noProxy != null) {
            for (String n : noProxy.split(",")) {
                String e = n.trim().toLowerCase(Locale.ROOT);
                int colon = e.lastIndexOf(':');
                if (colon > 0 && !e.contains("]") && e.indexOf(':') == colon) e = e.substring(0, colon);
                if (e.isEmpty()) continue;
                if (e.equals("*")) return null;
                String suffix = e.startsWith(".") ? e : "." + e;
                String lh = h.toLowerCase(Locale.ROOT);
                if (lh.equals(e.startsWith(".") ? e.substring(1) : e) || lh.endsWith(suffix)) return null;
            }
        }
        String p = "https".equals(uri.getScheme()) ? first(env, "https_proxy", "HTTPS_PROXY") : first(env, "http_proxy", "HTTP_PROXY");
        if (p == null || p.isBlank()) return null;
        URI pu = URI.create(p.contains("://") ? p : "http://" + p);
        if (pu.getHost() == null) return null;
        int port = pu.getPort() > 0 ? pu.getPort() : ("https".equals(pu.getScheme()) ? 443 : 80);
        return new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(pu.getHost(), port));
    }

    private static String first(Map<String, String> env, String a, String b) {
        String v = env.get(a);
        return v != null && !v.isEmpty() ? v : env.get(b);
    }

    private static Map<String, List<String>> lower(Map<String, List<String>> m) {
        Map<String, List<String>> out = new TreeMap<>();
        m.forEach((k, v) -> {
            if (k != null) out.put(k.toLowerCase(Locale.ROOT), v);
        });
        return out;
    }

    final class UrlConnection implements Transport {
        static final String USER_AGENT = "skiff/" + java.util.Objects.requireNonNullElse(
                Transport.class.getPackage().getImplementationVersion(), "dev");
        private final Map<String, String> env;

        UrlConnection(Map<String, String> env) {
            this.env = env;
        }

        @Override
        public Response send(String method, URI uri, Map<String, String> headers, Duration timeout) throws IOException {
            Proxy proxy = proxyFor(uri, env);
            HttpURLConnection c = (HttpURLConnection) (proxy != null ? uri.toURL().openConnection(proxy) : uri.toURL().openConnection());
            c.setInstanceFollowRedirects(false);
            c.setUseCaches(false);
            c.setConnectTimeout(30_000);
            // A read timeout turns a stalled body into an error the download resumes from.
            c.setReadTimeout((int) timeout.toMillis());
            c.setRequestMethod(method);
            c.setRequestProperty("User-Agent", USER_AGENT);
            headers.forEach(c::setRequestProperty);
            int status = c.getResponseCode();
            InputStream body = status >= 400 ? c.getErrorStream() : c.getInputStream();
            return new Response(status, lower(c.getHeaderFields()), body != null ? body : InputStream.nullInputStream());
        }

        @Override
        public void close() {
            // connections are pooled by the JDK's keep-alive cache
        }
    }
}
