package skiff.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The picocli-free parser of 'skiff run' accepts every option RunCommand declares and builds what picocli builds. */
class RunFastPathTest {

    private static RunCommand picocli(String... args) {
        var parsed = Main.commandLine(new Main(), args).parseArgs(args);
        return (RunCommand) parsed.subcommand().commandSpec().userObject();
    }

    private static Main picocliMain(String... args) {
        var parsed = Main.commandLine(new Main(), args).parseArgs(args);
        return (Main) parsed.commandSpec().userObject();
    }

    /** Every field a run depends on, as one comparable string. */
    private static String state(RunCommand c) {
        return String.join("|", String.valueOf(c.env), String.valueOf(c.envFiles), String.valueOf(c.cleanEnv),
                String.valueOf(c.entrypoint), String.valueOf(c.workdir), String.valueOf(c.volumes), String.valueOf(c.noHome), String.valueOf(c.noCwd),
                String.valueOf(c.hostAuth), String.valueOf(c.fakeroot), String.valueOf(c.writableTmpfs), String.valueOf(c.pid),
                String.valueOf(c.rm), String.valueOf(c.name), String.valueOf(c.dockerCompat), String.valueOf(c.rootfsFormat), String.valueOf(c.quiet), String.valueOf(c.engine),
                String.valueOf(c.policyOptions.gpus), String.valueOf(c.policyOptions.devices),
                String.valueOf(c.policyOptions.modules), String.valueOf(c.policyOptions.mpi), String.valueOf(c.policyOptions.noMpi),
                String.valueOf(c.image), String.valueOf(c.command),
                String.valueOf(c.join), String.valueOf(c.joinSize), String.valueOf(c.noJoin));
    }

    private static void same(String... args) {
        RunCommand fast = RunFastPath.parse(args);
        assertNotNull(fast, "fast path refused " + List.of(args));
        assertEquals(state(picocli(args)), state(fast), "for " + List.of(args));
        Main m = picocliMain(args);
        assertEquals(String.valueOf(m.storageFlag), String.valueOf(fast.main.storageFlag));
        assertEquals(m.debug, fast.main.debug);
    }

    @Test
    void everyDeclaredOptionNameParsesAsPicocliParsesIt() {
        var spec = CommandLine.Model.CommandSpec.forAnnotatedObject(new RunCommand());
        int names = 0;
        for (OptionSpec o : spec.options()) {
            for (String n : o.names()) {
                if (n.equals("-h") || n.equals("--help") || n.equals("-V") || n.equals("--version")) continue;
                names++;
                if (o.arity().max() == 0) {
                    same("run", n, "img", "cmd");
                } else {
                    boolean number = o.type() == Integer.class || o.type() == int.class;
                    same("run", n, number ? "1" : "v1", "img");
                    same("run", n, number ? "1" : "v1", n, number ? "2" : "v2", "img", "cmd", "-x");
                    if (n.startsWith("--")) same("run", n + (number ? "=3" : "=v3"), "img");
                }
            }
        }
        // RunCommand's options and PolicyOptions' mixin (a name missing here would be a silently ignored option)
        assertEquals(35, names, "option names declared by skiff run: update RunFastPath and this count together");
    }

    @Test
    void realisticCommandLinesMatchPicocli() {
        same("--storage", "/s", "--debug", "run", "-e", "A=1", "-e", "HOME", "-v", "/tmp:/data:ro", "--bind", "/x",
                "-w", "/etc", "--fakeroot", "--writable-tmpfs", "--gpus", "all", "--device", "/dev/null", "--module", "ib", "--mpi",
                "--rootfs-format=dir", "--env-file", "f.env", "img", "sh", "-c", "ls -l");
        same("--storage=/s", "run", "img");
        same("run", "-i", "-t", "--rm", "ubuntu:24.04", "bash");
        same("run", "img", "--pid", "--rm");
        same("run", "--join", "g", "--join-size", "8", "img", "./app");
        same("run", "--no-join", "img", "./app");
        same("run", "--engine", "proot", "--fakeroot", "img", "id");
    }

    @Test
    void leavesEverythingElseToPicocli() {
        assertNull(RunFastPath.parse(new String[] {"run", "--help", "img"}));
        assertNull(RunFastPath.parse(new String[] {"run", "-h"}));
        assertNull(RunFastPath.parse(new String[] {"run", "--bogus", "img"}));
        assertNull(RunFastPath.parse(new String[] {"run", "-it", "img"}));       // clustered short options
        assertNull(RunFastPath.parse(new String[] {"run", "-eA=1", "img"}));     // attached value
        assertNull(RunFastPath.parse(new String[] {"run", "--rm=true", "img"}));
        assertNull(RunFastPath.parse(new String[] {"run", "-e"}));
        assertNull(RunFastPath.parse(new String[] {"run", "--", "img"}));
        assertNull(RunFastPath.parse(new String[] {"run"}));
        assertNull(RunFastPath.parse(new String[] {"images"}));
        assertNull(RunFastPath.parse(new String[] {"--help"}));
        assertNull(RunFastPath.parse(new String[] {}));
        assertEquals(Path.of("/s"), RunFastPath.parse(new String[] {"--storage", "/s", "run", "i"}).main.storageFlag);
    }

    @Test
    void picocliStillExplainsWhatTheFastPathDeclines() {
        assertEquals(2, Main.run("run", "--bogus", "img"));
        assertEquals(2, Main.run("run"));
    }

    /**
     * bin/skiff's warm path decides which command lines WarmRun gets, and WarmRun parses them with this parser alone
     * (it runs in the namespaces: picocli could not take over): every option the shell lets through must parse.
     */
    @Test
    void everyOptionBinSkiffSendsToTheWarmPathParsesHere() throws java.io.IOException {
        String sh = java.nio.file.Files.readString(Path.of("bin/skiff"));
        String flags = line(sh, "--cleanenv|"), valued = line(sh, "-e|--env|");
        int n = 0;
        for (String f : flags.split("\\|")) {
            assertNotNull(RunFastPath.parse(new String[] {"run", f, "img", "true"}), f);
            n++;
        }
        for (String v : valued.split("\\|")) {
            assertNotNull(RunFastPath.parse(new String[] {"run", v, "x=/y", "img", "true"}), v);
            if (v.startsWith("--")) assertNotNull(RunFastPath.parse(new String[] {"run", v + "=x=/y", "img", "true"}), v);
            n++;
        }
        assertNotNull(RunFastPath.parse(new String[] {"--debug", "--storage", "/s", "run", "--rootfs-format", "dir", "img"}));
        assertNotNull(RunFastPath.parse(new String[] {"--storage=/s", "run", "--rootfs-format=squashfs", "img"}));
        assertEquals(true, n > 20, "the option lists were not found in bin/skiff");
    }

    /** The case pattern of bin/skiff's warm_check that starts with {@code start}, without its closing parenthesis. */
    private static String line(String sh, String start) {
        for (String l : sh.lines().toList()) {
            String t = l.strip();
            if (t.startsWith(start)) return t.substring(0, t.indexOf(')'));
        }
        throw new AssertionError("no case pattern " + start + " in bin/skiff");
    }
}
