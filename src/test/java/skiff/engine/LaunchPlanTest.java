package skiff.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LaunchPlanTest {
    @Test
    void roundTripsEveryFieldIncludingEmptyAndOddStrings(@TempDir Path tmp) throws Exception {
        LaunchPlan p = new LaunchPlan("/r oot", true, false, "/run/1", true,
                List.of(new LaunchPlan.PlanMount("bind", "/a\nb", "/c", true, false, true, true, false, true, true),
                        new LaunchPlan.PlanMount("proc", null, "/proc", false, true, false, false, true, false, false)),
                List.of("sh", "-c", "", "é ü"), List.of("A=1", "B="), "/w");
        p.write(tmp.resolve("plan"));
        assertEquals(p, LaunchPlan.read(tmp.resolve("plan")));
    }

    @Test
    void roundTripsHooksAndTheirState(@TempDir Path tmp) throws Exception {
        LaunchPlan.PlanHooks h = new LaunchPlan.PlanHooks(List.of(
                new LaunchPlan.PlanHook("createRuntime", "/h/one", List.of("one", "a b", ""), List.of("X=1"), 7),
                new LaunchPlan.PlanHook("poststop", "/h/two", List.of(), List.of(), 0)),
                "skiff-42", "/images/x", List.of("k", "v\"q", "empty", ""));
        LaunchPlan p = new LaunchPlan("/r", false, false, "/run/1", true, List.of(), List.of("sh"), List.of("A=1"), "/", h);
        p.write(tmp.resolve("plan"));
        LaunchPlan q = LaunchPlan.read(tmp.resolve("plan"));
        assertEquals(p, q);
        assertTrue(q.hooks().has("poststop"));
        assertFalse(q.hooks().has("prestart"));
    }

    @Test
    void aPlanWithoutHooksReadsAsNone(@TempDir Path tmp) throws Exception {
        LaunchPlan p = new LaunchPlan("/r", false, false, "/x", false, List.of(), List.of("sh"), List.of(), "/");
        p.write(tmp.resolve("plan"));
        assertSame(LaunchPlan.PlanHooks.NONE, LaunchPlan.read(tmp.resolve("plan")).hooks());
    }

    @Test
    void stateJsonIsValidJsonWithEscapes() throws Exception {
        LaunchPlan.PlanHooks h = new LaunchPlan.PlanHooks(List.of(), "skiff-7", "/b\"x", List.of("a\nb", "c\\d\u0001"));
        String json = StageHooks.stateJson(h, "created", 7);
        var tree = skiff.util.Json.MAPPER.readTree(json);
        assertEquals("created", tree.get("status").asText());
        assertEquals(7, tree.get("pid").asInt());
        assertEquals("/b\"x", tree.get("bundle").asText());
        assertEquals("c\\d\u0001", tree.get("annotations").get("a\nb").asText());
        assertEquals(skiff.spec.Spec.OCI_VERSION, tree.get("ociVersion").asText());
        assertFalse(skiff.util.Json.MAPPER.readTree(StageHooks.stateJson(h, "stopped", 0)).has("pid"));
    }

    @Test
    void refusesNul(@TempDir Path tmp) {
        LaunchPlan p = new LaunchPlan("/r", false, false, "/x", false, List.of(), List.of("a\0b"), List.of(), "/");
        assertThrows(IllegalArgumentException.class, () -> p.write(tmp.resolve("plan")));
    }

    @Test
    void rootPathKeepsSymlinksInsideTheImage(@TempDir Path tmp) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(root.resolve("real/dir"));
        Files.createSymbolicLink(root.resolve("abs"), Path.of("/etc"));
        Files.createSymbolicLink(root.resolve("up"), Path.of("../../../../etc"));
        Files.createSymbolicLink(root.resolve("rel"), Path.of("real/dir"));
        Files.createSymbolicLink(root.resolve("loop"), Path.of("loop"));
        assertEquals(root.resolve("etc/hosts"), RootPath.resolve(root, "/abs/hosts"));
        assertEquals(root.resolve("etc/x"), RootPath.resolve(root, "/up/x"));
        assertEquals(root.resolve("real/dir/f"), RootPath.resolve(root, "/rel/f"));
        assertEquals(root.resolve("a/b/c"), RootPath.resolve(root, "/a/b/../b/c"));
        assertEquals(root, RootPath.resolve(root, "/../.."));
        assertThrows(java.io.IOException.class, () -> RootPath.resolve(root, "/loop/x"));
    }

    @Test
    void commandResolutionFollowsExecvp(@TempDir Path tmp) throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path exe = Files.writeString(bin.resolve("tool"), "#!/bin/sh\n");
        exe.toFile().setExecutable(true);
        Files.writeString(bin.resolve("data"), "x");
        assertEquals(exe.toString(), Stage2.resolveCommand("tool", "/nonexistent:" + bin));
        assertEquals(127, assertThrows(Stage2.Failure.class, () -> Stage2.resolveCommand("nope", bin.toString())).status);
        assertEquals(126, assertThrows(Stage2.Failure.class, () -> Stage2.resolveCommand("data", bin.toString())).status);
        assertEquals(126, assertThrows(Stage2.Failure.class, () -> Stage2.resolveCommand(bin.toString(), "")).status);
        assertEquals(127, assertThrows(Stage2.Failure.class, () -> Stage2.resolveCommand(bin + "/nope", "")).status);
    }
}
