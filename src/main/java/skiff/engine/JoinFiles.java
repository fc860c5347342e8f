package skiff.engine;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The files of a join group, under RUNTIME/join/KEY/, shared by the ranks (stage 1) and the holder (stage 2, so
 * java.base only). All writes are a temporary sibling renamed into place; RUNTIME/join/.lock (flock) orders
 * registrations and the group's removal.
 * <ul>
 * <li>ranks/PID: "STARTTIME RANKID", one per rank that registered (the pid survives the execs to the payload)
 * <li>root: what the group runs (image root and its mode); a rank running something else is refused
 * <li>rundir: the first rank's run directory (its launch plan), removed with the group
 * <li>holder: "PID STARTTIME" of the process that builds the container and holds its namespaces
 * <li>ready: the container is built, its namespaces can be entered
 * <li>failed: "STATUS MESSAGE": setting up failed or the group was abandoned
 * </ul>
 * The holder removes the directory once every rank has entered the namespaces or died; a rank removes it when it
 * gives up and neither the holder nor any other rank is alive.
 */
final class JoinFiles {
    private JoinFiles() {}

    static final String LOCK = ".lock", RANKS = "ranks", ROOT = "root", RUNDIR = "rundir", HOLDER = "holder",
            READY = "ready", FAILED = "failed", LOG = "holder.log";

    /** One registration. */
    record Rank(long pid, String startTime, String rankId) {
        boolean alive() {
            String now = JoinFiles.startTime(pid);
            return now != null && now.equals(startTime);
        }
    }

    static List<Rank> ranks(Path group) {
        List<Rank> l = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(group.resolve(RANKS))) {
            for (Path p : s) {
                String n = p.getFileName().toString();
                if (n.startsWith(".")) continue;
                String[] f = read(p).split(" ");
                if (f.length < 2) continue;
                try {
                    l.add(new Rank(Long.parseLong(n), f[0], f[1].equals("-") ? null : f[1]));
                } catch (NumberFormatException ignored) {
                    // not a registration
                }
            }
        } catch (IOException e) {
            // the group is gone: no ranks
        }
        return l;
    }

    /** "PID STARTTIME" of the holder, or null before it announced itself. */
    static long[] holder(Path group) {
        String[] f = read(group.resolve(HOLDER)).split(" ");
        if (f.length < 2) return null;
        try {
            return new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])};
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static boolean holderAlive(long[] h) {
        return h != null && Long.toString(h[1]).equals(startTime(h[0]));
    }

    /** The file's content without its final newline, or "" when it does not exist. */
    static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return "";
        }
    }

    static void write(Path target, String content) throws IOException {
        Path tmp = target.resolveSibling(".tmp-" + target.getFileName() + "-" + ProcessHandle.current().pid());
        Files.writeString(tmp, content + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Removes the group directory and the run directory it names (callers hold the lock). */
    static void remove(Path group) {
        String runDir = read(group.resolve(RUNDIR));
        try {
            if (!runDir.isEmpty()) Stage2.removeTree(Path.of(runDir));
        } catch (IOException | RuntimeException ignored) {
            // not reachable from here (after pivot_root), or gone already
        }
        try {
            Stage2.removeTree(group);
        } catch (IOException ignored) {
            // a concurrent remover
        }
    }

    /** Field 22 of /proc/PID/stat, or null when there is no such process. */
    static String startTime(long pid) {
        return skiff.util.Procs.startTime(pid);
    }

    /** The mount namespace of {@code pid} ("mnt:[INODE]"), or null when it is gone. */
    static String mountNs(String pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc", pid, "ns", "mnt")).toString();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static boolean exists(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }
}
