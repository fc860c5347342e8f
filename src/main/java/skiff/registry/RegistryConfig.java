package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code [registries."HOST"]} tables of {@code config.toml}: pull mirrors and plain-HTTP registries.
 * Other tables of that file belong to other parts of skiff and are ignored here.
 */
public record RegistryConfig(Path file, Map<String, Settings> registries) {
    public static final String DOCKER_HUB = "docker.io";
    /** Docker Hub's API lives on another host than its image names say. */
    public static final String DOCKER_HUB_API = "registry-1.docker.io";

    /** @param mirrors tried in order before the registry itself; @param insecure plain HTTP */
    public record Settings(List<URI> mirrors, boolean insecure) {
        static final Settings DEFAULT = new Settings(List.of(), false);
    }

    public static RegistryConfig empty() {
        return new RegistryConfig(null, Map.of());
    }

    public static RegistryConfig load(Path file) {
        JsonNode root;
        // The TOML mapper costs a noticeable part of start-up: only build it when there is a file.
        if (!Files.exists(file)) return new RegistryConfig(file, Map.of());
        try {
            root = new TomlMapper().readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            return new RegistryConfig(file, Map.of());
        } catch (IOException e) {
            throw invalid(file, "", "not valid TOML: " + firstLine(e.getMessage()));
        }
        Map<String, Settings> out = new TreeMap<>();
        JsonNode regs = root == null ? null : root.get("registries");
        if (regs == null || regs.isNull()) return new RegistryConfig(file, out);
        if (!regs.isObject()) throw invalid(file, "registries", "must be a table of [registries.\"HOST\"] tables");
        for (Iterator<Map.Entry<String, JsonNode>> it = regs.fields(); it.hasNext(); ) {
            var e = it.next();
            String host = e.getKey();
            String where = "registries.\"" + host + "\"";
            if (!e.getValue().isObject()) throw invalid(file, where, "must be a table");
            if (!host.matches("[A-Za-z0-9.-]+(:[0-9]+)?|\\[[0-9A-Fa-f:]+\\](:[0-9]+)?"))
                throw invalid(file, where, "'" + host + "' is not a registry HOST[:PORT]");
            List<URI> mirrors = new ArrayList<>();
            JsonNode m = e.getValue().get("mirrors");
            if (m != null) {
                if (!m.isArray()) throw invalid(file, where + ".mirrors", "must be an array of URLs");
                for (JsonNode u : m) {
                    if (!u.isTextual()) throw invalid(file, where + ".mirrors", "must be an array of URL strings");
                    mirrors.add(mirrorUri(file, where + ".mirrors", u.asText()));
                }
            }
            boolean insecure = false;
            JsonNode i = e.getValue().get("insecure");
            if (i != null) {
                if (!i.isBoolean()) throw invalid(file, where + ".insecure", "must be true or false");
                insecure = i.asBoolean();
            }
            out.put(normaliseHost(host), new Settings(List.copyOf(mirrors), insecure));
        }
        return new RegistryConfig(file, out);
    }

    private static URI mirrorUri(Path file, String key, String s) {
        try {
            URI u = new URI(s);
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null
                    || u.getQuery() != null || u.getFragment() != null)
                throw invalid(file, key, "'" + s + "' is not an http:// or https:// URL of a registry");
            String p = u.getPath() == null ? "" : u.getPath();
            while (p.endsWith("/")) p = p.substring(0, p.length() - 1);
            return new URI(u.getScheme(), null, u.getHost(), u.getPort(), p, null, null);
        } catch (URISyntaxException e) {
            throw invalid(file, key, "'" + s + "' is not a URL");
        }
    }

    private static SkiffException invalid(Path file, String key, String why) {
        return new SkiffException(ExitCode.POLICY, "invalid configuration in " + file
                + (key.isEmpty() ? "" : " at " + key) + ": " + why + " (fix or remove it)");
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** docker.io under any of its names → docker.io; otherwise lowercased as given. */
    public static String normaliseHost(String host) {
        String h = host.toLowerCase(java.util.Locale.ROOT);
        return switch (h) {
            case "index.docker.io", DOCKER_HUB_API -> DOCKER_HUB;
            default -> h;
        };
    }

    public Settings settings(String domain) {
        return registries.getOrDefault(normaliseHost(domain), Settings.DEFAULT);
    }

    /** The base URL of a registry's API (without /v2). */
    public URI apiBase(String domain) {
        String d = normaliseHost(domain);
        String authority = d.equals(DOCKER_HUB) ? DOCKER_HUB_API : d;
        boolean plain = settings(d).insecure() || isLoopback(authority);
        return URI.create((plain ? "http" : "https") + "://" + authority);
    }

    /** Mirrors then the registry itself: the endpoints a pull tries, in order. */
    public List<URI> pullEndpoints(String domain) {
        List<URI> l = new ArrayList<>(settings(domain).mirrors());
        l.add(apiBase(domain));
        return l;
    }

    /** localhost, 127.0.0.0/8 and [::1] default to plain HTTP, as Docker does. */
    public static boolean isLoopback(String authority) {
        String host = authority;
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            host = end < 0 ? host : host.substring(1, end);
            return host.equals("::1") || host.equals("0:0:0:0:0:0:0:1");
        }
        int colon = host.lastIndexOf(':');
        if (colon >= 0) host = host.substring(0, colon);
        return host.equalsIgnoreCase("localhost") || host.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
    }
}
