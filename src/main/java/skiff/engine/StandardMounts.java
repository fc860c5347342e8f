package skiff.engine;

import skiff.spec.Mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The mounts every container of the unprivileged engine has, before policy adds the site's and the user's: what the
 * engine needs the container to look like (a fresh /proc only with its own PID namespace, the host's /dev since no
 * node can be created, identity files for the user's ids).
 */
public final class StandardMounts {
    private StandardMounts() {}

    /**
     * /tmp, /proc, /sys, /dev, host name resolution, identity files (generated into {@code runDir} unless
     * {@code hostAuth}), home unless {@code noHome}, in that order.
     */
    public static List<Mount> of(Path root, Path runDir, Identity id, boolean pid, boolean hostAuth, boolean noHome,
                                 boolean fakeroot) throws IOException {
        List<Mount> m = new ArrayList<>();
        // /tmp first: it must be recursive (the kernel refuses a non-recursive bind that would uncover what the
        // host mounted below it, e.g. this user's image mounts when XDG_RUNTIME_DIR is unset), and before /proc,
        // /sys and /dev exist under the root, so its copy of the tree stays small.
        m.add(Mount.bind("/tmp", "/tmp", false));
        m.add(pid ? new Mount("/proc", "proc", "proc", List.of("nosuid", "nodev", "noexec"))
                : new Mount("/proc", "bind", "/proc", List.of("rbind")));
        m.add(Mount.bind("/sys", "/sys", true));
        m.add(new Mount("/dev", "bind", "/dev", List.of("rbind", "nosuid")));
        for (String f : List.of("/etc/hosts", "/etc/resolv.conf"))
            if (Files.exists(Path.of(f))) m.add(new Mount(f, "bind", f, List.of("bind", "ro", "nosuid", "nodev")));
        if (hostAuth) {
            for (String f : List.of("/etc/passwd", "/etc/group"))
                m.add(new Mount(f, "bind", f, List.of("bind", "ro", "nosuid", "nodev")));
        } else {
            Path pw = Files.writeString(runDir.resolve("passwd"), UserDb.passwd(root, id, fakeroot));
            Path gr = Files.writeString(runDir.resolve("group"), UserDb.group(root, id, fakeroot));
            m.add(new Mount("/etc/passwd", "bind", pw.toString(), List.of("bind", "ro", "nosuid", "nodev")));
            m.add(new Mount("/etc/group", "bind", gr.toString(), List.of("bind", "ro", "nosuid", "nodev")));
        }
        if (!noHome && id.home() != null && !id.home().equals("/") && Files.isDirectory(Path.of(id.home()))) {
            // The real path as source: the current directory (always a real path) below a linked home is then
            // recognised as visible, and not bound a second time.
            String real;
            try {
                real = Path.of(id.home()).toRealPath().toString();
            } catch (IOException e) {
                real = id.home(); // bound as named, as before: only the current directory's recognition suffers
            }
            m.add(Mount.bind(real, id.home(), false));
        }
        return m;
    }
}
