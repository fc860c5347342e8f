package skiff.registry;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class TransportTest {
    static String proxy(String url, Map<String, String> env) {
        var p = Transport.proxyFor(URI.create(url), env);
        if (p == null) return null;
        var a = (InetSocketAddress) p.address();
        return a.getHostString() + ":" + a.getPort();
    }

    @Test
    void proxiesFromTheEnvironmentWithNoProxyAndLoopbackExceptions() {
        var env = Map.of("https_proxy", "http://proxy.site:3128", "HTTP_PROXY", "plain.site", "no_proxy", ".internal,registry.local:5000");
        assertEquals("proxy.site:3128", proxy("https://ghcr.io/v2/", env));
        assertEquals("plain.site:80", proxy("http://mirror.example.org/v2/", env));
        assertNull(proxy("https://a.b.internal/v2/", env));
        assertNull(proxy("https://internal/v2/", env));
        assertNull(proxy("http://registry.local:5000/v2/", env));
        assertNull(proxy("http://127.0.0.1:5000/v2/", env));
        assertNull(proxy("http://localhost:5000/v2/", env));
        assertNull(proxy("http://[::1]:5000/v2/", env));
        assertNull(proxy("https://ghcr.io/v2/", Map.of()));
        assertNull(proxy("https://ghcr.io/v2/", Map.of("https_proxy", "http://p:1", "NO_PROXY", "*")));
    }
}
