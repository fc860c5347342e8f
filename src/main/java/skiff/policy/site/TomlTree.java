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
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The TOML side of {@link ConfigLoader}: parsing, merging with sources, binding to records. Kept apart so that the
 * JVM loads Jackson only when a configuration file exists (see ConfigLoader).
 */
public final class TomlTree {
    private TomlTree() {}

    /** Built on first use: {@code skiff config} without files pays nothing for TOML either. */
    private static final class Toml {
        static final ObjectMapper MAPPER = TomlMapper.builder()
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .build();
    }

    static ConfigLoader.Loaded load(List<Path> siteFiles, Path userFile, Set<String> siteOnly, Path siteDir,
                                    Consumer<String> w, List<String> warnings) {
        ObjectNode merged = siteFiles.isEmpty() ? null : JsonNodeFactory.instance.objectNode();
        Map<String, String> sources = new HashMap<>();
        List<Path> read = new ArrayList<>();
        for (Path f : siteFiles) {
            String why = TrustedFiles.distrust(f);
            if (why != null) {
                w.accept(Warnings.line("ignoring site configuration " + f + ": it " + why
                        + " (the administrator must make it root-owned and not group/other-writable)"));
                continue;
            }
            JsonNode tree = parse(f, true);
            if (!(tree instanceof ObjectNode obj)) continue;
            merge(merged, obj, "", f.toString(), sources);
            read.add(f);
        }
        SiteConfig site = read.isEmpty() ? SiteConfig.EMPTY : bind(merged, SiteConfig.class, siteFiles.getFirst(), w, true);

        UserConfig user = UserConfig.EMPTY;
        if (java.nio.file.Files.isRegularFile(userFile)) {
            JsonNode tree = parse(userFile, false);
            if (tree instanceof ObjectNode obj) {
                for (Iterator<String> it = obj.fieldNames(); it.hasNext(); ) {
                    String k = it.next();
                    if (siteOnly.contains(k))
                        w.accept(Warnings.line(userFile + ": [" + k + "] is ignored: only the site configuration may set it"));
                }
                ObjectNode only = JsonNodeFactory.instance.objectNode();
                if (obj.get("run") instanceof ObjectNode run) {
                    only.set("run", run);
                    merge(JsonNodeFactory.instance.objectNode(), only, "user.", userFile.toString(), sources);
                }
                if (obj.get("gateway") instanceof ObjectNode gateway) only.set("gateway", gateway);
                user = bind(only, UserConfig.class, userFile, w, false);
                read.add(userFile);
            }
        }
        return new ConfigLoader.Loaded(site, user, siteDir, read, sources, warnings);
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
                            warn.accept(Warnings.line((site ? "site configuration" : file.toString())
                                    + ": unknown setting '" + name + "' ignored"));
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
