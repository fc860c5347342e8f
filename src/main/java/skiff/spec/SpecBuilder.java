package skiff.spec;

import skiff.image.ImageConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Builds the runtime Spec from an image config, per image-spec conversion.md, with skiff's identity rules:
 * the payload runs as the invoking user (or uid 0 with --fakeroot); the image's User is ignored, because an
 * unprivileged runtime maps only the caller's own uid.
 */
public final class SpecBuilder {
    private SpecBuilder() {}

    /** Annotation carrying the image's WorkingDir, the working directory when the host's is not visible. */
    public static final String IMAGE_WORKDIR = "dev.skiff.image.workingdir";

    /** Entrypoint + Cmd as conversion.md and Docker combine them; {@code /bin/sh} when both are empty. */
    public static List<String> args(ImageConfig.Config cfg, RunSettings s) {
        List<String> ep;
        List<String> cmd;
        if (s.entrypoint() != null) {
            ep = s.entrypoint().isEmpty() ? List.of() : List.of(s.entrypoint());
            cmd = s.command(); // --entrypoint resets the image's Cmd (Docker)
        } else {
            ep = cfg == null || cfg.entrypoint() == null ? List.of() : cfg.entrypoint();
            cmd = !s.command().isEmpty() ? s.command() : cfg == null || cfg.cmd() == null ? List.of() : cfg.cmd();
        }
        List<String> a = new ArrayList<>(ep);
        a.addAll(cmd);
        return a.isEmpty() ? List.of("/bin/sh") : a;
    }

    /** The image's WorkingDir, "/" when unset (conversion.md: relative to the root). */
    public static String imageWorkdir(ImageConfig.Config cfg) {
        String w = cfg == null ? null : cfg.workingDir();
        return w == null || w.isEmpty() ? "/" : w.startsWith("/") ? w : "/" + w;
    }

    /**
     * The Spec before policy: process, read-only root, the given standard mounts, user and mount namespaces
     * (network, IPC, PID, UTS stay the host's, as HPC jobs expect).
     */
    public static Spec build(ImageConfig.Config cfg, RunSettings s, String rootPath, List<Mount> standardMounts,
                             boolean pidNamespace) {
        int uid = s.fakeroot() ? 0 : s.uid();
        int gid = s.fakeroot() ? 0 : s.gid();
        String name = s.fakeroot() ? "root" : s.userName();
        String cwd = s.workdir() != null ? s.workdir() : imageWorkdir(cfg);
        Process p = new Process(false, new Process.User(uid, gid, List.of(), name), args(cfg, s),
                ContainerEnv.build(cfg == null ? null : cfg.env(), s), cwd, true);
        List<Linux.LinuxNamespace> ns = new ArrayList<>(List.of(
                new Linux.LinuxNamespace("user", null), new Linux.LinuxNamespace("mount", null)));
        if (pidNamespace) ns.add(new Linux.LinuxNamespace("pid", null));
        Linux linux = new Linux(
                List.of(new LinuxIdMapping(uid, s.uid(), 1)), List.of(new LinuxIdMapping(gid, s.gid(), 1)),
                ns, null, null, null, null);
        return new Spec(Spec.OCI_VERSION, p, new Spec.Root(rootPath, true), null, standardMounts, Hooks.NONE,
                Map.of(IMAGE_WORKDIR, imageWorkdir(cfg)), linux);
    }

    /**
     * Where the host's working directory appears in the container, if a bind mount makes it visible there
     * (the longest matching bind wins); null otherwise.
     */
    public static String visibleCwd(List<Mount> mounts, String hostCwd) {
        String best = null;
        int bestLen = -1;
        for (Mount m : mounts) {
            if (!m.isBind() || m.source() == null) continue;
            String src = m.source().endsWith("/") && m.source().length() > 1
                    ? m.source().substring(0, m.source().length() - 1) : m.source();
            boolean under = hostCwd.equals(src) || hostCwd.startsWith(src.equals("/") ? "/" : src + "/");
            if (under && src.length() > bestLen) {
                bestLen = src.length();
                String rest = hostCwd.substring(src.length());
                String dst = m.destination().endsWith("/") ? m.destination().substring(0, m.destination().length() - 1) : m.destination();
                best = (dst + (rest.startsWith("/") || rest.isEmpty() ? rest : "/" + rest));
                if (best.isEmpty()) best = "/";
            }
        }
        return best;
    }
}
