package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.Container;
import skiff.container.Containers;
import skiff.container.RootfsExport;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "export", mixinStandardHelpOptions = true, description = {"Write a persistent container's root filesystem as a tar archive",
        "(as 'docker export': 'docker import' and 'skopeo copy tarball:FILE ...' read it). Files owned by you are",
        "recorded as owned by root (uid/gid 0), as the container sees them."})
public final class ExportCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The tar file to write (atomically), or - for standard output.")
    String output;

    @Parameters(index = "0", paramLabel = "CONTAINER")
    String name;

    @Override
    public Integer call() {
        try {
            return doCall();
        } catch (java.io.IOException e) {
            throw skiff.container.IoErrors.storage("cannot export " + name + " to " + output, e);
        }
    }

    private Integer doCall() throws java.io.IOException {
        Container c = Containers.open(main.storageDir()).get(name);
        RootfsExport.Skipped skipped;
        if (output.equals("-")) {
            // Since Java 22 System.console() exists even when redirected; isTerminal() says whether it is a terminal.
            if (System.console() != null && System.console().isTerminal())
                throw new SkiffException(ExitCode.USAGE, "refusing to write a tar archive to a terminal: redirect standard output or use -o FILE");
            OutputStream out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16);
            skipped = RootfsExport.write(c.rootfs(), out);
            out.flush();
        } else {
            RootfsExport.Skipped[] n = {null};
            // 0644 as tar or cp would leave it (the temporary file would otherwise keep its private 0600).
            AtomicFiles.write(Path.of(output), out -> {
                OutputStream b = new BufferedOutputStream(out, 1 << 16);
                n[0] = RootfsExport.write(c.rootfs(), b);
                b.flush();
            }, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            skipped = n[0];
        }
        if (skipped.warning() != null) Warnings.print(skipped.warning());
        return 0;
    }
}
