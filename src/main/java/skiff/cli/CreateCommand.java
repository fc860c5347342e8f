package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.ContainerMetadata;
import skiff.container.Containers;

import java.util.concurrent.Callable;

@Command(name = "create", mixinStandardHelpOptions = true, description = {
        "Create a persistent container: a writable copy of IMAGE's root filesystem that keeps its changes",
        "between runs ('skiff run NAME ...'). Prints the container's name."})
public final class CreateCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--name", paramLabel = "NAME", description = "Name of the container ([a-zA-Z0-9][a-zA-Z0-9_.-]*); generated when absent.")
    String name;

    @Option(names = {"-q", "--quiet"}, description = "No conversion progress on the terminal.")
    boolean quiet;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "An image of the store (pull it first).")
    String image;

    @Override
    public Integer call() {
        try {
            return doCall();
        } catch (java.io.IOException e) {
            throw skiff.container.IoErrors.storage("cannot create the container", e);
        }
    }

    private Integer doCall() throws java.io.IOException {
        ConvertProgress progress = ConvertProgress.install(image, quiet);
        ContainerMetadata m = Containers.open(main.storageDir()).create(main.store(), image, name, main.env(), w -> ConvertProgress.warn(progress, w));
        System.out.println(m.name());
        return 0;
    }
}
