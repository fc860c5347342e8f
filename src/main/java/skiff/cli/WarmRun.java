package skiff.cli;

import skiff.container.Containers;
import skiff.engine.Engine;
import skiff.engine.Identity;
import skiff.engine.InheritedFds;
import skiff.engine.JoinGroup;
import skiff.engine.LaunchPlan;
import skiff.engine.Launcher;
import skiff.engine.RuntimeDir;
import skiff.engine.SharedMount;
import skiff.image.Descriptor;
import skiff.image.ImageConfig;
import skiff.policy.Policy;
import skiff.policy.site.TrustedFiles;
import skiff.rootfs.Rootfs;
import skiff.store.JobPins;
import skiff.store.Store;
import skiff.sys.Fds;
import skiff.sys.LinkAhead;
import skiff.sys.SysException;
import skiff.util.Dirs;
import skiff.util.Env;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The warm path of {@code skiff run}: the one JVM between bin/skiff and the payload. bin/skiff saw a run record
 * for the image ({@link RunRecord}) and its shared mount alive, took the mount's lock shared and exec'd
 * {@code unshare --user --map-current-user --keep-caps --mount} with this class: the JVM starts inside the new
 * namespaces (a multithreaded process cannot enter a new user namespace itself), checks bin/skiff's guess,
 * registers with the shared mount, and hands the engine the launch request to plan and exec here (Engine.prepareHere, Engine.execute).
 * Nothing on this path loads picocli or Jackson (RunIT checks), nor parses the store's JSON or the site's TOML: the
 * site policy comes from the record, as the full path read and trusted it, while every file it came from is unchanged
 * (PolicySnapshot; SitePolicyIT checks a warm start with a site policy).
 *
 * <p>Arguments: RUNTIME RECORD LOCKFD UID GID GROUPS -- the command line after bin/skiff. A guess that turns out
 * wrong (the record is stale, the mount's server died) cannot fall back to the full path, which needs the host's
 * namespaces: the run fails with 125 and the record is removed, so running it again takes the full path.
 */
public final class WarmRun {
    private WarmRun() {}

    public static void main(String[] a) {
        // First: the descriptors skiff's caller passed on (MPI launchers do), before this JVM opens files of its own.
        InheritedFds.capture();
        LinkAhead.start();
        Trace.mark("warm: main() reached");
        boolean debug = false;
        int status;
        try {
            int sep = Arrays.asList(a).indexOf("--");
            if (sep != 6) throw new SkiffException(ExitCode.USAGE, "skiff.cli.WarmRun is started by bin/skiff only");
            String[] args = Arrays.copyOfRange(a, sep + 1, a.length);
            RunCommand c = RunFastPath.parse(args);
            if (c == null) throw new SkiffException(ExitCode.INTERNAL, "bin/skiff took a command line for the warm path"
                    + " that skiff run cannot parse: " + String.join(" ", args));
            debug = c.main.debug;
            long[] groups = groups(a[5]);
            Prepared p = prepare(c, Path.of(a[0]), Path.of(a[1]), Integer.parseInt(a[2]), Integer.parseInt(a[3]),
                    Integer.parseInt(a[4]), groups);
            Trace.mark("warm: launch plan ready; mounts, pivot and exec follow");
            Engine.execute(p.plan(), p.keep()); // never returns: the payload replaces this JVM
            status = ExitCode.INTERNAL.code;
        } catch (SkiffException e) {
            if (debug) e.printStackTrace();
            if (!e.alreadyReported()) System.err.println("skiff: " + e.getMessage());
            status = e.exitCode().code;
        } catch (RuntimeException e) {
            if (debug) e.printStackTrace();
            System.err.println("skiff: internal error: " + e + (debug ? "" : " (re-run with --debug for details and report it)"));
            status = ExitCode.INTERNAL.code;
        }
        System.exit(status);
    }

    /** The "Groups:" field of /proc/self/status as bin/skiff passes it: gids separated by blanks. */
    static long[] groups(String field) {
        String[] parts = field.trim().split("\\s+");
        if (parts.length == 1 && parts[0].isEmpty()) return new long[0];
        long[] out = new long[parts.length];
        for (int i = 0; i < parts.length; i++) out[i] = Long.parseLong(parts[i]);
        return out;
    }

    /** The container to execute, and the descriptors its payload keeps. */
    record Prepared(LaunchPlan plan, int[] keep) {}

    /** bin/skiff's guess checked, the run registered with the shared mount, the container planned. */
    static Prepared prepare(RunCommand c, Path runtimeArg, Path recordFile, int lockFd, int uid, int gid, long[] groups) {
        Map<String, String> env = Env.process();
        Path storage = Dirs.storage(c.main.storageFlag, env);
        String key = RunRecord.key(c.image);
        if (key == null || !recordFile.equals(RunRecord.dir(storage).resolve(key)))
            throw wrongGuess(null, "bin/skiff found the run record " + recordFile + " for another store or name");
        RunRecord r;
        try {
            r = RunRecord.read(recordFile);
        } catch (IOException e) {
            throw wrongGuess(recordFile, e.getMessage());
        }
        Trace.mark("warm: run record read");
        Identity id = Identity.of(uid, gid, groups, env);
        Path runtime = RuntimeDir.resolve(env, uid);
        if (!runtime.equals(runtimeArg))
            throw wrongGuess(recordFile, "the runtime directory is " + runtime + ", not " + runtimeArg);
        Store store = Store.open(storage);
        ImageConfig.Config config = r.config();
        String stamp = RunRecord.stamp(store.layout().resolve("index.json"));
        if (!stamp.equals(r.indexStamp())) {
            // index.json changed within the second the shell's -nt cannot tell apart: resolve the name again.
            RunInputs.Resolved now = RunInputs.resolve(store, r.name());
            if (now == null || !now.manifest().equals(r.manifest()))
                throw wrongGuess(recordFile, "image " + r.name() + " changed in the store since its last run");
            config = now.config() == null ? null : now.config().config();
            // Still this image: the record says so for the new index, and the next start reads no JSON again.
            RunRecord.write(storage, c.image, new RunRecord(r.name(), r.digested(), r.manifest(), r.dirRoot(), stamp, config,
                    now.indexed(), r.policy()));
        }
        if (Files.exists(Containers.open(storage).dir().resolve(c.image), LinkOption.NOFOLLOW_LINKS))
            throw wrongGuess(recordFile, "'" + c.image + "' is now a persistent container");
        // srun's tasks share a container, which the full path makes; bin/skiff lets none through (a check, not a path).
        if (JoinGroup.of(env, null, null, c.noJoin) != null)
            throw wrongGuess(null, "this run shares a container with the other tasks of its Slurm step");
        // In a batch job a tag means what it meant at the job's first resolution of it (JobPins), as on the full path.
        Optional<String> job = r.digested() ? Optional.empty() : JobPins.job(env);
        if (job.isPresent()) {
            if (r.indexed() == null) throw wrongGuess(recordFile, "the run record does not say what the job would pin");
            Descriptor pinned;
            try {
                pinned = JobPins.resolve(store, job.get(), r.name(), () -> Optional.of(r.indexed())).orElse(r.indexed());
            } catch (IOException e) {
                throw new SkiffException(ExitCode.STORAGE, "cannot read or write the job's image pins in " + storage + ": " + e.getMessage());
            }
            if (!pinned.digest().equals(r.indexed().digest()))
                throw wrongGuess(recordFile, "job " + job.get() + " pinned " + r.name() + " to " + pinned.digest()
                        + ", which is not what the name means now");
        }
        Policy policy = policy(r, recordFile, uid, env);
        String engine = policy.engine();
        if (engine != null && !engine.equals("native") && !engine.equals(Launcher.AUTO))
            throw wrongGuess(recordFile, "the configuration now selects the engine '" + engine + "'");
        policy.checkImage(r.name(), r.digested());
        Trace.mark("warm: record checked, policy loaded");
        Rootfs.Format format = c.format();
        long pid = ProcessHandle.current().pid();
        Path root;
        if (format == Rootfs.Format.SQUASHFS) {
            root = SharedMount.join(runtime, r.manifest().hex(), pid);
            if (root == null) throw wrongGuess(recordFile, "the shared mount of " + r.name() + " is not alive");
        } else {
            root = r.dirRoot();
            if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS))
                throw wrongGuess(recordFile, "the directory tree of " + r.name() + " is gone");
        }
        releaseLock(lockFd);
        Trace.mark("warm: registered with the shared mount");
        RunCommand.Built b = c.build(env, id, r.name(), r.manifest(), format, null, Launcher.NATIVE);
        List<Integer> inherited = InheritedFds.captured();
        int[] keep = new int[inherited.size()];
        int n = 0;
        for (int fd : inherited) if (fd != lockFd) keep[n++] = fd;
        return new Prepared(Engine.prepareHere(LaunchRequests.build(root, config, b, policy, env, id, Engine.Ending.REPLACE,
                null)), Arrays.copyOf(keep, n));
    }

    /**
     * The site policy the full path read and trusted, from the record (PolicySnapshot): in this user namespace root's
     * files show as the overflow uid, like another user's, so TrustedFiles cannot judge them here, and reading the
     * TOML would load Jackson. Believed only from a record nobody else could have written, and only while every file
     * it was read from is as it was then (FileStamps); then the files the full path trusted (CDI specs, read here only
     * when a run asks for a CDI device) are trusted here too.
     */
    private static Policy policy(RunRecord r, Path recordFile, int uid, Map<String, String> env) {
        String why = RunRecord.ownedByUser(recordFile, uid);
        if (why == null) why = r.policy().mismatch(env);
        if (why != null) throw wrongGuess(recordFile, "the site policy may differ: " + why);
        TrustedFiles.vouch(r.policy().trusted());
        return Policy.of(r.policy(), env, Policy.Host.real());
    }

    /**
     * Drops bin/skiff's shared lock on the mount (its descriptor came down the exec chain): this run is registered
     * as the mount's user now, and the payload must not hold the lock, or the reaper and the next cold start wait
     * for it to end.
     */
    private static void releaseLock(int fd) {
        if (fd < 3) return;
        try {
            Fds.close(fd);
        } catch (SysException e) {
            // already closed: nothing is held
        }
    }

    /** A warm start that cannot go on: the record goes, so the next run takes the full path and writes a new one. */
    private static SkiffException wrongGuess(Path record, String why) {
        if (record != null) {
            try {
                Files.deleteIfExists(record);
            } catch (IOException e) {
                // the shell sees the same state next time and decides again
            }
        }
        return new SkiffException(ExitCode.LAUNCH, "the quick start-up found its guess wrong (" + why
                + "); run the command again: it then prepares the image the full way");
    }
}
