package skiff.engine;

import skiff.sys.Mounts;
import skiff.sys.SysException;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Creates mount points an image lacks (/proc, /home/USER, /etc/hosts, a -v destination...) without writing to the
 * image. The image's files belong to ids that are not mapped in the user namespace, so even an overlay over it
 * refuses new entries. Instead the nearest existing directory is "underlaid": a tmpfs gets one bind mount per entry
 * of that directory (symlinks copied), plus the missing entry, and is moved over the directory. The tmpfs is made
 * read-only at the end, so the image still cannot be written.
 *
 * <p>A mount point missing inside an earlier bind of a host directory (the home directory, /tmp or another -v, for
 * a nested -v) is created in that host directory when the user can write it, as Docker does: mirroring it instead
 * would freeze it for the run (no mktemp in /tmp, no new file beside a nested bind). Where the host directory cannot
 * be written (a read-only bind, another owner's tree) and always under the host's /dev (skiff run by root must not
 * leave mount points there), it is mirrored like an image directory; it then takes no new entries for the run (its
 * existing ones stay as writable as they were), which the caller reports.
 */
final class Underlay {
    /** A mount point in the tree and whose files it shows: a host directory (a bind), or skiff's own (a tmpfs). */
    private record Mark(Path at, String hostSource) {}

    private final Path scratchBase;
    /** Each underlay, and whether it stands for a host directory. */
    private final List<Mark> underlays = new ArrayList<>();
    private final List<Mark> marks = new ArrayList<>();
    private int count;

    Underlay(Path scratchBase) {
        this.scratchBase = scratchBase;
    }

    /** Records a mount just made at {@code at}: {@code hostSource} for a host directory, null for a tmpfs. */
    void mounted(Path at, String hostSource) {
        marks.add(new Mark(at, hostSource));
    }

    /** The host directory shown at {@code dir} (a bind, or inside one), or null: the image's or skiff's own. */
    private String hostDirectory(Path dir) {
        Mark best = null;
        for (Mark m : marks)
            if (dir.startsWith(m.at()) && (best == null || m.at().getNameCount() >= best.at().getNameCount())) best = m;
        if (best == null || best.hostSource() == null) return null;
        Path rel = best.at().relativize(dir);
        return rel.toString().isEmpty() ? best.hostSource() : Path.of(best.hostSource()).resolve(rel).toString();
    }

    /** A host directory that had to be underlaid (see the class comment): where it is, and the host's path. */
    record HostUnderlay(Path at, String hostDir) {}

    /**
     * Creates {@code target} (an empty file or directory, parents included).
     *
     * @return the host directory that had to be underlaid for it, else null
     */
    HostUnderlay create(Path root, Path target, boolean file) throws IOException, SysException {
        Path dir = target.getParent();
        while (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && dir.startsWith(root) && !dir.equals(root))
            dir = dir.getParent();
        String host = hostDirectory(dir);
        boolean hostDev = host != null && (host.equals("/dev") || host.startsWith("/dev/"));
        if (!hostDev) try {
            Files.createDirectories(target.getParent());
            if (file) Files.createFile(target);
            else Files.createDirectory(target);
            return null;
        } catch (IOException notWritable) {
            // the usual case: a read-only or root-owned directory of the image
        }
        Path scratch = scratchBase.resolve("underlay" + (count++));
        Files.createDirectories(scratch);
        Mounts.mount("tmpfs", scratch.toString(), "tmpfs", Mounts.MS_NOSUID | Mounts.MS_NODEV, "mode=0755");
        try {
            Files.setPosixFilePermissions(scratch, Files.getPosixFilePermissions(dir));
        } catch (IOException | UnsupportedOperationException ignored) {
            // keep 0755
        }
        List<Mark> entries = new ArrayList<>();
        try (DirectoryStream<Path> list = Files.newDirectoryStream(dir)) {
            for (Path e : list) {
                Path copy = scratch.resolve(e.getFileName().toString());
                if (Files.isSymbolicLink(e)) {
                    Files.createSymbolicLink(copy, Files.readSymbolicLink(e));
                } else if (Files.isDirectory(e, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(copy);
                    Mounts.mount(e.toString(), copy.toString(), null, Mounts.MS_BIND | Mounts.MS_REC, null);
                    if (host != null) entries.add(new Mark(e, Path.of(host).resolve(e.getFileName().toString()).toString()));
                } else {
                    // regular files, and device nodes, sockets, fifos (e.g. under /dev): a bind onto an empty file
                    Files.createFile(copy);
                    Mounts.mount(e.toString(), copy.toString(), null, Mounts.MS_BIND, null);
                }
            }
        }
        Path rel = dir.relativize(target);
        Path made = scratch.resolve(rel.toString());
        Files.createDirectories(made.getParent());
        if (file) Files.createFile(made);
        else Files.createDirectory(made);
        Mounts.mount(scratch.toString(), dir.toString(), null, Mounts.MS_MOVE, null);
        underlays.add(new Mark(dir, host));
        // From now on dir is skiff's own (new mount points go straight in), its entries still what they were.
        marks.add(new Mark(dir, null));
        marks.addAll(entries);
        return host == null ? null : new HostUnderlay(dir, host);
    }

    /**
     * Makes the underlays read-only; the entries bound into them keep the flags of their own mounts.
     *
     * @param all every underlay (a read-only root); else only those standing for a host directory, whose new entries
     *            would otherwise vanish at exit (over a writable root, the rest is as temporary as the root is)
     */
    void seal(boolean all) throws SysException {
        for (Mark u : underlays)
            if (all || u.hostSource() != null)
                Mounts.restrict(u.at().toString(), Mounts.MS_RDONLY | Mounts.MS_NOSUID | Mounts.MS_NODEV);
    }
}
