package skiff.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

@Command(name = "completion", mixinStandardHelpOptions = true,
        description = {"Print a bash completion script for skiff.",
                "Use: source <(skiff completion)   or   skiff completion > /etc/bash_completion.d/skiff"})
public final class CompletionCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        CommandLine root = spec.root().commandLine();
        System.out.print(AutoComplete.bash(root.getCommandName(), root));
        System.out.flush();
        return 0;
    }
}
