package skiff.engine;

import skiff.engine.sys.Mounts;
import skiff.engine.sys.SysException;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Creates mount points an image lacks (/proc, /home/USER, /etc/hosts...) without writing to the image. The
 * image's files belong to ids that are not mapped in the user namespace, so even an overlay over it refuses new
 * entries. Instead the nearest existing directory is "underlaid": a tmpfs gets one bind mount per entry of that
 * directory (symlinks copied), plus the missing entry, and is moved over the directory. The tmpfs is made
 * read-only at the end, so the image still cannot be written.
 */
final class Underlay {
    private final Path scratchBase;
    private final List<String> sealed = new ArrayList<>();
    private int count;

    Underlay(Path scratchBase) {
        this.scratchBase = scratchBase;
    }

    void create(Path root, Path target, boolean file) throws IOException, SysException {
        create(root, target, file, false);
    }

    /**
     * @param hostTree the target lies in a bind of a host tree that must not be written, such as the container's
     *                 /dev (the host's /dev, rbound): go straight to the mirror, even where the caller could write
     *                 (skiff run by root would otherwise leave empty mount points in the host's /dev)
     */
    void create(Path root, Path target, boolean file, boolean hostTree) throws IOException, SysException {
        if (!hostTree) try {
            Files.createDirectories(target.getParent());
            if (file) Files.createFile(target);
            else Files.createDirectory(target);
            return;
        } catch (IOException notWritable) {
            // the usual case: a read-only or root-owned directory of the image
        }
        Path dir = target.getParent();
        while (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && dir.startsWith(root) && !dir.equals(root))
            dir = dir.getParent();
        Path scratch = scratchBase.resolve("underlay" + (count++));
        Files.createDirectories(scratch);
        Mounts.mount("tmpfs", scratch.toString(), "tmpfs", Mounts.MS_NOSUID | Mounts.MS_NODEV, "mode=0755");
        try {
            Files.setPosixFilePermissions(scratch, Files.getPosixFilePermissions(dir));
        } catch (IOException | UnsupportedOperationException ignored) {
            // keep 0755
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path e : entries) {
                Path copy = scratch.resolve(e.getFileName().toString());
                if (Files.isSymbolicLink(e)) {
                    Files.createSymbolicLink(copy, Files.readSymbolicLink(e));
                } else if (Files.isDirectory(e, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(copy);
                    Mounts.mount(e.toString(), copy.toString(), null, Mounts.MS_BIND | Mounts.MS_REC, null);
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
        sealed.add(dir.toString());
    }

    /** Makes every underlay read-only; the entries bound into it keep the flags of their own mounts. */
    void seal() throws SysException {
        for (String d : sealed) Mounts.restrict(d, Mounts.MS_RDONLY | Mounts.MS_NOSUID | Mounts.MS_NODEV);
    }
}
