package skiff.policy.site;

import skiff.spec.Process;
import skiff.spec.Spec;
import skiff.spec.Transform;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies environment edits to {@code process.env}: unset, then set, then prepend and append to
 * ':'-separated lists (an unset or empty variable becomes just the added part).
 */
public final class EnvTransform implements Transform {
    private final SiteConfig.EnvEdits edits;

    public EnvTransform(SiteConfig.EnvEdits edits) {
        this.edits = edits;
    }

    @Override
    public Spec apply(Spec spec) {
        if (edits.isEmpty() || spec.process() == null) return spec;
        Map<String, String> env = toMap(spec.process().env());
        edits.unset().forEach(env::remove);
        env.putAll(edits.set());
        edits.prepend().forEach((k, v) -> env.put(k, join(v, env.get(k))));
        edits.append().forEach((k, v) -> env.put(k, join(env.get(k), v)));
        return spec.withProcess(spec.process().withEnv(toList(env)));
    }

    private static String join(String a, String b) {
        if (a == null || a.isEmpty()) return b == null ? "" : b;
        if (b == null || b.isEmpty()) return a;
        return a + ":" + b;
    }

    /** KEY=VALUE entries in order, later entries winning (runtime-spec: env is a list). */
    public static Map<String, String> toMap(List<String> env) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String e : env) {
            int eq = e.indexOf('=');
            if (eq <= 0) continue;
            m.put(e.substring(0, eq), e.substring(eq + 1));
        }
        return m;
    }

    public static List<String> toList(Map<String, String> m) {
        List<String> out = new ArrayList<>();
        m.forEach((k, v) -> out.add(k + "=" + v));
        return out;
    }

    public static Process withEnv(Process p, Map<String, String> env) {
        return p.withEnv(toList(env));
    }
}
