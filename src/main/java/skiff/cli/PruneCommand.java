package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import skiff.image.Digest;
import skiff.rootfs.Rootfs;
import skiff.store.Gc;
import skiff.store.Store;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "prune", mixinStandardHelpOptions = true,
        description = {"Delete what no image in the store uses: unreferenced blobs, converted root filesystems of removed images,",
                "and temporary files left by interrupted commands (older than --tmp-age)."})
public final class PruneCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--tmp-age", paramLabel = "MINUTES", defaultValue = "60",
            description = "Only delete temporary files older than this many minutes (default ${DEFAULT-VALUE}): younger ones may belong to a running command.")
    long tmpAgeMinutes;

    @Override
    public Integer call() throws Exception {
        Store store = main.store();
        Gc.Result r;
        try {
            r = Gc.collect(store, new Gc.Options(cacheDirs(store), Duration.ofMinutes(Math.max(0, tmpAgeMinutes))));
        } catch (java.io.IOException e) {
            throw new skiff.util.SkiffException(skiff.util.ExitCode.STORAGE, "cannot prune " + store.storage() + ": " + e
                    + " (check permissions: files there must belong to you)");
        }
        System.out.println(r.summary());
        return 0;
    }

    /** The directories of converted root filesystems, one per format, named by manifest digest (see {@link Rootfs#path}). */
    static List<Path> cacheDirs(Store store) {
        Digest any = new Digest("sha256", "0".repeat(64));
        List<Path> dirs = new ArrayList<>();
        for (Rootfs.Format f : Rootfs.Format.values()) dirs.add(Rootfs.path(store, any, f).getParent());
        return dirs;
    }
}
