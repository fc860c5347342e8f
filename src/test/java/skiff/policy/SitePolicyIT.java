package skiff.policy;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.image.Digest;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.testing.ImageBuilder;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * skiff run as the unprivileged test user under a site policy in a root-owned SKIFF_SITE_DIR: a site mount,
 * site environment, a module, a CDI device's env and mount, and refused binds.
 */
class SitePolicyIT {
    static final String IMAGE = "example.org/policy/box:1";
    static Path work;
    static Path storage;
    static Path site;
    /** Under /tmp, which every container binds: hook scripts and markers have the same path on both sides. */
    static Path hookDir;
    /** A root-level directory (outside home, /tmp and the forbidden /var), for the current directory's bind. */
    static Path top;

    @BeforeAll
    static void setUp() throws IOException {
        work = Files.createTempDirectory(Path.of("/var/tmp"), "skiff-policy-it-");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        storage = work.resolve("storage");
        Path img = Files.createDirectories(work.resolve("build"));
        Path tree = ImageBuilder.busyboxTree(img.resolve("tree"));
        Files.createSymbolicLink(tree.resolve("data"), Path.of("/etc"));  // a -v destination that leads elsewhere
        ImageBuilder b = ImageBuilder.create(img.resolve("img")).layerFromDir(tree)
                .config("--config.cmd", "/bin/sh").copyInto(storage, IMAGE);
        Store store = Store.open(storage);
        Digest manifest = store.resolve(IMAGE).orElseThrow().digest();
        try {
            Rootfs.ensure(store, manifest, Rootfs.Format.DIR);
        } catch (SkiffException e) {
            if (!e.getMessage().contains("not implemented")) throw e;
            // Until the flattener is in main, fill the directory cache as it would (with umoci).
            Cmd.of("umoci", "unpack", "--image", b.ref(), img.resolve("bundle").toString()).run().ok();
            Path target = Rootfs.path(store, manifest, Rootfs.Format.DIR);
            Files.createDirectories(target.getParent());
            Files.move(img.resolve("bundle/rootfs"), target);
        }
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":" + Cmd.TEST_USER, storage.toString()).run().ok();

