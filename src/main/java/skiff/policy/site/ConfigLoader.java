package skiff.policy.site;

import skiff.util.Dirs;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
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
 *
 * <p>Without any file (the common case on a compute node) nothing of Jackson is loaded: parsing and merging live in
 * {@link TomlTree}, a class the JVM links only when there is a file to read, so {@code skiff run} starts without
 * Jackson's classes.
 */
public final class ConfigLoader {
    public static final Path DEFAULT_SITE_DIR = Path.of("/etc/skiff");
    public static final String DEFAULT = "default";

    static final Set<String> SITE_ONLY = Set.of("binds", "devices", "images", "gpu", "cdi", "hooks",
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
                w.accept(Warnings.line("cannot list " + dropIns + ": " + e.getMessage()));
            }
        }
        Path userFile = Dirs.userConfig(env).resolve("config.toml");
        if (siteFiles.isEmpty() && !Files.isRegularFile(userFile))
            return new Loaded(SiteConfig.EMPTY, UserConfig.EMPTY, siteDir, new ArrayList<>(), new HashMap<>(), warnings);
        return TomlTree.load(siteFiles, userFile, SITE_ONLY, siteDir, w, warnings);
    }

    /** The site directory: SKIFF_SITE_DIR where it is trusted, else /etc/skiff (why not goes to {@code warn}). */
    public static Path siteDir(Map<String, String> env, Consumer<String> warn) {
        String override = env.get("SKIFF_SITE_DIR");
        if (override == null || override.isEmpty()) return DEFAULT_SITE_DIR;
        Path dir = Path.of(override).toAbsolutePath();
        String why = Files.isDirectory(dir) ? TrustedFiles.distrust(dir) : "does not exist";
        if (why != null) {
            warn.accept(Warnings.line("ignoring SKIFF_SITE_DIR=" + override + ": it " + why + "; using " + DEFAULT_SITE_DIR));
            return DEFAULT_SITE_DIR;
        }
        return dir;
    }
}
