package skiff.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The proot engine as the unprivileged test user: chosen explicitly, and by auto where user namespaces are
 * unavailable. "Unavailable" is made for the one command by src/test/python/no_userns.py (a seccomp filter that
 * refuses CLONE_NEWUSER), so the host's sysctls and the other tests are left alone.
 */
class ProotIT {
    static RunFixture fx;
    static Path hostDir;
    static Path quietSite;
    static Path policySite;
    /** An empty XDG_CONFIG_HOME: the test user's own config.toml must not change what these tests see. */
    static Path config;

    @BeforeAll
    static void images() throws Exception {
        fx = new RunFixture("skiff-proot-it");
        fx.install(ImageBuilder.create(fx.base.resolve("img-bb")).layerFromDir(fx.tree("bb"))
                .config("--config.cmd", "/bin/sh", "--config.env", "IMG=from-image", "--config.env", "PATH=/bin:/usr/bin",
                        "--config.workingdir", "/work/sub"), "bb");
        fx.install(ImageBuilder.create(fx.base.resolve("img-py")).layerFromDir(pythonTree(fx.base.resolve("trees/py")))
                .config("--config.cmd", "/usr/bin/python3"), "py");
        hostDir = Files.createDirectories(fx.base.resolve("host-data"));
        Files.writeString(hostDir.resolve("f"), "host file\n");
        config = Files.createDirectories(fx.base.resolve("config"));
        quietSite = Files.createDirectories(fx.base.resolve("site-quiet"));
        Files.writeString(quietSite.resolve("site.toml"), "[run]\nengine-notice = false\n");
        Path siteData = Files.createDirectories(fx.base.resolve("site-data"));
        Files.writeString(siteData.resolve("hello"), "from the site\n");
        policySite = Files.createDirectories(fx.base.resolve("site-policy"));
        Files.writeString(policySite.resolve("site.toml"), "mounts = [{ source = \"" + siteData + "\", destination = \"/site-data\" }]\n"
                + "images = { allow = [\"docker.io/library/bb\"] }\nenv = { set = { SITE_VAR = \"site-value\" } }\n");
        fx.handOver();
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":", hostDir.toString()).run().ok();
    }

    @AfterAll
    static void cleanup() throws Exception {
        Thread.sleep(2500); // the mount reaper's idle period (1 s in tests) and its 1 s tick
        fx.close();
    }

    /** The busybox tree plus this host's python3, the libraries it links and the part of its library a small program needs. */
    static Path pythonTree(Path dir) throws Exception {
        Path t = fx.tree("py");
        Path py = Path.of("/usr/bin/python3").toRealPath();
        Files.createDirectories(t.resolve("usr/bin"));
        Files.copy(py, t.resolve("usr/bin/python3"));
        String ldd = Cmd.of("ldd", py.toString()).run().ok().out();
        for (String l : ldd.lines().toList()) {
            String[] f = l.strip().split("\\s+");
            String lib = f.length >= 3 && f[1].equals("=>") ? f[2] : f[0].startsWith("/") ? f[0] : null;
            if (lib == null) continue;
            Path dst = t.resolve(lib.substring(1));
            Files.createDirectories(dst.getParent());
            if (!Files.exists(dst)) Files.copy(Path.of(lib), dst);
        }
        String ver = Cmd.of(py.toString(), "-c", "import sys; print('%d.%d' % sys.version_info[:2])").run().ok().out().strip();
        Path lib = Path.of("/usr/lib/python" + ver);
        Path dst = Files.createDirectories(t.resolve("usr/lib/python" + ver));
        // the interpreter's start-up modules, and json for the program
        Cmd.of("sh", "-c", "cd " + lib + " && cp -a *.py encodings collections importlib json re lib-dynload " + dst).run().ok();
        return t;
    }

    /** bin/skiff ARGS as the test user, where that user cannot create user namespaces. */
    static Cmd noUserns(String... args) {
        List<String> a = new ArrayList<>(List.of("python3", Path.of(System.getProperty("skiff.home", ".")).toAbsolutePath()
                        .resolve("src/test/python/no_userns.py").toString(), "1500", "1500", "env",
                "HOME=/home/" + Cmd.TEST_USER, "USER=" + Cmd.TEST_USER, "LOGNAME=" + Cmd.TEST_USER,
                "SKIFF_STORAGE=" + fx.storage, "XDG_RUNTIME_DIR=" + fx.xdg, "SKIFF_MOUNT_IDLE=1", "XDG_CONFIG_HOME=" + config,
                Cmd.skiffBin().toString()));
        a.addAll(List.of(args));
        return Cmd.of(a).dir(Path.of("/"));
    }

    /** bin/skiff ARGS as the test user, user namespaces available. */
    static Cmd skiff(String... args) {
        return fx.skiff(args).env("XDG_CONFIG_HOME", config.toString());
    }

    static void refusedByProot(Cmd.Result r) {
        assertEquals(2, r.exit(), r.toString());
        String err = r.err().lines().filter(l -> !l.startsWith("skiff: notice:")).reduce("", (x, y) -> x + y + "\n");
        assertEquals(1, err.lines().count(), "one line: " + r.err());
        assertTrue(err.startsWith("skiff: ") && err.strip().endsWith("(engine proot)"), r.err());
    }

    @Test
    void autoFallsBackToProotWithOneNoticeAndTheNativeBehaviour() {
        Cmd.Result r = noUserns("run", "-e", "FOO=bar", "-v", hostDir + ":/data2", "bb", "sh", "-c",
                "id -u; id -g; whoami; echo $FOO $IMG; cat /data2/f; pwd; echo x > /data2/new && cat /data2/new;"
                        + " ls /proc/$$/fd | tr '\\n' ' '").run().ok();
        List<String> l = r.out().lines().map(String::strip).toList();
        assertEquals(List.of("1500", "1500", Cmd.TEST_USER, "bar from-image", "host file", "/work/sub", "x", "0 1 2"), l,
                "identity, env, bind, workdir, and no descriptor of the launcher: " + r);
        List<String> notices = r.err().lines().filter(x -> x.startsWith("skiff: notice:")).toList();
        assertEquals(1, notices.size(), r.err());
        assertTrue(notices.get(0).contains("user namespaces are unavailable") && notices.get(0).contains("proot"), r.err());
        assertEquals(1, r.err().lines().count(), "nothing but the notice: " + r.err());
    }

    @Test
    void homeTmpAndWorkdir() throws Exception {
        Cmd.Result r = noUserns("run", "-w", "/tmp", "bb", "sh", "-c", "pwd; test -d /home/" + Cmd.TEST_USER + " && echo home;"
                + " echo t > /tmp/skiff-proot-it-$$ && echo tmp && rm /tmp/skiff-proot-it-$$").run().ok();
        assertEquals(List.of("/tmp", "home", "tmp"), r.out().lines().toList(), r.toString());
    }

    @Test
    void exitCodes() {
        assertEquals(7, noUserns("run", "bb", "sh", "-c", "exit 7").run().exit());
        Cmd.Result nf = noUserns("run", "bb", "no-such-command").run();
        assertEquals(127, nf.exit(), nf.toString());
        assertTrue(nf.err().contains("skiff: no-such-command: command not found in the container"), nf.err());
        Cmd.Result ne = noUserns("run", "bb", "/etc/notexec.sh").run();
        assertEquals(126, ne.exit(), ne.toString());
        Cmd.Result launch = noUserns("run", "-w", "/does/not/exist", "bb", "true").run();
        assertEquals(125, launch.exit(), launch.toString());
        assertTrue(launch.err().lines().anyMatch(x -> x.startsWith("skiff: working directory /does/not/exist")), launch.err());
    }

    @Test
    void theImageStaysReadOnly() {
        Cmd.Result r = noUserns("run", "bb", "sh", "-c", "touch /bin/x || echo refused; mkdir /new || echo refused2").run();
        assertEquals(0, r.exit(), r.toString());
        assertEquals(List.of("refused", "refused2"), r.out().lines().toList(), r.toString());
    }

    @Test
    void aPersistentContainerIsWritable() {
        Cmd.Result r = noUserns("run", "--name", "proot-c1", "--rm", "bb", "sh", "-c", "echo kept > /etc/x; cat /etc/x; id -u").run().ok();
        assertEquals(List.of("kept", "1500"), r.out().lines().toList(), r.toString());
    }

    @Test
    void fakerootShowsUid0() {
        Cmd.Result r = noUserns("run", "--fakeroot", "bb", "sh", "-c", "id -u; whoami").run().ok();
        assertEquals(List.of("0", "root"), r.out().lines().toList(), r.toString());
    }

    @Test
    void whatProotCannotDoIsRefused() {
        refusedByProot(noUserns("run", "--pid", "bb", "true").run());
        refusedByProot(noUserns("run", "--writable-tmpfs", "bb", "true").run());
        refusedByProot(noUserns("run", "--join", "x", "--join-size", "2", "bb", "true").run());
        Cmd.Result ro = noUserns("run", "-v", hostDir + ":/d:ro", "bb", "true").run();
        refusedByProot(ro);
        assertTrue(ro.err().contains("writable by you"), ro.err());
    }

    @Test
    void nativeWhereUserNamespacesAreUnavailableFailsWithExit7() {
        Cmd.Result r = noUserns("run", "--engine", "native", "bb", "true").run();
        assertEquals(7, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("skiff: --engine native: user namespaces are unavailable here"), r.err());
    }

    @Test
    void explicitProotNeedsNoProbeAndPrintsNoNotice() {
        Cmd.Result r = skiff("run", "--engine", "proot", "bb", "sh", "-c", "id -u; cat /proc/self/status | grep TracerPid").run().ok();
        List<String> l = r.out().lines().toList();
        assertEquals("1500", l.get(0), r.toString());
        assertFalse(l.get(1).matches("TracerPid:\\s+0"), "the payload should be traced by proot: " + r);
        assertEquals("", r.err(), r.toString());
        Cmd.Result bad = skiff("run", "--engine", "chroot", "bb", "true").run();
        assertEquals(2, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("'chroot' is not an engine"), bad.err());
    }

    @Test
    void theSiteSilencesTheNotice() {
        Cmd.Result r = noUserns("run", "bb", "true").env("SKIFF_SITE_DIR", quietSite.toString()).run();
        // The helper passes the environment on: SKIFF_SITE_DIR reaches skiff.
        assertEquals(0, r.exit(), r.toString());
        assertEquals("", r.err(), r.toString());
    }

    @Test
    void sitePolicyAppliesAsUnderTheNativeEngine() {
        Cmd.Result r = noUserns("run", "bb", "sh", "-c", "cat /site-data/hello; echo $SITE_VAR")
                .env("SKIFF_SITE_DIR", policySite.toString()).run().ok();
        assertEquals(List.of("from the site", "site-value"), r.out().lines().toList(), r.toString());
        Cmd.Result image = noUserns("run", "py", "true").env("SKIFF_SITE_DIR", policySite.toString()).run();
        assertEquals(6, image.exit(), "the image policy: " + image);
        Cmd.Result bind = noUserns("run", "-v", "/root:/r", "bb", "true").run();
        assertEquals(6, bind.exit(), "the bind policy's default deny list: " + bind);
    }

    @Test
    void aPythonProgramRuns() {
        Cmd.Result r = noUserns("run", "py", "python3", "-c", "import json, os; print(json.dumps({'uid': os.getuid()}))").run().ok();
        assertEquals("{\"uid\": 1500}", r.out().strip(), r.toString());
    }

    @Test
    void doctorNamesTheEngineAndWhy() {
        Cmd.Result r = noUserns("doctor").run();
        assertEquals(0, r.exit(), "proot makes up for user namespaces: " + r);
        String engine = r.out().lines().filter(l -> l.contains(" engine ")).findFirst().orElse("");
        assertTrue(engine.contains("proot") && engine.contains("user namespaces are unavailable"), r.out());
        Cmd.Result native_ = skiff("doctor").run();
        assertTrue(native_.out().lines().anyMatch(l -> l.contains(" engine ") && l.contains("native")), native_.out());
    }
}
