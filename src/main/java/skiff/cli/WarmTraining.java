package skiff.cli;

import com.sun.security.auth.module.UnixSystem;
import skiff.engine.Engine;
import skiff.engine.RuntimeDir;
import skiff.engine.SharedMount;
import skiff.image.ImageConfig;
import skiff.reference.Reference;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.sys.LinkAhead;
import skiff.util.Env;

import java.nio.file.Path;
import java.util.Map;

/**
 * The AOT training run of skiff run's warm path (ci/aot.sh writes target/skiff-warm.aot from it, which bin/skiff
 * passes to {@link WarmRun}'s JVM): the same steps as a warm start, from the run record to the launch plan, then
 * the classes of the plan's execution, against a store ci/aot.sh filled with one image converted to a directory.
 * Nothing is mounted and nothing exec'd, so the JVM exits normally and writes the cache; the engine has no
 * training switch: it is simply not asked to execute the plan.
 *
 * <p>Arguments: {@code --record STORAGE} first (in a JVM of its own: writes training:1's run record), then STORAGE
 * (holding training:1, converted to a directory) for the training run itself.
 */
public final class WarmTraining {
    private WarmTraining() {}

    public static void main(String[] a) throws Exception {
        String image = "training:1";
        if (a.length == 2 && a[0].equals("--record")) {
            // Run by ci/aot.sh in a JVM of its own first, as a full run would: the name resolved through the store's
            // JSON, whose classes must stay out of the cache (every cached class is loaded at start).
            Path storage = Path.of(a[1]).toAbsolutePath();
            Store store = Store.open(storage);
            String name = Reference.parse(image).toString();
            RunInputs.Resolved r = RunInputs.resolve(store, name);
            if (r == null) throw new IllegalStateException(image + " is not in " + storage);
            ImageConfig.Config cfg = r.config() == null ? null : r.config().config();
            RunRecord.write(storage, image, new RunRecord(name, false, r.manifest(),
                    Rootfs.path(store, r.manifest(), Rootfs.Format.DIR), RunRecord.stamp(store.layout().resolve("index.json")), cfg,
                    r.indexed(), skiff.policy.Policy.loadRecorded(Env.process()).snapshot()));
            return;
        }
        Path storage = Path.of(a[0]).toAbsolutePath();
        LinkAhead.start();
        Map<String, String> env = Env.process();
        UnixSystem u = new UnixSystem();
        int uid = (int) u.getUid(), gid = (int) u.getGid();
        Path runtime = RuntimeDir.resolve(env, uid);
        for (String[] args : new String[][] {
                {"--storage", storage.toString(), "run", "--rootfs-format", "dir", image, "/bin/true"},
                {"--storage", storage.toString(), "run", "--rootfs-format", "dir", "-e", "A=1", "-v", "/tmp:/data:ro", "--no-home", image, "sh", "-c", "true"}}) {
            RunCommand c = RunFastPath.parse(args);
            WarmRun.Prepared p = WarmRun.prepare(c, runtime, RunRecord.dir(storage).resolve(RunRecord.key(image)), -1,
                    uid, gid, u.getGroups());
            Engine.discard(p.plan());
        }
        // The SquashFS path's check, against a mount that does not exist (nothing is registered then).
        SharedMount.join(runtime, "0".repeat(64), ProcessHandle.current().pid());
        WarmRun.groups("1 2 3");
        Engine.loadExecutionPath();
    }
}
