package skiff.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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
    void unknownCommandIsAUsageError() {
        assertEquals(2, Main.run("bogus"));
    }
}
