package skiff.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import skiff.store.Store;
import skiff.util.Dirs;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;

/** The {@code skiff} command: global options, and the map from exceptions to one-line errors and exit codes. */
@Command(name = "skiff",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "User-mode containers for HPC clusters.",
        subcommands = {
                PullCommand.class, ImagesCommand.class, InspectCommand.class, TagCommand.class,
                RmiCommand.class, PruneCommand.class, LoginCommand.class, LogoutCommand.class,
                SaveCommand.class, LoadCommand.class,
                ConvertCommand.class,
                RunCommand.class, CreateCommand.class, PsCommand.class, RmCommand.class, CloneCommand.class,
                RenameCommand.class, ExportCommand.class, ImportCommand.class, DoctorCommand.class,
                ModulesCommand.class, ConfigCommand.class,
                CompletionCommand.class})
public final class Main {

    @Option(names = "--storage", paramLabel = "DIR",
            description = "Image store (default: $SKIFF_STORAGE, else $XDG_DATA_HOME/skiff, else ~/.local/share/skiff).")
    Path storageFlag;

    @Option(names = "--debug", description = "Print stack traces and diagnostic detail.")
    boolean debug;

    /** The process environment; a field so tests and the engine see one consistent copy. */
    final Map<String, String> env = System.getenv();

    private Store store;

    public Path storageDir() {
        return Dirs.storage(storageFlag, env);
    }

    public Store store() {
        if (store == null) store = Store.open(storageDir());
        return store;
    }

    public boolean debug() {
        return debug;
    }

    public Map<String, String> env() {
        return env;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status (no System.exit: tests call this). */
    public static int run(String... args) {
        Main main = new Main();
        CommandLine cl = new CommandLine(main);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> handle(ex, main.debug, cmd.getErr()));
        cl.setParameterExceptionHandler((ex, parsed) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("skiff: " + ex.getMessage() + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return ExitCode.USAGE.code;
        });
        return cl.execute(args);
    }

    static int handle(Exception ex, boolean debug, PrintWriter err) {
        if (debug) ex.printStackTrace(err);
        if (ex instanceof SkiffException se) {
            err.println("skiff: " + se.getMessage());
            err.flush();
            return se.exitCode().code;
        }
        if (ex instanceof CommandLine.ParameterException pe) {
            err.println("skiff: " + pe.getMessage());
            err.flush();
            return ExitCode.USAGE.code;
        }
        err.println("skiff: internal error: " + ex + (debug ? "" : " (re-run with --debug for details and report it)"));
        err.flush();
        return ExitCode.INTERNAL.code;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"skiff " + (v != null ? v : "dev")};
        }
    }
}
