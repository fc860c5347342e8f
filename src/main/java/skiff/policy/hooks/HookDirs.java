package skiff.policy.hooks;

import skiff.policy.site.TrustedFiles;
import skiff.spec.Hooks;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.spec.Transform;
import skiff.util.Json;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Stream;

/**
 * OCI hooks from hooks.d directories. Directories come lowest precedence first; a file name in a later
 * directory masks the same name in an earlier one; matching hooks are injected in file-name order.
 * An invalid file is skipped with a warning naming it.
 */
public final class HookDirs implements Transform {
    public record Loaded(Path file, HookFile config) {}

    private final List<Loaded> hooks;

    public HookDirs(List<Loaded> hooks) {
        this.hooks = hooks;
    }

    public List<Loaded> hooks() {
        return hooks;
    }

    public static HookDirs load(List<String> dirs, Consumer<String> warn) {
        Map<String, Path> byName = new TreeMap<>();
        for (String d : dirs) {
            Path dir = Path.of(d);
            if (!Files.isDirectory(dir)) continue;
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> p.getFileName().toString().endsWith(".json") && Files.isRegularFile(p))
                        .forEach(p -> byName.put(p.getFileName().toString(), p));
            } catch (IOException e) {
                warn.accept(Warnings.line("cannot list hooks directory " + dir + ": " + e.getMessage()));
            }
        }
        List<Loaded> out = new ArrayList<>();
        for (Path f : byName.values()) {
            String why = TrustedFiles.distrust(f);
            if (why != null) {
                warn.accept(Warnings.line("ignoring OCI hook " + f + ": it " + why));
                continue;
            }
            try {
                HookFile h = Json.read(Files.readAllBytes(f), HookFile.class);
                String bad = validate(h);
                if (bad != null) {
                    warn.accept(Warnings.line("ignoring OCI hook " + f + ": " + bad));
                    continue;
                }
                out.add(new Loaded(f, h));
            } catch (IOException e) {
                String m = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                warn.accept(Warnings.line("ignoring OCI hook " + f + ": cannot be parsed: " + m));
            }
        }
        return new HookDirs(out);
    }

    static String validate(HookFile h) {
        if (h == null) return "empty file";
        if (!"1.0.0".equals(h.version())) return "version " + h.version() + " is not supported (skiff reads 1.0.0)";
        if (h.hook() == null || h.hook().path() == null || !h.hook().path().startsWith("/")) return "hook.path must be an absolute path";
        if (h.hook().timeout() != null && h.hook().timeout() <= 0) return "hook.timeout must be positive";
        if (h.when() == null || h.when().isEmpty()) return "'when' must set at least one of always, annotations, commands, hasBindMounts";
        if (h.stages() == null || h.stages().isEmpty()) return "'stages' is empty";
        for (String s : h.stages()) if (Stage.of(s) == null) return "unknown stage '" + s + "'";
        try {
            if (h.when().annotations() != null) h.when().annotations().forEach((k, v) -> { Pattern.compile(k); Pattern.compile(v); });
            if (h.when().commands() != null) h.when().commands().forEach(Pattern::compile);
        } catch (PatternSyntaxException e) {
            return "invalid regular expression: " + e.getDescription() + " in '" + e.getPattern() + "'";
        }
        return null;
    }

    static boolean matches(HookFile.When w, Spec spec) {
        if (w.always() != null && !w.always()) return false;
        if (w.annotations() != null && !w.annotations().isEmpty()) {
            boolean any = false;
            for (var cond : w.annotations().entrySet()) {
                Pattern k = Pattern.compile(cond.getKey());
                Pattern v = Pattern.compile(cond.getValue());
                for (var a : spec.annotations().entrySet())
                    if (k.matcher(a.getKey()).find() && v.matcher(a.getValue()).find()) any = true;
            }
            if (!any) return false;
        }
        if (w.commands() != null && !w.commands().isEmpty()) {
            List<String> args = spec.process() == null || spec.process().args() == null ? List.of() : spec.process().args();
            if (args.isEmpty()) return false;
            String cmd = args.getFirst();
            if (w.commands().stream().noneMatch(re -> Pattern.compile(re).matcher(cmd).find())) return false;
        }
        if (w.hasBindMounts() != null) {
            if (!w.hasBindMounts()) return false;
            if (spec.mounts().stream().noneMatch(Mount::isBind)) return false;
        }
        return true;
    }

    @Override
    public Spec apply(Spec spec) {
        Hooks h = spec.hooks();
        for (Loaded l : hooks) {
            if (!matches(l.config().when(), spec)) continue;
            HookFile.Hook hk = l.config().hook();
            for (String s : l.config().stages())
                h = Stage.of(s).plus(h, new Hooks.Hook(hk.path(), hk.args(), hk.env(), hk.timeout()));
        }
        return h == spec.hooks() ? spec : spec.withHooks(h);
    }
}
