package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.Containers;

import java.util.concurrent.Callable;

@Command(name = "rename", mixinStandardHelpOptions = true, description = "Rename a persistent container.")
public final class RenameCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "OLD")
    String from;

    @Parameters(index = "1", paramLabel = "NEW")
    String to;

    @Override
    public Integer call() {
        try {
            return doCall();
        } catch (java.io.IOException e) {
            throw skiff.container.IoErrors.storage("cannot rename " + from, e);
        }
    }

    private Integer doCall() throws java.io.IOException {
        Containers.open(main.storageDir()).rename(from, to);
        return 0;
    }
}
