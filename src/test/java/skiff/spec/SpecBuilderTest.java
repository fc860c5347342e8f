package skiff.spec;

import org.junit.jupiter.api.Test;
import skiff.image.ImageConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpecBuilderTest {
    static ImageConfig.Config cfg(List<String> ep, List<String> cmd, List<String> env, String wd) {
        return new ImageConfig.Config(null, null, env, ep, cmd, null, wd, null, null);
    }

    static RunSettings settings(List<String> command, String entrypoint, List<String> env, boolean clean, Map<String, String> host) {
        return new RunSettings(command, entrypoint, null, env, List.of(), clean, false, 1500, 1500, "u", "/home/u", host);
    }

    static RunSettings plain(List<String> command, String entrypoint) {
        return settings(command, entrypoint, List.of(), false, Map.of());
    }

    @Test
    void entrypointAndCmdCombineAsDockerDoes() {
        var c = cfg(List.of("/bin/echo", "ep"), List.of("c1", "c2"), null, null);
        assertEquals(List.of("/bin/echo", "ep", "c1", "c2"), SpecBuilder.args(c, plain(List.of(), null)));
        assertEquals(List.of("/bin/echo", "ep", "x"), SpecBuilder.args(c, plain(List.of("x"), null)));
        // --entrypoint drops the image's Cmd unless a command is given
        assertEquals(List.of("/bin/ls"), SpecBuilder.args(c, plain(List.of(), "/bin/ls")));
        assertEquals(List.of("/bin/ls", "-l"), SpecBuilder.args(c, plain(List.of("-l"), "/bin/ls")));
        // --entrypoint "" clears it
        assertEquals(List.of("id"), SpecBuilder.args(c, plain(List.of("id"), "")));
        assertEquals(List.of("/bin/sh"), SpecBuilder.args(cfg(null, null, null, null), plain(List.of(), null)));
        assertEquals(List.of("/bin/sh"), SpecBuilder.args(null, plain(List.of(), null)));
        assertEquals(List.of("c1"), SpecBuilder.args(cfg(null, List.of("c1"), null, null), plain(List.of(), null)));
    }

    @Test
    void imageEnvAppliesOverHostExceptProtectedAndLauncherVariables() {
        Map<String, String> host = Map.of("FOO", "host", "HOME", "/home/u", "TERM", "xterm", "SLURM_JOB_ID", "7",
                "PATH", "/host/bin", "KEEP", "k");
        var c = cfg(null, null, List.of("FOO=img", "HOME=/root", "TERM=dumb", "SLURM_JOB_ID=0", "PATH=/img/bin", "NEW=n"), null);
        Map<String, String> env = toMap(ContainerEnv.build(c.env(), settings(List.of(), null, List.of(), false, host)));
        assertEquals("img", env.get("FOO"));
        assertEquals("/home/u", env.get("HOME"));
        assertEquals("xterm", env.get("TERM"));
        assertEquals("7", env.get("SLURM_JOB_ID"));
        assertEquals("/img/bin", env.get("PATH"));
        assertEquals("n", env.get("NEW"));
        assertEquals("k", env.get("KEEP"));
        assertEquals("u", env.get("USER"));
    }

    @Test
    void pathDefaultsWhenTheImageHasNoneAndHostPathNeverLeaks() {
        Map<String, String> env = toMap(ContainerEnv.build(List.of(), settings(List.of(), null, List.of(), false,
                Map.of("PATH", "/host/bin"))));
        assertEquals(ContainerEnv.DEFAULT_PATH, env.get("PATH"));
    }

    @Test
    void cleanenvKeepsOnlyImageEnvSessionAndExplicitValues() {
        Map<String, String> host = Map.of("FOO", "host", "TERM", "xterm", "SLURM_JOB_ID", "7", "BAR", "b");
        Map<String, String> env = toMap(ContainerEnv.build(List.of("FOO=img"),
                settings(List.of(), null, List.of("X=1", "BAR"), true, host)));
        assertEquals("img", env.get("FOO"));
        assertEquals("xterm", env.get("TERM"));
        assertNull(env.get("SLURM_JOB_ID"));
        assertEquals("1", env.get("X"));
        assertEquals("b", env.get("BAR"), "-e KEY takes the host's value");
        assertEquals("/home/u", env.get("HOME"));
    }

    @Test
    void dashEWinsOverEverythingAndEnvFileComesFirst() {
        RunSettings s = new RunSettings(List.of(), null, null, List.of("HOME=/x", "A=e"), List.of("A=file", "B=file"),
                false, false, 1, 1, "u", "/home/u", Map.of());
        Map<String, String> env = toMap(ContainerEnv.build(List.of("A=img"), s));
        assertEquals("/x", env.get("HOME"));
        assertEquals("e", env.get("A"));
        assertEquals("file", env.get("B"));
    }

    @Test
    void envFileSyntax() {
        assertEquals(List.of("A=1", "B= two ", "C", "D="), ContainerEnv.parseEnvFile("# c\nA=1\n\nB= two \r\n C \nD=\n"));
    }

    @Test
    void specRunsAsTheUserOrRootWithFakeroot() {
        Spec s = SpecBuilder.build(cfg(null, null, null, "work"), plain(List.of(), null), "/r", List.of(), false);
        assertEquals(1500, s.process().user().uid());
        assertEquals("/work", s.process().cwd());
        assertTrue(s.process().noNewPrivileges());
        RunSettings fr = new RunSettings(List.of(), null, "/w", List.of(), List.of(), false, true, 1500, 1500, "u", "/home/u", Map.of());
        Spec f = SpecBuilder.build(null, fr, "/r", List.of(), true);
        assertEquals(0, f.process().user().uid());
        assertEquals("/w", f.process().cwd());
        assertEquals(1500, f.linux().uidMappings().get(0).hostID());
        assertTrue(f.linux().namespaces().stream().anyMatch(n -> n.type().equals("pid")));
    }

    @Test
    void hostWorkingDirectoryIsVisibleThroughTheLongestBind() {
        List<Mount> m = List.of(Mount.bind("/tmp", "/tmp", false), Mount.bind("/data/x", "/mnt", true),
                Mount.bind("/data", "/d", false));
        assertEquals("/tmp/a/b", SpecBuilder.visibleCwd(m, "/tmp/a/b"));
        assertEquals("/mnt/y", SpecBuilder.visibleCwd(m, "/data/x/y"));
        assertEquals("/d/z", SpecBuilder.visibleCwd(m, "/data/z"));
        assertEquals("/mnt", SpecBuilder.visibleCwd(m, "/data/x"));
        assertNull(SpecBuilder.visibleCwd(m, "/tmpx"));
        assertNull(SpecBuilder.visibleCwd(m, "/"));
    }

    static Map<String, String> toMap(List<String> env) {
        Map<String, String> m = new java.util.HashMap<>();
        List<String> keys = new ArrayList<>();
        for (String e : env) {
            int eq = e.indexOf('=');
            String k = e.substring(0, eq);
            assertTrue(!keys.contains(k), "duplicate " + k);
            keys.add(k);
            m.put(k, e.substring(eq + 1));
        }
        return m;
    }
}
