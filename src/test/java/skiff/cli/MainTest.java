package skiff.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Only the invoked command's model is built, except where help or completion must see them all. */
class MainTest {
    @Test
    void findsTheInvokedCommandPastGlobalOptions() {
        assertEquals(RunCommand.class, Main.soleCommand(new String[] {"--storage", "/s", "--debug", "run", "img", "--help"}));
        assertEquals(ImagesCommand.class, Main.soleCommand(new String[] {"--storage=/s", "ls"}));
        assertEquals(PullCommand.class, Main.soleCommand(new String[] {"pull", "-q", "x"}));
    }

    @Test
    void registersEverythingForHelpVersionCompletionAndUnknownNames() {
        assertNull(Main.soleCommand(new String[] {}));
        assertNull(Main.soleCommand(new String[] {"--help"}));
        assertNull(Main.soleCommand(new String[] {"-V"}));
        assertNull(Main.soleCommand(new String[] {"completion"}));
        assertNull(Main.soleCommand(new String[] {"bogus"}));
    }

    @Test
    void runStopsParsingAtTheImage() {
        for (String[] args : new String[][] {{"run", "img", "ls", "-l"}, {"--debug", "run", "-e", "A=1", "img", "ls", "-l"}}) {
            var parsed = Main.commandLine(new Main(), args).parseArgs(args);
            RunCommand run = (RunCommand) parsed.subcommand().commandSpec().userObject();
            assertEquals("img", run.image);
            assertEquals(java.util.List.of("ls", "-l"), run.command);
        }
        // Options after the image belong to the payload, but before it they are run's own: help is answered.
        var help = Main.commandLine(new Main(), new String[] {"run", "--help", "img", "ls"}).parseArgs("run", "--help", "img", "ls");
        assertTrue(help.subcommand().isUsageHelpRequested());
        assertEquals("img", ((RunCommand) help.subcommand().commandSpec().userObject()).image);
    }

    @Test
    void everyCommandAnswersHelp() {
        java.io.PrintStream out = System.out;
        try {
            for (Class<?> c : Main.COMMANDS) {
                String name = c.getAnnotation(picocli.CommandLine.Command.class).name();
                java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
                System.setOut(new java.io.PrintStream(buf, true));
                assertEquals(0, Main.run(name, "--help"), name + " --help");
                assertTrue(buf.toString().startsWith("Usage: skiff " + name), name + ": " + buf);
            }
            System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
            assertEquals(0, Main.run("config", "show", "--help"));
            assertEquals(0, Main.run("run", "-h"));
        } finally {
            System.setOut(out);
        }
    }

    @Test
    void unknownCommandIsAUsageError() {
        assertEquals(2, Main.run("bogus"));
    }
}
