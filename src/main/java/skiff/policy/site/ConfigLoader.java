package skiff.policy.site;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.DeserializationProblemHandler;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import skiff.util.Dirs;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Finds, vets and merges the configuration files, remembering where every value came from.
 *
 * <p>Site: {@code /etc/skiff/site.toml} then {@code /etc/skiff/site.d/*.toml} in name order. Tables merge
 * key by key, a scalar set twice keeps the later value, lists concatenate. {@code SKIFF_SITE_DIR} replaces
 * /etc/skiff only when that directory is trusted (root-owned, not group/other-writable), so a user cannot
 * point skiff at a policy of their own. A site file that is not trusted is skipped with a warning; a
 * trusted file that does not parse is fatal (POLICY), since running without part of the policy could
 * widen it.
 */
public final class ConfigLoader {
    public static final Path DEFAULT_SITE_DIR = Path.of("/etc/skiff");
    public static final String DEFAULT = "default";

    /** Built on first use: a node without any configuration file pays nothing for TOML on each run. */
    private static final class Toml {
        static final ObjectMapper MAPPER = TomlMapper.builder()
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .build();
    }

    private static final Set<String> SITE_ONLY = Set.of("binds", "devices", "images", "gpu", "cdi", "hooks",
            "mounts", "env", "modules", "users", "groups");

    /** The merged configuration, the files read, and per value (dotted path; list items by index) its file. */
    public record Loaded(SiteConfig site, UserConfig user, Path siteDir, List<Path> files,
                         Map<String, String> sources, List<String> warnings) {
        /** Where a value came from: a file path, or "default". */
        public String source(String path) {
            for (String p = path; !p.isEmpty(); ) {
                String s = sources.get(p);
                if (s != null) return s;
                int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
                p = cut < 0 ? "" : p.substring(0, cut);
            }
            return DEFAULT;
        }
    }

    private ConfigLoader() {}

    public static Loaded load(Map<String, String> env, Consumer<String> warn) {
        List<String> warnings = new ArrayList<>();
        Consumer<String> w = m -> {
            warnings.add(m);
            warn.accept(m);
        };
        Path siteDir = siteDir(env, w);
        List<Path> siteFiles = new ArrayList<>();
        Path main = siteDir.resolve("site.toml");
        if (Files.isRegularFile(main)) siteFiles.add(main);
        Path dropIns = siteDir.resolve("site.d");
        if (Files.isDirectory(dropIns)) {
            try (Stream<Path> s = Files.list(dropIns)) {
                s.filter(p -> p.getFileName().toString().endsWith(".toml") && Files.isRegularFile(p))
                        .sorted().forEach(siteFiles::add);
            } catch (IOException e) {
                w.accept("skiff: warning: cannot list " + dropIns + ": " + e.getMessage());
            }
        }
        ObjectNode merged = siteFiles.isEmpty() ? null : JsonNodeFactory.instance.objectNode();
        Map<String, String> sources = new HashMap<>();
        List<Path> read = new ArrayList<>();
        for (Path f : siteFiles) {
            String why = TrustedFiles.distrust(f);
            if (why != null) {
                w.accept("skiff: warning: ignoring site configuration " + f + ": it " + why
                        + " (the administrator must make it root-owned and not group/other-writable)");
                continue;
            }
            JsonNode tree = parse(f, true);
            if (!(tree instanceof ObjectNode obj)) continue;
            merge(merged, obj, "", f.toString(), sources);
            read.add(f);
        }
        SiteConfig site = read.isEmpty() ? SiteConfig.EMPTY : bind(merged, SiteConfig.class, siteFiles.getFirst(), w, true);

        UserConfig user = UserConfig.EMPTY;
        Path userFile = Dirs.userConfig(env).resolve("config.toml");
        if (Files.isRegularFile(userFile)) {
            JsonNode tree = parse(userFile, false);
            if (tree instanceof ObjectNode obj) {
                for (Iterator<String> it = obj.fieldNames(); it.hasNext(); ) {
                    String k = it.next();
                    if (SITE_ONLY.contains(k))
                        w.accept("skiff: warning: " + userFile + ": [" + k + "] is ignored: only the site configuration may set it");
                }
                ObjectNode only = JsonNodeFactory.instance.objectNode();
                if (obj.get("run") instanceof ObjectNode run) {
                    only.set("run", run);
                    merge(JsonNodeFactory.instance.objectNode(), only, "user.", userFile.toString(), sources);
                }
                user = bind(only, UserConfig.class, userFile, w, false);
                read.add(userFile);
            }
        }
        return new Loaded(site, user, siteDir, read, sources, warnings);
    }

    static Path siteDir(Map<String, String> env, Consumer<String> warn) {
        String override = env.get("SKIFF_SITE_DIR");
        if (override == null || override.isEmpty()) return DEFAULT_SITE_DIR;
        Path dir = Path.of(override).toAbsolutePath();
        String why = Files.isDirectory(dir) ? TrustedFiles.distrust(dir) : "does not exist";
        if (why != null) {
            warn.accept("skiff: warning: ignoring SKIFF_SITE_DIR=" + override + ": it " + why + "; using " + DEFAULT_SITE_DIR);
            return DEFAULT_SITE_DIR;
        }
        return dir;
    }

    private static JsonNode parse(Path f, boolean site) {
        try {
            return Toml.MAPPER.readTree(f.toFile());
        } catch (IOException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            throw new SkiffException(ExitCode.POLICY, "invalid configuration " + f + ": " + msg + "; "
                    + (site ? "ask the site administrator to fix it" : "fix or remove the file"));
        }
    }

    private static <T> T bind(ObjectNode tree, Class<T> type, Path file, Consumer<String> warn, boolean site) {
        try {
            return Toml.MAPPER.readerFor(type)
                    .withHandler(new DeserializationProblemHandler() {
                        @Override
                        public boolean handleUnknownProperty(DeserializationContext ctxt, JsonParser p, JsonDeserializer<?> d,
                                                             Object bean, String name) throws IOException {
                            warn.accept("skiff: warning: " + (site ? "site configuration" : file.toString())
                                    + ": unknown setting '" + name + "' ignored");
                            p.skipChildren();
                            return true;
                        }
                    })
                    .readValue(tree);
        } catch (IOException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            throw new SkiffException(ExitCode.POLICY, "invalid configuration " + (site ? "in " + file.getParent() : file)
                    + ": " + msg + "; " + (site ? "ask the site administrator to fix it" : "fix or remove the file"));
        }
    }

    /** Merges {@code src} into {@code dst}: tables recursively, lists appended, scalars replaced; records sources. */
    static void merge(ObjectNode dst, ObjectNode src, String prefix, String source, Map<String, String> sources) {
        for (Iterator<Map.Entry<String, JsonNode>> it = src.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String path = prefix + e.getKey();
            JsonNode v = e.getValue();
            JsonNode old = dst.get(e.getKey());
            if (v instanceof ObjectNode o) {
                ObjectNode target = old instanceof ObjectNode oo ? oo : dst.putObject(e.getKey());
                merge(target, o, path + ".", source, sources);
            } else if (v instanceof ArrayNode a) {
                ArrayNode target = old instanceof ArrayNode oa ? oa : dst.putArray(e.getKey());
                for (JsonNode item : a) {
                    sources.put(path + "[" + target.size() + "]", source);
                    target.add(item);
                }
                sources.put(path, source);
            } else {
                dst.set(e.getKey(), v);
                sources.put(path, source);
            }
        }
    }

    /** Flattens a tree into dotted paths (list items as path[i]) for display, in document order. */
    public static Map<String, JsonNode> flatten(JsonNode node) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        flatten(node, "", out);
        return out;
    }

    private static void flatten(JsonNode node, String path, Map<String, JsonNode> out) {
        if (node instanceof ObjectNode o) {
            if (o.isEmpty() && !path.isEmpty()) return;
            for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                flatten(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey(), out);
            }
        } else if (node instanceof ArrayNode a) {
            if (a.isEmpty()) out.put(path, a);
            for (int i = 0; i < a.size(); i++) flatten(a.get(i), path + "[" + i + "]", out);
        } else if (node != null && !node.isNull()) {
            out.put(path, node);
        }
    }
}
