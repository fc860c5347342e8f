package skiff.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The proot engine's command line, its view of container paths, and the choice of engine. */
class ProotTest {
    @TempDir
    Path tmp;

    @Test
    void commandLine() {
        List<Proot.Bind> binds = List.of(new Proot.Bind("/home/u", "/home/u"), new Proot.Bind("/data", "/in"));
        assertEquals(List.of("/usr/bin/proot", "--verbose=-1", "-0", "-r", "/img", "-b", "/home/u:/home/u", "-b", "/data:/in",
                        "-w", "/in", "/bin/sh", "-c", "x"),
                Proot.argv(Path.of("/usr/bin/proot"), "/img", binds, "/in", true, "/bin/sh", List.of("-c", "x")));
        assertEquals(List.of("/usr/bin/proot", "--verbose=-1", "-r", "/img", "-w", "/", "/bin/true"),
                Proot.argv(Path.of("/usr/bin/proot"), "/img", List.of(), "/", false, "/bin/true", List.of()));
    }

    @Test
    void containerPathsMapThroughTheLastLongestBind() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(root.resolve("usr/bin"));
        Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
        List<Proot.Bind> binds = List.of(new Proot.Bind("/h1", "/data"), new Proot.Bind("/h2", "/data/sub"),
                new Proot.Bind("/h3", "/data"));
        assertEquals(Path.of("/h3/x"), Proot.toHost(root, binds, "/data/x"));
        assertEquals(Path.of("/h2/y"), Proot.toHost(root, binds, "/data/sub/y"));
        assertEquals(Path.of("/h3"), Proot.toHost(root, binds, "/data"));
        assertEquals(root.resolve("datax"), Proot.toHost(root, binds, "/datax"), "a prefix is not a parent");
        assertEquals(root.resolve("usr/bin/sh"), Proot.toHost(root, binds, "/bin/sh"), "the image's symlinks are followed in the image");
    }

    @Test
    void commandsResolveAsExecvpWithTheNativeExitCodes() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Path bin = Files.createDirectories(root.resolve("bin"));
        Files.writeString(bin.resolve("tool"), "#!/bin/sh\n");
        bin.resolve("tool").toFile().setExecutable(true, false);
        Files.writeString(bin.resolve("plain"), "x\n");
        assertEquals("/bin/tool", Proot.resolveCommand(root, List.of(), "/", "tool", "/usr/bin:/bin"));
        assertEquals("/bin/tool", Proot.resolveCommand(root, List.of(), "/", "/bin/tool", "/usr/bin"));
        assertEquals("/bin/tool", Proot.resolveCommand(root, List.of(), "/bin", "./tool", "/usr/bin"));
        SkiffException nf = assertThrows(SkiffException.class, () -> Proot.resolveCommand(root, List.of(), "/", "nope", "/bin"));
        assertEquals(ExitCode.NOT_FOUND, nf.exitCode());
        assertEquals("nope: command not found in the container", nf.getMessage());
        SkiffException ne = assertThrows(SkiffException.class, () -> Proot.resolveCommand(root, List.of(), "/", "plain", "/bin"));
        assertEquals(ExitCode.NOT_EXECUTABLE, ne.exitCode());
        SkiffException dir = assertThrows(SkiffException.class, () -> Proot.resolveCommand(root, List.of(), "/", "/bin", "/bin"));
        assertEquals(ExitCode.NOT_EXECUTABLE, dir.exitCode());
    }

    @Test
    void explanationsNameTheSysctlThatRefuses() throws Exception {
        Path proc = tmp.resolve("proc");
        Files.createDirectories(proc.resolve("sys/user"));
        Files.createDirectories(proc.resolve("sys/kernel"));
        assertTrue(Userns.explain(proc, "x").contains("lacks user namespaces"));
        Files.writeString(proc.resolve("sys/user/max_user_namespaces"), "0\n");
        assertTrue(Userns.explain(proc, "x").contains("user.max_user_namespaces = 0"));
        Files.writeString(proc.resolve("sys/user/max_user_namespaces"), "100\n");
        Files.writeString(proc.resolve("sys/kernel/apparmor_restrict_unprivileged_userns"), "1\n");
        assertTrue(Userns.explain(proc, "x").contains("AppArmor"));
        Files.writeString(proc.resolve("sys/kernel/apparmor_restrict_unprivileged_userns"), "0\n");
        assertEquals("creating one fails (Operation not permitted): a seccomp or security-module policy refuses it, e.g. the batch system's",
                Userns.explain(proc, "unshare: unshare failed: Operation not permitted"));
        assertEquals(List.of("user.max_user_namespaces = 100", "kernel.apparmor_restrict_unprivileged_userns = 0"),
                Userns.sysctls(proc));
    }

    @Test
    void theCacheAnswersOnlyForItsKey() throws Exception {
        Path cache = tmp.resolve(Userns.CACHE);
        Files.writeString(cache, "boot-1 user.max_user_namespaces = 5\n0\nuser namespaces are disabled\n");
        assertEquals(new Userns.Verdict(false, "user namespaces are disabled"),
                Userns.cached(cache, "boot-1 user.max_user_namespaces = 5").orElseThrow());
        assertTrue(Userns.cached(cache, "boot-2 user.max_user_namespaces = 5").isEmpty(), "a reboot probes again");
        assertTrue(Userns.probe(tmp).reason() != null); // a real probe writes the cache for this host's key
        assertTrue(Files.readString(cache).startsWith(Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip()));
    }

    @Test
    void anUnknownEngineIsRefusedWithWhereItCameFrom() {
        SkiffException flag = assertThrows(SkiffException.class, () -> Launcher.choose("chroot", "--engine", tmp));
        assertEquals(ExitCode.USAGE, flag.exitCode());
        assertEquals("--engine 'chroot' is not an engine: use auto, native or proot", flag.getMessage());
        SkiffException conf = assertThrows(SkiffException.class, () -> Launcher.choose("fast", "site.toml [run] engine", tmp));
        assertEquals(ExitCode.POLICY, conf.exitCode());
        assertEquals(Launcher.PROOT, Launcher.choose("proot", "--engine", tmp).launcher());
    }
}
