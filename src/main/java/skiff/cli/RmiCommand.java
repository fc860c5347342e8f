package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.image.Descriptor;
import skiff.store.Gc;
import skiff.store.Store;
import skiff.store.StoredImage;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "rmi", mixinStandardHelpOptions = true,
        description = {"Remove image names, then delete the blobs and converted root filesystems no remaining image uses.",
                "An unknown name fails (exit 3) after the others are removed."})
public final class RmiCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-f", "--force"}, description = "Remove every name of an image given by id, even if it has several.")
    boolean force;

    @Parameters(arity = "1..*", paramLabel = "REF", description = "Image name or id.")
    List<String> refs;

    private static String exactName(Store store, String ref) throws java.io.IOException {
        try {
            String n = skiff.reference.Reference.parse(ref).toString();
            return store.resolve(n).isPresent() ? n : null;
        } catch (SkiffException e) {
            return null;
        }
    }

    @Override
    public Integer call() throws Exception {
        Store store = main.store();
        List<String> failures = new ArrayList<>();
        ExitCode code = ExitCode.IMAGE;
        for (String ref : refs) {
            try {
                // A name present in index.json is removed even when its blobs are missing or corrupt.
                String exact = exactName(store, ref);
                if (exact != null) {
                    if (store.untag(exact)) System.out.println("Untagged: " + exact);
                    continue;
                }
                List<StoredImage> images = StoredImage.find(store, ref);
                if (images.isEmpty()) {
                    failures.add("no image '" + ref + "'");
                    continue;
                }
                if (images.size() > 1 && !force) {
                    failures.add("image '" + ref + "' has " + images.size() + " names (" + String.join(", ", images.stream()
                            .map(i -> String.valueOf(i.name())).toList()) + "): remove them by name or use -f");
                    continue;
                }
                for (StoredImage i : images) {
                    if (i.name() != null) {
                        if (store.untag(i.name())) System.out.println("Untagged: " + i.name());
                    } else {
                        Descriptor entry = i.entry();
                        store.updateIndex(list -> {
                            list.removeIf(d -> d.annotation(Descriptor.REF_NAME) == null && d.digest().equals(entry.digest()));
                            return list;
                        });
                        System.out.println("Untagged: " + entry.digest());
                    }
                }
            } catch (SkiffException e) {
                failures.add(e.getMessage());
                if (e.exitCode() != ExitCode.IMAGE) code = e.exitCode();
            }
        }
        Gc.Result r;
        try {
            r = Gc.collect(store, Gc.Options.blobsAndCaches(PruneCommand.cacheDirs(store)));
        } catch (java.io.IOException e) {
            throw new SkiffException(ExitCode.STORAGE, "names removed, but deleting unused blobs in " + store.storage() + " failed: " + e
                    + " (check permissions, then run 'skiff prune')");
        }
        for (var d : r.blobs()) System.out.println("Deleted: " + d);
        if (!r.blobs().isEmpty() || !r.caches().isEmpty()) System.out.println(r.summary());
        System.out.flush();
        if (!failures.isEmpty()) throw new SkiffException(code, String.join("; ", failures) + " in the store " + store.storage() + " (see 'skiff images')");
        return 0;
    }
}
