package skiff.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;

/**
 * {@code skiff run} without picocli. picocli 4.7 is compiled for Java 5, so the AOT cache cannot hold its ~170
 * classes, and loading them and reflecting over the annotations cost ~0.1 s of every start: on every MPI rank.
 * This parses exactly the options {@link RunCommand} and {@link PolicyOptions} declare (RunFastPathTest checks
 * every declared name against picocli's own parse); anything else (help, an unknown or clustered option, a
 * missing value, {@code --}) is not handled here and goes through picocli, which explains what is wrong.
 */
final class RunFastPath {
    private RunFastPath() {}

    /** The exit status of the run, or null when this command line is not one the fast path handles. */
    static Integer run(String[] args) {
        RunCommand cmd = parse(args);
        if (cmd == null) return null;
        Trace.mark("run: options parsed (fast path)");
        try {
            return cmd.call();
        } catch (Exception e) {
            return Main.handle(e, cmd.main.debug, new PrintWriter(System.err, true));
        }
    }

    /** The command as picocli would build it, or null (see the class comment). */
    static RunCommand parse(String[] args) {
        Main main = new Main();
        int i = 0;
        for (; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--debug")) main.debug = true;
            else if (a.equals("--storage") && i + 1 < args.length) main.storageFlag = Path.of(args[++i]);
            else if (a.startsWith("--storage=")) main.storageFlag = Path.of(a.substring("--storage=".length()));
            else break;
        }
        if (i >= args.length || !args[i].equals("run")) return null;
        RunCommand c = new RunCommand();
        c.main = main;
        c.policyOptions = new PolicyOptions();
        for (i++; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("-") || a.equals("-")) break;
            String name = a, value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            if (flag(c, name)) {
                if (value != null) return null;
                continue;
            }
            if (value == null) {
                if (i + 1 >= args.length) return null;
                value = args[++i];
            }
            if (!valued(c, name, value)) return null;
        }
        if (i >= args.length) return null;
        c.image = args[i];
        c.command = new ArrayList<>(Arrays.asList(args).subList(i + 1, args.length));
        return c;
    }

    private static boolean flag(RunCommand c, String name) {
        switch (name) {
            case "--cleanenv" -> c.cleanEnv = true;
            case "--no-home" -> c.noHome = true;
            case "--no-cwd" -> c.noCwd = true;
            case "--hostauth" -> c.hostAuth = true;
            case "--fakeroot" -> c.fakeroot = true;
            case "--writable-tmpfs" -> c.writableTmpfs = true;
            case "--pid" -> c.pid = true;
            case "--rm" -> c.rm = true;
            case "-q", "--quiet" -> c.quiet = true;
            case "--no-join" -> c.noJoin = true;
            case "-i", "--interactive", "-t", "--tty" -> c.dockerCompat = true;
            case "--mpi" -> c.policyOptions.mpi = true;
            case "--no-mpi" -> c.policyOptions.noMpi = true;
            default -> {
                return false;
            }
        }
        return true;
    }

    private static boolean valued(RunCommand c, String name, String v) {
        switch (name) {
            case "-e", "--env" -> c.env.add(v);
            case "--env-file" -> c.envFiles.add(Path.of(v));
            case "--entrypoint" -> c.entrypoint = v;
            case "-w", "--workdir" -> c.workdir = v;
            case "-v", "--volume", "-B", "--bind" -> c.volumes.add(v);
            case "--name" -> c.name = v;
            case "--join" -> c.join = v;
            case "--join-size" -> {
                try {
                    c.joinSize = Integer.parseInt(v);
                } catch (NumberFormatException e) {
                    return false; // picocli explains
                }
            }
            case "--rootfs-format" -> c.rootfsFormat = v;
            case "--engine" -> c.engine = v;
            case "--gpus" -> c.policyOptions.gpus = v;
            case "--device" -> c.policyOptions.devices.add(v);
            case "--module" -> c.policyOptions.modules.add(v);
            default -> {
                return false;
            }
        }
        return true;
    }
}