        Path siteData = Files.createDirectories(work.resolve("site-data"));
        Files.writeString(siteData.resolve("hello"), "from the site\n");
        Path cdiData = Files.createDirectories(work.resolve("cdi-data"));
        Files.writeString(cdiData.resolve("lib.txt"), "vendor library\n");
        Files.createDirectories(work.resolve("user-data"));
        Files.writeString(work.resolve("user-data/mine"), "user file\n");
        Cmd.of("chown", "-R", Cmd.TEST_USER, work.resolve("user-data").toString()).run().ok();
        Files.createSymbolicLink(work.resolve("user-link"), work.resolve("user-data"));
        Path cdi = Files.createDirectories(work.resolve("cdi"));
        Files.writeString(cdi.resolve("box.json"), """
                {"cdiVersion": "0.6.0", "kind": "skiff.test/box",
                 "devices": [{"name": "one", "containerEdits": {
                   "env": ["CDI_ONE=yes"],
                   "deviceNodes": [{"path": "/dev/cdi-null", "hostPath": "/dev/null"}],
                   "mounts": [{"hostPath": "%s", "containerPath": "/cdi-data", "options": ["ro", "nosuid", "nodev", "bind"]}]}}]}
                """.formatted(cdiData));
        hookDir = Files.createTempDirectory(Path.of("/tmp"), "skiff-hooks-");
        Files.setPosixFilePermissions(hookDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path hook = Files.writeString(hookDir.resolve("hook.sh"), "#!/bin/sh\necho \"$1\" >> \"$MARK/order\"\ncat > \"$MARK/$1.json\"\n");
        Path failing = Files.writeString(hookDir.resolve("fail.sh"), "#!/bin/sh\necho no licence left\nexit 3\n");
        for (Path f : new Path[] {hook, failing}) Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
        top = Files.createDirectories(Path.of("/skiff-policy-it-cwd-" + ProcessHandle.current().pid()));
        Cmd.of("install", "-d", "-o", Cmd.TEST_USER, top.resolve("allowed").toString(), top.resolve("other").toString()).run().ok();
        site = Files.createDirectories(work.resolve("site"));
        Path hooksD = Files.createDirectories(site.resolve("hooks.d"));
        // Only for commands no other test runs, so the other tests see no hooks.
        for (String stage : new String[] {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"})
            Files.writeString(hooksD.resolve("10-" + stage + ".json"), """
                    {"version": "1.0.0", "hook": {"path": "%s", "args": ["hook.sh", "%s"], "env": ["PATH=/bin:/usr/bin", "MARK=%s"]},
                     "when": {"commands": ["^/bin/echo$"]}, "stages": ["%s"]}
                    """.formatted(hook, stage, hookDir.resolve("out"), stage));
        Path slow = Files.writeString(hookDir.resolve("slow.sh"), "#!/bin/sh\nexec sleep 30\n");
        Files.setPosixFilePermissions(slow, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(hooksD.resolve("30-slow.json"), """
                {"version": "1.0.0", "hook": {"path": "%s", "env": ["PATH=/bin:/usr/bin"], "timeout": 1}, "when": {"commands": ["^/bin/env$"]}, "stages": ["createContainer"]}
                """.formatted(slow));
        Files.writeString(hooksD.resolve("20-fail.json"), """
                {"version": "1.0.0", "hook": {"path": "%s", "timeout": 5}, "when": {"commands": ["^/bin/pwd$"]}, "stages": ["createRuntime"]}
                """.formatted(failing));
        Files.writeString(site.resolve("site.toml"), """
                [binds]
                allow = ["%1$s/user-data", "/proc", "%5$s/allowed"]
                [cdi]
                spec_dirs = ["%2$s"]
                [hooks]
                dirs = ["%4$s"]
                [[mounts]]
                source = "%3$s"
                destination = "/site-data"
                [env]
                set = { SITE_VAR = "site-value" }
                [modules.extra]
                description = "an extra variable"
                env = { set = { EXTRA = "on" } }
                mounts = [{ source = "%3$s/hello", destination = "/.skiff/extra/hello" }]
                """.formatted(work, cdi, siteData, site.resolve("hooks.d"), top));
    }

    @AfterAll
    static void tearDown() throws IOException {
        if (work != null) Cmd.of("rm", "-rf", work.toString()).run();
        if (hookDir != null) Cmd.of("rm", "-rf", hookDir.toString()).run();
        if (top != null) Cmd.of("rm", "-rf", top.toString()).run();
    }

    /** From "/", a working directory with nothing to bind (see {@link #skiffIn}). */
    static Cmd.Result skiff(String... args) {
        return skiffIn(Path.of("/"), args);
    }

    static Cmd.Result skiffIn(Path dir, String... args) {
        String[] a = args;
        if (args[0].equals("run")) {
            // The directory rootfs: the SquashFS path is another stage's work in progress. The work tree is under
            // /var/tmp: with the rootfs under /tmp the engine's /tmp bind fails (EINVAL) at times.
            a = new String[args.length + 2];
            a[0] = "run";
            a[1] = "--rootfs-format";
            a[2] = "dir";
            System.arraycopy(args, 1, a, 3, args.length - 1);
        }
        return Cmd.skiff(storage, a).env("SKIFF_SITE_DIR", site.toString()).asTestUser().dir(dir).run();
    }

    @Test
    void siteMountEnvModuleAndCdiDeviceReachTheContainer() {
        Cmd.Result r = skiff("run", "--module", "extra", "--device", "skiff.test/box=one", IMAGE,
                "sh", "-c", "cat /site-data/hello /cdi-data/lib.txt /.skiff/extra/hello; echo \"$SITE_VAR $EXTRA $CDI_ONE\"").ok();
        assertEquals("from the site\nvendor library\nfrom the site\nsite-value on yes\n", r.out());
    }

    /** On a GPU node (the integrator's check) the driver must arrive under /.skiff; elsewhere a clear exit 7. */
    @Test
    void gpusBringTheDriverInOrFailClearly() {
        Cmd.Result r = skiff("run", "--gpus", "all", IMAGE, "sh", "-c",
                "ls /.skiff/nvidia/lib /.skiff/nvidia/bin; echo \"LD=$LD_LIBRARY_PATH\"; test -c /dev/nvidiactl && echo ctl");
        if (Files.exists(Path.of("/dev/nvidiactl"))) {
            r.ok();
            assertTrue(r.out().contains("libcuda.so.1") && r.out().contains("libnvidia-ml.so.1"), r.out());
            assertTrue(r.out().contains("nvidia-smi"), r.out());
            assertTrue(r.out().contains("LD=/.skiff/nvidia/lib") && r.out().contains("ctl"), r.out());
        } else {
            assertEquals(7, r.exit(), r.toString());
            assertTrue(r.err().contains("NVIDIA"), r.err());
        }
    }

    @Test
    void devicesOutsideTheSiteListAreRefused() {
        Cmd.Result r = skiff("run", "--device", "/dev/loop-control", IMAGE, "true");
        assertEquals(Files.exists(Path.of("/dev/loop-control")) ? 6 : 7, r.exit(), r.toString());
    }

    @Test
    void allowedUserBindWorksAndDeniedOnesAreRefusedBeforeLaunch() {
        assertEquals("user file\n", skiff("run", "-v", work.resolve("user-data") + ":/root", IMAGE, "cat", "/root/mine").ok().out());

        Cmd.Result proc = skiff("run", "-v", "/proc/self:/tmp/in", IMAGE, "true");
        assertEquals(6, proc.exit(), proc.toString());
        assertTrue(proc.err().contains("denied"), proc.err());

        Cmd.Result etc = skiff("run", "-v", work.resolve("user-data") + ":/tmp/../etc", IMAGE, "true");
        assertEquals(6, etc.exit(), etc.toString());
        assertTrue(etc.err().contains("/etc"), etc.err());

        Cmd.Result outside = skiff("run", "-v", work.resolve("site-data") + ":/tmp/in", IMAGE, "true");
        assertEquals(6, outside.exit(), outside.toString());

        // a destination the image lacks is created, but never where the site forbids binding
        Cmd.Result usr = skiff("run", "-v", work.resolve("user-data") + ":/usr/new/dir", IMAGE, "true");
        assertEquals(6, usr.exit(), usr.toString());
        assertTrue(usr.err().contains("/usr"), usr.err());
    }

    /**
     * The current directory goes through the bind policy as a -v does: bound where the site allows binding it; where
     * it does not, one warning line, and the command starts where it would have without it.
     */
    @Test
    void theCurrentDirectoryIsBoundOnlyWhereTheSiteAllows() throws IOException {
        Path allowed = top.resolve("allowed");
        Cmd.Result in = skiffIn(allowed, "run", IMAGE, "sh", "-c", "pwd; touch mine");
        assertEquals(allowed + "\n", in.ok().out());
        assertEquals("", in.err());
        assertTrue(Files.exists(allowed.resolve("mine")));

        for (Path dir : new Path[] {top.resolve("other"), work.resolve("user-data")}) { // not allowed; under /var
            Cmd.Result denied = skiffIn(dir, "run", IMAGE, "sh", "-c", "pwd");
            assertEquals("/\n", denied.ok().out());
            assertEquals(1, denied.err().lines().count(), denied.err());
            assertTrue(denied.err().startsWith("skiff: warning: the current directory " + dir + " is not bound"), denied.err());
        }
    }

    @Test
    void unknownCdiDeviceAndModuleAreClearErrors() {
        Cmd.Result r = skiff("run", "--device", "skiff.test/box=two", IMAGE, "true");
        assertEquals(7, r.exit(), r.toString());
        assertTrue(r.err().contains("skiff.test/box=two"), r.err());
        Cmd.Result m = skiff("run", "--module", "nope", IMAGE, "true");
        assertEquals(2, m.exit(), m.toString());
    }

    @Test
    void configShowAndModulesTellWhatTheSiteSays() {
        String show = skiff("config", "show").ok().out();
        assertTrue(show.contains("env.set.SITE_VAR = \"site-value\"    # " + site.resolve("site.toml")), show);
        assertTrue(show.contains("binds.deny[0] = \"/proc\"    # default"), show);
        String modules = skiff("modules").ok().out();
        assertTrue(modules.contains("extra") && modules.contains("an extra variable") && modules.contains("env EXTRA=on"), modules);
    }

    @Test
    void aSiteDirectoryTheUserControlsIsIgnored() throws IOException {
        Path own = Files.createDirectories(work.resolve("user-site"));
        Files.writeString(own.resolve("site.toml"), "[binds]\nallow = [\"/\"]\ndeny = []\n");
        Cmd.of("chown", "-R", Cmd.TEST_USER, own.toString()).run().ok();
        Cmd.Result r = Cmd.skiff(storage, "config", "show").env("SKIFF_SITE_DIR", own.toString()).asTestUser().run().ok();
        assertTrue(r.err().contains("ignoring SKIFF_SITE_DIR=" + own), r.err());
        assertTrue(r.out().contains("# site directory: /etc/skiff"), r.out());
    }

    @Test
    void cdiDeviceNodeAppearsAtItsContainerPath() {
        skiff("run", "--device", "skiff.test/box=one", IMAGE, "test", "-c", "/dev/cdi-null").ok();
    }

    /** --device HOST:/dev/NEW: the node works under its new name, and the rest of /dev is still there. */
    @Test
    void deviceUnderANewNameWorksAndKeepsTheOtherNodes() {
        Cmd.Result r = skiff("run", "--device", "/dev/zero:/dev/mydev", IMAGE, "sh", "-c",
                "head -c 4 /dev/mydev | busybox od -An -tx1; test -c /dev/null && test -c /dev/urandom && echo others").ok();
        assertEquals("00 00 00 00\nothers", r.out().strip().replaceAll("[ \t]+", " ").replaceAll("(?m)^ ", ""));
    }

    /** Run by root, who could write the host's /dev: the new node's mount point must not land there. */
    @Test
    void aDeviceUnderANewNameLeavesTheHostsDevAlone() {
        Path probe = Path.of("/dev/skiff-wiring-probe");
        Cmd.Result r = Cmd.skiff(storage, "run", "--rootfs-format", "dir", "--device", "/dev/zero:" + probe, IMAGE,
                "test", "-c", probe.toString()).env("SKIFF_SITE_DIR", site.toString()).run();
        boolean leaked = Files.exists(probe, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        if (leaked) Cmd.of("rm", "-f", probe.toString()).run();
        r.ok();
        assertFalse(leaked, "skiff left " + probe + " on the host");
    }

    /** The image's /data is a link to /etc: binding onto it would cover /etc, which the site keeps. */
    @Test
    void bindDestinationsAreResolvedThroughTheImagesSymlinks() {
        Cmd.Result r = skiff("run", "-v", work.resolve("user-data") + ":/data", IMAGE, "true");
        assertEquals(6, r.exit(), r.toString());
        assertTrue(r.err().contains("/etc in the image"), r.err());
        // also for a path below the link that the image lacks (it would be created under /etc)
        Cmd.Result below = skiff("run", "-v", work.resolve("user-data") + ":/data/new/dir", IMAGE, "true");
        assertEquals(6, below.exit(), below.toString());
        assertTrue(below.err().contains("/etc/new/dir in the image"), below.err());
    }

    /** A -v whose source is a link stays the user's, also where its mount point must be created. */
    @Test
    void aUserBindThroughASymlinkIsStillTheUsers() {
        assertEquals("user file\n", skiff("run", "-v", work.resolve("user-link") + ":/root", IMAGE, "cat", "/root/mine").ok().out());
        assertEquals("user file\n", skiff("run", "-v", work.resolve("user-link") + ":/nowhere", IMAGE, "cat", "/nowhere/mine").ok().out());
    }

    private static void freshMarkers() {
        Cmd.of("rm", "-rf", hookDir.resolve("out").toString()).run().ok();
        Cmd.of("install", "-d", "-o", Cmd.TEST_USER, hookDir.resolve("out").toString()).run().ok();
    }

    /** hooks.d hooks run at their stages, in order, with the state JSON on stdin; their output stays out of the payload's. */
    @Test
    void hooksRunAtTheirStagesWithTheState() throws IOException {
        freshMarkers();
        Cmd.Result r = skiff("run", IMAGE, "/bin/echo", "payload").ok();
        assertEquals("payload\n", r.out());
        assertTrue(r.err().contains("poststop hook(s) will not run"), r.err());
        Path out = hookDir.resolve("out");
        assertEquals("prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\n", Files.readString(out.resolve("order")));
        String state = Files.readString(out.resolve("createRuntime.json"));
        assertTrue(state.contains("\"status\":\"created\"") && state.contains("\"pid\":") && state.contains("\"ociVersion\":"), state);
        assertTrue(Files.readString(out.resolve("poststart.json")).contains("\"status\":\"running\""));

        freshMarkers();
        r = skiff("run", "--pid", IMAGE, "/bin/echo", "payload").ok();
        assertEquals("payload\n", r.out());
        assertFalse(r.err().contains("will not run"), r.err());
        assertEquals("prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\npoststop\n", Files.readString(out.resolve("order")));
        assertTrue(Files.readString(out.resolve("poststop.json")).contains("\"status\":\"stopped\""));
    }

    @Test
    void aFailingHookStopsTheLaunch() {
        Cmd.Result r = skiff("run", IMAGE, "/bin/pwd");
        assertEquals(125, r.exit(), r.toString());
        assertTrue(r.err().contains("createRuntime hook " + hookDir.resolve("fail.sh")) && r.err().contains("no licence left"), r.err());
        assertEquals("", r.out());

        long t0 = System.nanoTime();
        Cmd.Result slow = skiff("run", IMAGE, "/bin/env");
        assertEquals(125, slow.exit(), slow.toString());
        assertTrue(slow.err().contains("createContainer hook " + hookDir.resolve("slow.sh") + " timed out after 1s"), slow.err());
        assertTrue(System.nanoTime() - t0 < 20_000_000_000L, "the hook was not killed in time");
    }

    // ---- The warm path (issue #12): one JVM in the new namespaces, with the policy the full path read and trusted.

    /** A run as the test user, its JVMs' class loading logged: how many JVMs ran, and what they loaded. */
    record Logged(Cmd.Result result, int jvms, List<String> classes) {
        boolean warm() {
            return jvms == 1 && classes.stream().anyMatch(l -> l.contains("skiff.cli.WarmRun "));
        }

        List<String> jackson() {
            return classes.stream().filter(l -> l.contains(" com.fasterxml.") || l.contains(" picocli.")).toList();
        }

        /** stderr without the JVM's note about JAVA_TOOL_OPTIONS. */
        String err() {
            return String.join("\n", result.err().lines().filter(l -> !l.startsWith("Picked up JAVA_TOOL_OPTIONS")).toList());
        }
    }

    static int logs;

    static Logged logged(Path siteDir, Path configHome, String... args) throws IOException {
        Path dir = Files.createDirectories(work.resolve("class-load-" + logs++));
        Cmd.of("chmod", "777", dir.toString()).run().ok();
        List<String> a = new java.util.ArrayList<>(List.of("run", "--rootfs-format", "dir"));
        a.addAll(List.of(args).subList(1, args.length));
        Cmd c = Cmd.skiff(storage, a.toArray(String[]::new)).env("SKIFF_SITE_DIR", siteDir.toString())
                .env("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + dir + "/%p.log");
        if (configHome != null) c = c.env("XDG_CONFIG_HOME", configHome.toString());
        Cmd.Result r = c.asTestUser().dir(Path.of("/")).run();
        List<String> loaded = new java.util.ArrayList<>();
        int jvms;
        try (var files = Files.list(dir)) {
            List<Path> l = files.toList();
            jvms = l.size();
            for (Path f : l) loaded.addAll(Files.readAllLines(f));
        }
        return new Logged(r, jvms, loaded);
    }

    static Cmd.Result plain(Path siteDir, String... args) throws IOException {
        return logged(siteDir, null, args).result();
    }

    static final Path RECORD_NAME = Path.of("run-records", IMAGE.replace('/', '+'));

    /** A site directory of its own for a test that changes it (site.toml, hooks.d, cdi), root's as it should be. */
    static Path siteOf(String name) throws IOException {
        Path d = Files.createDirectories(work.resolve(name));
        Files.createDirectories(d.resolve("hooks.d"));
        Files.createDirectories(d.resolve("cdi"));
        Files.writeString(d.resolve("site.toml"), """
                [binds]
                allow = ["%1$s/user-data"]
                [hooks]
                dirs = ["%2$s/hooks.d"]
                [cdi]
                spec_dirs = ["%2$s/cdi"]
                [env]
                set = { B = "one" }
                """.formatted(work, d));
        return d;
    }

    /**
     * Runs until a start is warm: the first may meet a record of the policy before a change (a wrong guess, 125), the
     * next writes the record, one more if index.json changed within its second.
     */
    static void warmUp(Path siteDir) throws IOException {
        for (int i = 0; i < 4; i++) {
            Logged l = logged(siteDir, null, "run", IMAGE, "true");
            if (l.result().exit() == 125 && l.err().startsWith("skiff: the quick start-up found its guess wrong")) continue;
            l.result().ok();
            if (l.warm()) return;
        }
        fail("no warm start with the site directory " + siteDir);
    }

    static String cdiSpec(String kind, String env) {
        return """
                {"cdiVersion": "0.6.0", "kind": "%s", "devices": [{"name": "one", "containerEdits": {"env": ["%s"]}}]}
                """.formatted(kind, env);
    }

    static void assertWrongGuess(Logged l, Path changed) {
        assertEquals(125, l.result().exit(), l.result().toString());
        assertTrue(l.warm(), "the wrong guess is the warm JVM's");
        assertTrue(l.err().matches("skiff: the quick start-up found its guess wrong \\(the site policy may differ: "
                + java.util.regex.Pattern.quote(changed.toString()) + " changed since it was checked \\(.*\\)\\);"
                + " run the command again: it then prepares the image the full way"), l.err());
        assertFalse(Files.exists(storage.resolve(RECORD_NAME)), "the stale record must go");
    }

    /**
     * With a site policy (root's site.toml, hooks.d and CDI directories) and a user config.toml, a start after the
     * first is warm: one JVM, no picocli or Jackson class, and the policy in force: a bind the site denies is denied,
     * the site's and the user's variables are set, the site mount is there, and a CDI device from a root-owned spec
     * (which the warm JVM reads itself, trusting it from the record) works.
     */
    @Test
    void aWarmStartAppliesTheSitePolicyAndTheUserConfiguration() throws IOException {
        Path cfg = Files.createDirectories(work.resolve("warm-config/skiff"));
        Files.writeString(cfg.resolve("config.toml"), "[run]\nenv = { set = { MINE = \"user-value\" } }\n");
        Cmd.of("chown", "-R", Cmd.TEST_USER, cfg.getParent().toString()).run().ok();
        Path home = cfg.getParent();
        for (int i = 0; i < 3 && !logged(site, home, "run", IMAGE, "true").warm(); i++) { }

        Logged denied = logged(site, home, "run", "-v", "/proc/self:/tmp/in", IMAGE, "true");
        assertEquals(6, denied.result().exit(), denied.result().toString());
        assertTrue(denied.err().contains("denied"), denied.err());
        assertTrue(denied.warm(), "the denied bind was not refused by a warm start: " + denied.jvms() + " JVMs");
        assertEquals(List.of(), denied.jackson());

        Logged ok = logged(site, home, "run", IMAGE, "sh", "-c", "echo \"$SITE_VAR $MINE\"; cat /site-data/hello");
        assertEquals("site-value user-value\nfrom the site\n", ok.result().ok().out());
        assertTrue(ok.warm(), "not a warm start: " + ok.jvms() + " JVMs");
        assertEquals(List.of(), ok.jackson());

        Logged cdi = logged(site, home, "run", "--device", "skiff.test/box=one", IMAGE, "sh", "-c", "echo $CDI_ONE");
        assertEquals("yes\n", cdi.result().ok().out());
        assertTrue(cdi.warm(), "not a warm start: " + cdi.jvms() + " JVMs");
    }

    /**
     * A site.toml touched, chmod'ed or replaced after the run record was written is not believed from the record:
     * the warm start fails once with the wrong-guess line (the record goes), and the next run reads the policy anew.
     */
    @Test
    void aPolicyFileChangedSinceTheRecordIsNotBelievedFromIt() throws Exception {
        Path b = siteOf("site-changed");
        Path toml = b.resolve("site.toml");
        warmUp(b);
        Thread.sleep(30);
        Files.setLastModifiedTime(toml, Files.getLastModifiedTime(toml)); // ctime only
        assertWrongGuess(logged(b, null, "run", IMAGE, "sh", "-c", "echo $B"), toml);
        assertEquals("one\n", plain(b, "run", IMAGE, "sh", "-c", "echo $B").ok().out());

        // group-writable: the full path then ignores it, and so must the next start
        warmUp(b);
        Thread.sleep(30);
        Files.setPosixFilePermissions(toml, PosixFilePermissions.fromString("rw-rw-r--"));
        assertWrongGuess(logged(b, null, "run", IMAGE, "sh", "-c", "echo $B"), toml);
        Cmd.Result ignored = plain(b, "run", IMAGE, "sh", "-c", "echo \"[$B]\"").ok();
        assertEquals("[]\n", ignored.out());
        assertTrue(ignored.err().contains("ignoring site configuration " + toml + ": it is group-writable"), ignored.err());
        Logged warmIgnored = logged(b, null, "run", IMAGE, "sh", "-c", "echo \"[$B]\"");
        assertEquals("[]\n", warmIgnored.result().ok().out());
        assertTrue(warmIgnored.warm() && warmIgnored.err().contains("ignoring site configuration " + toml), warmIgnored.err());
        Files.setPosixFilePermissions(toml, PosixFilePermissions.fromString("rw-r--r--"));

        // replaced by a file of the same age (an administrator's cp -p, mv): the site directory's own stamp (the
        // trust of SKIFF_SITE_DIR) is the first to see the rename in it
        warmUp(b);
        Path next = Files.writeString(b.resolve(".site.toml.new"), Files.readString(toml).replace("\"one\"", "\"two\""));
        Files.setLastModifiedTime(next, Files.getLastModifiedTime(toml));
        Files.move(next, toml, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        assertWrongGuess(logged(b, null, "run", IMAGE, "sh", "-c", "echo $B"), b);
        assertEquals("two\n", plain(b, "run", IMAGE, "sh", "-c", "echo $B").ok().out());

        // edited as usual (a newer site.toml): bin/skiff sees it and takes the full path, no wrong guess
        warmUp(b);
        Thread.sleep(1100); // newer than the record even where the shell's -nt compares whole seconds
        Files.writeString(toml, Files.readString(toml).replace("\"two\"", "\"three\""));
        Logged edited = logged(b, null, "run", IMAGE, "sh", "-c", "echo $B");
        assertEquals("three\n", edited.result().ok().out());
        assertFalse(edited.warm(), "bin/skiff must see the newer site.toml");
        Logged after = logged(b, null, "run", IMAGE, "sh", "-c", "echo $B");
        assertEquals("three\n", after.result().ok().out());
        assertTrue(after.warm(), "the next start is warm again with the new policy");
    }

    /** A hooks.d file or a CDI spec added after the record was written is noticed (its directory changed). */
    @Test
    void aHookOrCdiSpecAddedSinceTheRecordIsNoticed() throws Exception {
        Path b = siteOf("site-added");
        warmUp(b);
        Thread.sleep(30);
        Files.writeString(b.resolve("hooks.d/50-added.json"), """
                {"version": "1.0.0", "hook": {"path": "%s", "timeout": 5}, "when": {"commands": ["^/bin/echo$"]}, "stages": ["createRuntime"]}
                """.formatted(hookDir.resolve("fail.sh")));
        assertWrongGuess(logged(b, null, "run", IMAGE, "/bin/echo", "hi"), b.resolve("hooks.d"));
        Cmd.Result hooked = plain(b, "run", IMAGE, "/bin/echo", "hi");
        assertEquals(125, hooked.exit(), hooked.toString());
        assertTrue(hooked.err().contains("no licence left"), hooked.err());
        Logged warmHooked = logged(b, null, "run", IMAGE, "/bin/echo", "hi");
        assertEquals(125, warmHooked.result().exit(), warmHooked.result().toString());
        assertTrue(warmHooked.warm() && warmHooked.err().contains("no licence left"), warmHooked.err());
        Files.delete(b.resolve("hooks.d/50-added.json"));

        warmUp(b);
        Thread.sleep(30);
        Files.writeString(b.resolve("cdi/added.json"), cdiSpec("skiff.test/added", "ADDED=yes"));
        assertWrongGuess(logged(b, null, "run", "--device", "skiff.test/added=one", IMAGE, "sh", "-c", "echo $ADDED"), b.resolve("cdi"));
        assertEquals("yes\n", plain(b, "run", "--device", "skiff.test/added=one", IMAGE, "sh", "-c", "echo $ADDED").ok().out());
        Logged warm = logged(b, null, "run", "--device", "skiff.test/added=one", IMAGE, "sh", "-c", "echo $ADDED");
        assertEquals("yes\n", warm.result().ok().out());
        assertTrue(warm.warm(), "not a warm start: " + warm.jvms() + " JVMs");
    }

    /** Files another (non-root) user owns are distrusted on a warm start as on the full path: no hook, no CDI device. */
    @Test
    void policyFilesAnotherUserOwnsStayDistrustedOnAWarmStart() throws Exception {
        Path b = siteOf("site-theirs");
        Path hook = Files.writeString(b.resolve("hooks.d/60-theirs.json"), """
                {"version": "1.0.0", "hook": {"path": "%s", "timeout": 5}, "when": {"commands": ["^/bin/echo$"]}, "stages": ["createRuntime"]}
                """.formatted(hookDir.resolve("fail.sh")));
        Path spec = Files.writeString(b.resolve("cdi/theirs.json"), cdiSpec("skiff.test/theirs", "THEIRS=yes"));
        Cmd.of("chown", "4242", hook.toString(), spec.toString()).run().ok();
        warmUp(b);
        Logged echo = logged(b, null, "run", IMAGE, "/bin/echo", "hi");
        assertEquals("hi\n", echo.result().ok().out());
        assertTrue(echo.warm(), "not a warm start: " + echo.jvms() + " JVMs");
        assertTrue(echo.err().contains("ignoring OCI hook " + hook + ": it is owned by uid 4242, not root"), echo.err());
        Logged cdi = logged(b, null, "run", "--device", "skiff.test/theirs=one", IMAGE, "true");
        assertEquals(7, cdi.result().exit(), cdi.result().toString());
        assertTrue(cdi.warm(), "not a warm start: " + cdi.jvms() + " JVMs");
        assertTrue(cdi.err().contains("ignoring CDI spec " + spec) && cdi.err().contains("skiff.test/theirs=one not found"), cdi.err());
    }
}
