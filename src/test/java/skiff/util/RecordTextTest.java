package skiff.util;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Records as strings and back: equal records (nulls stay null), and text of another shape refused. */
class RecordTextTest {
    record Inner(String s, Boolean b, Integer i, boolean flag, long n) {}

    record Outer(List<Inner> items, Map<String, Inner> byName, Path where, List<String> none, String empty, Inner missing) {
        /** An accessor that defaults, as SiteConfig's do: the text must keep the null, not the default. */
        public List<String> none() {
            return none == null ? List.of("default") : none;
        }
    }

    @Test
    void aTreeOfRecordsReadsBackEqualWithItsNullsAndOrder() {
        Map<String, Inner> m = new LinkedHashMap<>();
        m.put("z", new Inner("line1\nline2", null, -3, true, 1L << 40));
        m.put("a", null);
        Outer o = new Outer(List.of(new Inner("", false, 0, false, 0)), m, Path.of("/etc/skiff"), null, "", null);
        List<String> text = new ArrayList<>();
        RecordText.write(o, text);
        Outer back = (Outer) RecordText.read(text.iterator(), Outer.class);
        assertEquals(o, back);
        assertEquals(List.of("z", "a"), List.copyOf(back.byName().keySet()));
        assertEquals(List.of("default"), back.none());
    }

    @Test
    void textOfAnotherShapeIsRefused() {
        List<String> text = new ArrayList<>();
        RecordText.write(new Inner("x", true, 1, true, 2), text);
        assertThrows(IllegalArgumentException.class, () -> RecordText.read(text.iterator(), Outer.class));
        List<String> wrongTag = new ArrayList<>(text);
        wrongTag.set(1, "i7");
        assertThrows(IllegalArgumentException.class, () -> RecordText.read(wrongTag.iterator(), Inner.class));
        assertThrows(java.util.NoSuchElementException.class, () -> RecordText.read(text.subList(0, 3).iterator(), Inner.class));
        assertFalse(text.isEmpty());
    }
}
