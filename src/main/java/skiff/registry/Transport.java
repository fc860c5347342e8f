package skiff.registry;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
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

    private static Map<String, List<String>> lower(Map<String, List<String>> m) {
        Map<String, List<String>> out = new TreeMap<>();
        m.forEach((k, v) -> {
            if (k != null) out.put(k.toLowerCase(Locale.ROOT), v);
        });
        return out;
    }

    final class UrlConnection implements Transport {
        @Override
        public Response send(String method, URI uri, Map<String, String> headers, Duration timeout) throws IOException {
            HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection();
            c.setInstanceFollowRedirects(false);
            c.setUseCaches(false);
            c.setConnectTimeout(30_000);
            // A read timeout turns a stalled body into an error the download resumes from.
            c.setReadTimeout((int) timeout.toMillis());
            c.setRequestMethod(method);
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
