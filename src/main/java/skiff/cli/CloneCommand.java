package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.Containers;

import java.util.concurrent.Callable;

@Command(name = "clone", description = {"Copy a persistent container, with the changes made in it so far.",
        "Prints the new container's name (generated when DST is absent)."})
public final class CloneCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "SRC")
    String src;

    @Parameters(index = "1", arity = "0..1", paramLabel = "DST")
    String dst;

    @Override
    public Integer call() throws Exception {
        System.out.println(Containers.clone(main.storageDir(), src, dst).name());
        return 0;
    }
}
