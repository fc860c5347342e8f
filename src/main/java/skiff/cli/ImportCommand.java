package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.ContainerMetadata;
import skiff.container.Containers;
import skiff.container.RootfsImport;
import skiff.reference.Reference;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "import", mixinStandardHelpOptions = true, description = {"Create a one-layer image from a root filesystem tarball (plain, gzip, zstd or bzip2;",
        "e.g. from 'skiff export' or 'docker export'), tagged REF; with --to-container, create a persistent",
        "container from it directly. Unsafe entries (absolute paths, '..', paths through symlinks) are refused;",
        "device nodes, FIFOs and whiteouts are left out."})
public final class ImportCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--to-container", description = "Create a persistent container from the tarball (REF then optional).")
    boolean toContainer;

    @Option(names = "--name", paramLabel = "NAME", description = "With --to-container: the container's name (generated when absent).")
    String name;

    @Option(names = {"-q", "--quiet"}, description = "With --to-container: no conversion progress on the terminal.")
    boolean quiet;

    @Parameters(index = "0", paramLabel = "FILE", description = "The tarball, or - for standard input.")
    String file;

    @Parameters(index = "1", arity = "0..1", paramLabel = "REF", description = "The image name to tag it with.")
    String ref;

    @Override
    public Integer call() {
        try {
            return doCall();
        } catch (java.io.IOException e) {
            throw skiff.container.IoErrors.storage("cannot import " + file, e);
        }
    }

    private Integer doCall() throws java.io.IOException {
        if (ref == null && !toContainer)
            throw new SkiffException(ExitCode.USAGE, "missing REF: 'skiff import FILE REF' (or 'skiff import --to-container [--name NAME] FILE')");
        if (name != null && !toContainer)
            throw new SkiffException(ExitCode.USAGE, "--name only applies with --to-container");
        String refName = ref == null ? null : Reference.parse(ref).toString();
        var store = main.store();
        RootfsImport.Result r;
        try (InputStream in = file.equals("-") ? System.in : Files.newInputStream(Path.of(file))) {
            r = RootfsImport.importImage(store, in, file.equals("-") ? "standard input" : file, refName,
                    skiff.rootfs.ConvertSettings.load(main.env()).limits());
        } catch (NoSuchFileException e) {
            throw new SkiffException(ExitCode.USAGE, "cannot import " + file + ": no such file");
        }
        if (r.skipped() > 0)
            Warnings.print(r.skipped() + " device node(s), FIFO(s) or whiteout(s) left out of the image");
        if (!toContainer) {
            System.out.println(r.manifest());
            return 0;
        }
        ConvertProgress progress = ConvertProgress.install(refName != null ? refName : file, quiet);
        ContainerMetadata template = new ContainerMetadata(null, null, refName == null ? "" : refName, r.manifest(), null, r.config());
        // The layer package's flattener unpacks it, with the same checks and conventions as any pulled image.
        ContainerMetadata m = Containers.open(main.storageDir()).build(name, template, rootfs -> Containers.populateFromImage(
                store, r.manifest(), main.env(), w -> ConvertProgress.warn(progress, w), rootfs));
        System.out.println(m.name());
        return 0;
    }
}
