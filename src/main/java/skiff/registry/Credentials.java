package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import skiff.util.AtomicFiles;
import skiff.util.Dirs;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.Locks;
import skiff.util.SkiffException;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Registry credentials in Docker's config.json {@code auths} format: skiff's own
 * {@code ~/.config/skiff/auth.json} (written by {@code skiff login}, mode 0600) first, then Docker's
 * {@code $DOCKER_CONFIG/config.json} or {@code ~/.docker/config.json} (read only). Credential helpers
 * ({@code credsStore}, {@code credHelpers}) are not consulted.
 */
public final class Credentials {
    /** The key Docker itself writes for Docker Hub; also matched: index.docker.io, docker.io, registry-1.docker.io. */
    public static final String DOCKER_HUB_KEY = "https://index.docker.io/v1/";

    public record UserPass(String user, String password) {
        public String basic() {
            return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String toString() {
            return "UserPass[" + user + ", ***]";
        }
    }

    private final Path skiffAuth;
    private final Path dockerConfig;

    public Credentials(Path skiffAuth, Path dockerConfig) {
        this.skiffAuth = skiffAuth;
        this.dockerConfig = dockerConfig;
    }

    public static Credentials fromEnv(Map<String, String> env) {
        String dc = env.get("DOCKER_CONFIG");
        Path docker = dc != null && !dc.isEmpty() ? Path.of(dc, "config.json") : Dirs.home(env).resolve(".docker/config.json");
        return new Credentials(Dirs.userConfig(env).resolve("auth.json"), docker);
    }

    public Path skiffAuthFile() {
        return skiffAuth;
    }

    /** Credentials for a registry host (an image reference's domain, or a mirror's host[:port]). */
    public Optional<UserPass> lookup(String host) {
        for (Path f : List.of(skiffAuth, dockerConfig)) {
            Optional<UserPass> up = lookupIn(f, host);
            if (up.isPresent()) return up;
        }
        return Optional.empty();
    }

    private static Optional<UserPass> lookupIn(Path file, String host) {
        JsonNode auths = read(file).get("auths");
        if (auths == null || !auths.isObject()) return Optional.empty();
        String want = RegistryConfig.normaliseHost(host);
        for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!want.equals(keyHost(e.getKey()))) continue;
            JsonNode v = e.getValue();
            if (v.hasNonNull("auth") && !v.get("auth").asText().isEmpty()) {
                String decoded;
                try {
                    decoded = new String(Base64.getDecoder().decode(v.get("auth").asText().trim()), StandardCharsets.UTF_8);
                } catch (IllegalArgumentException ex) {
                    throw new SkiffException(ExitCode.POLICY, "invalid credentials in " + file + " at auths.\"" + e.getKey()
                            + "\".auth: not base64 of USER:PASSWORD (run 'skiff login' again)");
                }
                int colon = decoded.indexOf(':');
                if (colon < 0) throw new SkiffException(ExitCode.POLICY, "invalid credentials in " + file + " at auths.\""
                        + e.getKey() + "\".auth: not USER:PASSWORD (run 'skiff login' again)");
                return Optional.of(new UserPass(decoded.substring(0, colon), decoded.substring(colon + 1)));
            }
            if (v.hasNonNull("username") && v.hasNonNull("password"))
                return Optional.of(new UserPass(v.get("username").asText(), v.get("password").asText()));
        }
        return Optional.empty();
    }

    /** The host a config.json key names: keys may be host[:port] or URLs like https://index.docker.io/v1/. */
    static String keyHost(String key) {
        String k = key.trim();
        if (k.contains("://")) {
            try {
                String a = URI.create(k).getRawAuthority();
                if (a != null) k = a;
            } catch (IllegalArgumentException e) {
                return null;
            }
        } else {
            int slash = k.indexOf('/');
            if (slash >= 0) k = k.substring(0, slash);
        }
        return RegistryConfig.normaliseHost(k);
    }

    /** The key {@code skiff login} writes for a registry: Docker's own key for Docker Hub, else host[:port]. */
    public static String keyFor(String registry) {
        String h = RegistryConfig.normaliseHost(registry);
        return h.equals(RegistryConfig.DOCKER_HUB) ? DOCKER_HUB_KEY : h;
    }

    private static ObjectNode read(Path file) {
        try {
            JsonNode n = Json.MAPPER.readTree(Files.readAllBytes(file));
            if (n == null || n.isMissingNode()) return Json.MAPPER.createObjectNode();
            if (!(n instanceof ObjectNode o))
                throw new SkiffException(ExitCode.POLICY, "invalid credentials file " + file + ": not a JSON object (fix or remove it)");
            return o;
        } catch (NoSuchFileException e) {
            return Json.MAPPER.createObjectNode();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new SkiffException(ExitCode.POLICY, "invalid credentials file " + file + ": not valid JSON (fix or remove it)");
        } catch (IOException e) {
            throw new SkiffException(ExitCode.POLICY, "cannot read credentials file " + file + ": " + e.getMessage());
        }
    }

    /** Saves credentials for {@code registry} in skiff's auth.json (0600, other entries kept). */
    public void store(String registry, UserPass up) throws IOException {
        update(auths -> {
            ObjectNode entry = Json.MAPPER.createObjectNode();
            entry.put("auth", Base64.getEncoder().encodeToString((up.user() + ":" + up.password()).getBytes(StandardCharsets.UTF_8)));
            removeMatching(auths, registry);
            auths.set(keyFor(registry), entry);
            return true;
        });
    }

    /** Removes skiff's stored credentials for {@code registry}; returns whether there were any. */
    public boolean remove(String registry) throws IOException {
        if (!Files.exists(skiffAuth)) return false;
        boolean[] found = {false};
        update(auths -> found[0] = removeMatching(auths, registry));
        return found[0];
    }

    private static boolean removeMatching(ObjectNode auths, String registry) {
        String want = RegistryConfig.normaliseHost(registry);
        List<String> drop = new ArrayList<>();
        auths.fieldNames().forEachRemaining(k -> {
            if (want.equals(keyHost(k))) drop.add(k);
        });
        drop.forEach(auths::remove);
        return !drop.isEmpty();
    }

    private interface Change {
        boolean apply(ObjectNode auths);
    }

    private void update(Change change) throws IOException {
        Path dir = skiffAuth.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir))
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try (var l = Locks.exclusive(dir.resolve(".auth.json.lock"))) {
            ObjectNode root = read(skiffAuth);
            JsonNode a = root.get("auths");
            ObjectNode auths = a instanceof ObjectNode o ? o : root.putObject("auths");
            if (!change.apply(auths)) return;
            byte[] data = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
            AtomicFiles.write(skiffAuth, out -> out.write(data), PosixFilePermissions.fromString("rw-------"));
        }
    }
}
