package skiff.spec;

import java.util.List;
import java.util.Map;

/**
 * The OCI runtime configuration (runtime-spec config.md, Linux subset). Built from the image config per
 * image-spec conversion.md, then passed through policy transforms ({@code Spec -> Spec}) and launched.
 */
public record Spec(
        String ociVersion,
        Process process,
        Root root,
        String hostname,
        List<Mount> mounts,
        Hooks hooks,
        Map<String, String> annotations,
        Linux linux) {

    public static final String OCI_VERSION = "1.2.0";

    public List<Mount> mounts() {
        return mounts == null ? List.of() : mounts;
    }

    public Map<String, String> annotations() {
        return annotations == null ? Map.of() : annotations;
    }

    public Spec withProcess(Process p) {
        return new Spec(ociVersion, p, root, hostname, mounts, hooks, annotations, linux);
    }

    public Spec withMounts(List<Mount> m) {
        return new Spec(ociVersion, process, root, hostname, m, hooks, annotations, linux);
    }

    public Spec withHooks(Hooks h) {
        return new Spec(ociVersion, process, root, hostname, mounts, h, annotations, linux);
    }

    public Spec withAnnotations(Map<String, String> a) {
        return new Spec(ociVersion, process, root, hostname, mounts, hooks, a, linux);
    }

    public Spec withLinux(Linux l) {
        return new Spec(ociVersion, process, root, hostname, mounts, hooks, annotations, l);
    }

    public record Root(String path, boolean readonly) {}
}
