package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.Containers;

import java.util.concurrent.Callable;

@Command(name = "clone", mixinStandardHelpOptions = true, description = {"Copy a persistent container, with the changes made in it so far.",
        "Prints the new container's name (generated when DST is absent)."})
public final class CloneCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "SRC")
    String src;

    @Parameters(index = "1", arity = "0..1", paramLabel = "DST")
    String dst;

    @Override
    public Integer call() {
        try {
            return doCall();
        } catch (java.io.IOException e) {
            throw skiff.container.IoErrors.storage("cannot clone " + src, e);
        }
    }

    private Integer doCall() throws java.io.IOException {
        System.out.println(Containers.open(main.storageDir()).clone(src, dst).name());
        return 0;
    }
}
