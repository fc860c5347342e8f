package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import skiff.image.MediaTypes;
import skiff.reference.Reference;
import skiff.rootfs.ConvertSettings;
import skiff.rootfs.Rootfs;
import skiff.store.ArchiveLoader;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "load", mixinStandardHelpOptions = true,
        description = {"Load images from a docker-archive ('docker save', 'skopeo copy docker-archive:') or an OCI archive",
                "('skopeo copy oci-archive:'), plain or gzip/zstd-compressed. Names come from the archive's RepoTags or",
                "ref.name annotations; an image without a name is listed as <none> (use 'skiff tag ID NAME')."})
public final class LoadCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-i", "--input"}, paramLabel = "FILE", description = "Read FILE instead of standard input.")
    Path input;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing on success (no conversion display either).")
    boolean quiet;

    @Option(names = "--convert", paramLabel = "squashfs|dir|none",
            description = "Convert each loaded image right away, as pull does (default: [convert] format in config.toml, else squashfs).")
    String convert;

    @Override
    public Integer call() throws Exception {
        Store store = main.store();
        ConvertSettings conversion = PullCommand.conversion(main.env(), convert);
        Path file = input;
        Path spool = null;
        try {
            if (file == null && System.console() != null && System.console().isTerminal())
                throw new SkiffException(ExitCode.USAGE, "no archive given: use -i FILE or pipe one into standard input");
            if (file == null || file.toString().equals("-")) {
                // The archive index needs random access; standard input is spooled to disk, never to memory.
                spool = Files.createTempFile(store.tmpDir(), "load-stdin-", ".tar");
                try (InputStream in = System.in; OutputStream o = Files.newOutputStream(spool)) {
                    in.transferTo(o);
                }
                file = spool;
            } else if (!Files.isRegularFile(file)) {
                throw new SkiffException(ExitCode.STORAGE, "cannot read " + file + ": " + (Files.exists(file) ? "not a regular file" : "no such file"));
            }
            for (ArchiveLoader.Loaded l : ArchiveLoader.load(store, file)) {
                // As after a pull, the image is made runnable at once (with the conversion display); an index (a
                // multi-platform OCI archive) is left to the first run, which picks the platform.
                String type = l.descriptor().mediaType();
                if (MediaTypes.OCI_MANIFEST.equals(type) || MediaTypes.DOCKER_MANIFEST.equals(type)) {
                    ConvertProgress.install(l.names().isEmpty() ? l.configDigest().toString() : l.names().getFirst(), quiet);
                    Rootfs.afterPull(store, l.descriptor().digest(), conversion);
                }
                if (quiet) continue;
                if (l.names().isEmpty()) System.out.println("Loaded image ID: " + l.configDigest());
                for (String n : l.names()) {
                    Reference r = Reference.parse(n);
                    System.out.println("Loaded image: " + r.familiarName() + (r.tag() != null ? ":" + r.tag() : "")
                            + (r.digest() != null ? "@" + r.digest() : ""));
                }
            }
            return 0;
        } catch (java.io.IOException e) {
            throw new SkiffException(ExitCode.STORAGE, "cannot load " + (input == null ? "standard input" : input) + ": " + e
                    + " (check free space and permissions in " + store.storage() + ")");
        } finally {
            if (spool != null) Files.deleteIfExists(spool);
        }
    }
}
