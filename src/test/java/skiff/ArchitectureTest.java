package skiff;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data flows one way: reference → registry → store → layer → squashfs/rootfs → spec → policy → engine → cli.
 * A package may use only packages of a lower rank; equal ranks do not exist, so cycles cannot either.
 * Raw FFM (java.lang.foreign) lives in skiff.sys, below every stage: stages call its wrappers, never the linker.
 */
class ArchitectureTest {
    static final Map<String, Integer> RANK = Map.ofEntries(
            Map.entry("sys", -1),
            Map.entry("util", 0),
            Map.entry("image", 1),
            Map.entry("reference", 2),
            Map.entry("registry", 3),
            Map.entry("store", 4),
            Map.entry("layer", 5),
            Map.entry("squashfs", 6),
            Map.entry("rootfs", 7),
            Map.entry("container", 8),
            Map.entry("spec", 9),
            Map.entry("policy", 10),
            Map.entry("engine", 11),
            Map.entry("cli", 12));

    static final Pattern PACKAGE = Pattern.compile("^package skiff\\.([a-z.]+);", Pattern.MULTILINE);
    static final Pattern USE = Pattern.compile("\\bskiff\\.([a-z][a-z0-9]*(?:\\.[a-z][a-z0-9]*)*)\\.[A-Z*]");

    static String stage(String pkg) {
        int dot = pkg.indexOf('.');
        return dot < 0 ? pkg : pkg.substring(0, dot);
    }

    static List<Path> sources() throws IOException {
        try (Stream<Path> s = Files.walk(Path.of("src/main/java/skiff"))) {
            return s.filter(p -> p.toString().endsWith(".java")).toList();
        }
    }

    @Test
    void everyPackageIsAKnownStage() throws IOException {
        List<String> unknown = new ArrayList<>();
        for (Path p : sources()) {
            Matcher m = PACKAGE.matcher(Files.readString(p));
            assertTrue(m.find(), p + " has no skiff package");
            if (!RANK.containsKey(stage(m.group(1)))) unknown.add(p + " (" + m.group(1) + ")");
        }
        assertEquals(List.of(), unknown, "packages outside the data flow; add them to RANK deliberately");
    }

    @Test
    void dependenciesPointOnlyUpstream() throws IOException {
        List<String> violations = new ArrayList<>();
        for (Path p : sources()) {
            String src = Files.readString(p);
            Matcher pm = PACKAGE.matcher(src);
            if (!pm.find()) continue;
            String own = stage(pm.group(1));
            Matcher u = USE.matcher(src);
            while (u.find()) {
                String used = stage(u.group(1));
                if (used.equals(own) || !RANK.containsKey(used)) continue;
                if (RANK.get(used) >= RANK.get(own))
                    violations.add(p + ": " + own + " uses " + used);
            }
        }
        assertEquals(List.of(), violations);
    }

    @Test
    void foreignFunctionsOnlyInSys() throws IOException {
        List<String> violations = new ArrayList<>();
        for (Path p : sources()) {
            String src = Files.readString(p);
            Matcher pm = PACKAGE.matcher(src);
            if (pm.find() && !stage(pm.group(1)).equals("sys") && src.contains("java.lang.foreign"))
                violations.add(p.toString());
        }
        assertEquals(List.of(), violations);
    }

    @Test
    void theRuleDetectsABackwardsDependency() {
        // Guards the guard: the pattern must see a qualified use and the rank table must reject it.
        Matcher u = USE.matcher("import skiff.engine.Launcher;");
        assertTrue(u.find());
        assertTrue(RANK.get(stage(u.group(1))) > RANK.get("store"));
    }
}
