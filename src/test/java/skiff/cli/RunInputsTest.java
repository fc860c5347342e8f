package skiff.cli;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RunInputsTest {
    private static Object read(String s) {
        return new RunInputs.Reader(s).document();
    }

    @Test
    void readsNestedDocumentsWithEscapes() {
        Object v = read(" {\"a\": [1, -2.5e3, true, false, null, \"x\\\"y\\u00e9\\n\"], \"b\": {}, \"a2\": []} ");
        assertEquals(Map.of("a", java.util.Arrays.asList(1.0, -2500.0, true, false, null, "x\"yé\n"), "b", Map.of(), "a2", List.of()), v);
    }

    @Test
    void refusesMalformedInput() {
        for (String bad : List.of("", "{", "{\"a\" 1}", "[1,]x", "{\"a\":1} 2", "\"a\u0001\"", "[tru]", "{1:2}", "\"\\q\""))
            assertThrows(IllegalArgumentException.class, () -> read(bad), bad);
    }

    @Test
    void refusesDeepNesting() {
        assertThrows(IllegalArgumentException.class, () -> read("[".repeat(100) + "]".repeat(100)));
    }

    @Test
    void lastDuplicateKeyWinsAsInJackson() {
        assertEquals(Map.of("a", "2"), read("{\"a\":\"1\",\"a\":\"2\"}"));
        assertNull(((Map<?, ?>) read("{\"a\":null}")).get("a"));
    }
}
