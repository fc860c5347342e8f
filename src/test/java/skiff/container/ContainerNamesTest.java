package skiff.container;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContainerNamesTest {
    @Test
    void namesThatCannotEscapeOrHideAreAccepted() {
        for (String ok : new String[] {"a", "box", "My_box-1.2", "0", "x".repeat(128)}) assertTrue(ContainerNames.isValid(ok), ok);
        for (String bad : new String[] {"", ".", "..", ".hidden", "-x", "_x", "a/b", "../x", "a b", "é", "aé", "a\u0660", "a\n", "x".repeat(129)})
            assertFalse(ContainerNames.isValid(bad), bad);
        var e = assertThrows(skiff.util.SkiffException.class, () -> ContainerNames.check("a/b"));
        assertEquals(skiff.util.ExitCode.USAGE, e.exitCode());
    }

    @Test
    void generatedNamesAvoidTakenOnes() {
        Set<String> taken = new java.util.HashSet<>();
        for (int i = 0; i < 200; i++) {
            String n = ContainerNames.generate(taken::contains);
            assertTrue(ContainerNames.isValid(n), n);
            assertTrue(taken.add(n), "generated a taken name " + n);
        }
        assertNotEquals(ContainerNames.newId(), ContainerNames.newId());
        assertTrue(ContainerNames.newId().matches("[0-9a-f]{64}"));
    }
}
