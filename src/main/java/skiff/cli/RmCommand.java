package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.Containers;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "rm", mixinStandardHelpOptions = true, description = {"Remove persistent containers and their files; a running one only with --force.",
        "Every container named is removed even when some are unknown; then the exit status is 3."})
public final class RmCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-f", "--force"}, description = "Also remove running containers, killing their processes first.")
    boolean force;

    @Parameters(arity = "1..*", paramLabel = "NAME", description = "Containers to remove.")
    List<String> names;

    @Override
    public Integer call() {
        ExitCode worst = ExitCode.OK;
        for (String n : names) {
            try {
                try {
                    Containers.open(main.storageDir()).remove(n, force);
                } catch (java.io.IOException e) {
                    throw skiff.container.IoErrors.storage("cannot remove " + n, e);
                }
                System.out.println(n);
            } catch (SkiffException e) {
                System.err.println("skiff: " + e.getMessage());
                if (worst == ExitCode.OK || e.exitCode() != ExitCode.IMAGE) worst = e.exitCode();
            }
        }
        System.err.flush();
        return worst.code;
    }
}
