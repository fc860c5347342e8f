package skiff.policy;

import skiff.spec.Spec;

import java.util.Map;

// PLACEHOLDER API (issue 5 implements it; the engine codes against these signatures).
/** The effective site policy (site.toml, site.d, user config), applied as Spec -> Spec transforms. */
public final class Policy {
    private Policy() {}

    /** Loads /etc/skiff/site.toml, /etc/skiff/site.d/*.toml and the user's config.toml. */
    public static Policy load(Map<String, String> env) {
        return new Policy();
    }

    /**
     * Validates the request against site policy (binds, devices, image) and returns {@code base} with the
     * user's mounts, site mounts and environment, modules, devices, GPUs, CDI edits and hooks applied.
     * Throws SkiffException(POLICY) on a violation, with nothing mounted.
     */
    public Spec apply(Spec base, RunRequest request) {
        return base.withMounts(new java.util.ArrayList<>(base.mounts()) {{ addAll(request.userMounts()); }});
    }
}
