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
}
