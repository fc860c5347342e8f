package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.reference.Reference;
import skiff.store.DockerArchive;
import skiff.store.Store;
import skiff.store.StoredImage;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "save", mixinStandardHelpOptions = true,
        description = {"Write images to a docker-archive tarball, as 'docker save' does ('docker load', 'skopeo copy docker-archive:' and 'skiff load' read it).",
                "Layers are written uncompressed and checked against the config's diff_ids."})
public final class SaveCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE",
            description = "Write to FILE (atomically: it appears complete or not at all); '-' or none for standard output.")
    String output;

    @Parameters(arity = "1..*", paramLabel = "REF", description = "Image name or id.")
    List<String> refs;

    @Override
    public Integer call() throws Exception {
        Store store = main.store();
        // One archive entry per image; every name asked for becomes one of its RepoTags.
        Map<String, StoredImage> byManifest = new LinkedHashMap<>();
        Map<String, List<String>> tags = new LinkedHashMap<>();
        for (String ref : refs) {
            StoredImage i = StoredImage.require(store, ref).getFirst();
            String key = i.manifestDigest().toString();
            byManifest.putIfAbsent(key, i);
            List<String> t = tags.computeIfAbsent(key, k -> new ArrayList<>());
            // Asked for by name: save that name. Asked for by id: save every name of the image.
            List<StoredImage> named = isName(store, ref, i) ? List.of(i) : StoredImage.find(store, ref);
            for (StoredImage n : named) {
                n.reference().map(DockerArchive::repoTag).filter(s -> !t.contains(s)).ifPresent(t::add);
            }
        }
        List<DockerArchive.Item> items = new ArrayList<>();
        byManifest.forEach((k, i) -> items.add(new DockerArchive.Item(i, tags.get(k))));
        // Shared gc lock: a concurrent rmi or prune waits instead of deleting blobs being written out.
        try (var gc = store.gcShared()) {
            write(store, items);
        } catch (java.io.IOException e) {
            throw new SkiffException(ExitCode.STORAGE, "cannot save to " + (output == null ? "standard output" : output) + ": " + e.getMessage());
        }
        return 0;
    }

    private void write(Store store, List<DockerArchive.Item> items) throws java.io.IOException {
        if (output == null || output.equals("-")) {
            if (System.console() != null && System.console().isTerminal())
                throw new SkiffException(ExitCode.USAGE, "refusing to write a tar archive to a terminal: use -o FILE or redirect standard output");
            OutputStream out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16);
            DockerArchive.write(store, items, out);
            out.flush();
        } else {
            Path target = Path.of(output).toAbsolutePath();
            try {
                AtomicFiles.write(target, out -> {
                    BufferedOutputStream b = new BufferedOutputStream(out, 1 << 16);
                    DockerArchive.write(store, items, b);
                    b.flush();
                });
            } catch (java.nio.file.AccessDeniedException | java.nio.file.NoSuchFileException e) {
                throw new SkiffException(ExitCode.STORAGE, "cannot write " + target + ": " + e.getMessage() + " (check the directory exists and is writable)");
            }
        }
    }

    private static boolean isName(Store store, String ref, StoredImage i) {
        try {
            return i.name() != null && i.name().equals(Reference.parse(ref).toString());
        } catch (SkiffException e) {
            return false;
        }
    }
}
