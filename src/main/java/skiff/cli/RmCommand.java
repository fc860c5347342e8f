package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.concurrent.Callable;

// PLACEHOLDER: replaced by the work on the issue that owns 'rm'.
@Command(name = "rm", description = "(not implemented yet)", hidden = true)
public final class RmCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Override
    public Integer call() {
        throw new SkiffException(ExitCode.USAGE, "'skiff rm' is not implemented yet");
    }
}
