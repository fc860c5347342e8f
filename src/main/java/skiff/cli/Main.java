package skiff.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import skiff.store.Store;
import skiff.util.Dirs;
import skiff.util.Env;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;

/** The {@code skiff} command: global options, and the map from exceptions to one-line errors and exit codes. */
@Command(name = "skiff",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "User-mode containers for HPC clusters.")
public final class Main {

    /**
     * Every command, in the order help lists them. They are registered in run(), only the invoked one
     * where possible: picocli builds a model for each command it is given, and its classes (compiled for
     * Java 5) cannot come from the AOT cache, so building all 23 cost ~0.2 s on every start, 'skiff run'
     * on each MPI rank included.
     */
    static final java.util.List<Class<?>> COMMANDS = java.util.List.of(
            PullCommand.class, ImagesCommand.class, InspectCommand.class, TagCommand.class,
            RmiCommand.class, PruneCommand.class, LoginCommand.class, LogoutCommand.class,
            SaveCommand.class, LoadCommand.class,
            ConvertCommand.class,
            RunCommand.class, CreateCommand.class, PsCommand.class, RmCommand.class, CloneCommand.class,
            RenameCommand.class, ExportCommand.class, ImportCommand.class, DoctorCommand.class,
            ModulesCommand.class, ConfigCommand.class, GatewayCommand.class,
            CompletionCommand.class);

    @Option(names = "--storage", paramLabel = "DIR",
            description = "Image store (default: $SKIFF_STORAGE, else $XDG_DATA_HOME/skiff, else ~/.local/share/skiff).")
    Path storageFlag;

    @Option(names = "--debug", description = "Print stack traces and diagnostic detail.")
    boolean debug;

    /** The process environment; a field so tests and the engine see one consistent copy. */
    final Map<String, String> env = Env.process();

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
        // First: later, skiff's own files (store locks...) are open too and would pass for inherited ones.
        skiff.engine.InheritedFds.capture();
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status (no System.exit: tests call this). */
    public static int run(String... args) {
        Integer fast = RunFastPath.run(args);
        if (fast != null) return fast;
        Main main = new Main();
        CommandLine cl = commandLine(main, args);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> handle(ex, main.debug, cmd.getErr()));
        cl.setParameterExceptionHandler((ex, parsed) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("skiff: " + ex.getMessage() + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return ExitCode.USAGE.code;
        });
        return cl.execute(args);
    }

    /** The picocli model for {@code args}: the root and the invoked command (or all of them). */
    static CommandLine commandLine(Main main, String[] args) {
        CommandLine cl = new CommandLine(main);
        Class<?> only = soleCommand(args);
        for (Class<?> c : COMMANDS) {
            if (only == null || c == only) cl.addSubcommand(c.getAnnotation(Command.class).name(), c);
        }
        // After addSubcommand, which hands the root's parser settings down: 'skiff run img ls -l' passes
        // -l to ls, as docker run does.
        // The last of a repeated single-valued option wins, as in docker run ('-i -t' set one field twice).
        cl.setOverwrittenOptionsAllowed(true);
        CommandLine run = cl.getSubcommands().get("run");
        if (run != null) run.setStopAtPositional(true);
        return cl;
    }

    /**
     * The command this command line invokes, when the other commands' models are not needed: not for
     * help, version, completion (which describes every command) or an unknown name (whose error lists them).
     */
    static Class<?> soleCommand(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--storage")) {
                i++;
                continue;
            }
            if (a.startsWith("-")) {
                if (a.equals("--debug") || a.startsWith("--storage=")) continue;
                return null;
            }
            if (a.equals("completion")) return null;
            for (Class<?> c : COMMANDS) {
                Command cmd = c.getAnnotation(Command.class);
                if (cmd.name().equals(a) || java.util.Arrays.asList(cmd.aliases()).contains(a)) return c;
            }
            return null;
        }
        return null;
    }

    static int handle(Exception ex, boolean debug, PrintWriter err) {
        if (debug) ex.printStackTrace(err);
        if (ex instanceof SkiffException se) {
            if (se.alreadyReported()) return se.exitCode().code;
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
