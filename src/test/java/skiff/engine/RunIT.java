package skiff.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.nio.charset.StandardCharsets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** skiff run as the unprivileged test user: identity, isolation, exit codes, signals, stdio, options. */
class RunIT {
    static RunFixture fx;

    @BeforeAll
    static void images() throws Exception {
        fx = new RunFixture("skiff-run-it");
        Path tree = fx.tree("bb");
        // A setuid-root copy of busybox: it must not gain privilege in the container.
        Path suid = Files.createDirectories(tree.resolve("suid")).resolve("busybox");
        Files.copy(tree.resolve("bin/busybox"), suid);
        Cmd.of("chmod", "4755", suid.toString()).run().ok();
        fx.install(ImageBuilder.create(fx.base.resolve("img-bb")).layerFromDir(tree).config("--config.cmd", "/bin/sh"), "bb");
        fx.install(ImageBuilder.create(fx.base.resolve("img-ep")).layerFromDir(fx.tree("ep"))
                .config("--config.entrypoint", "/bin/echo", "--config.entrypoint", "ep",
                        "--config.cmd", "c1", "--config.cmd", "c2",
                        "--config.env", "FOO=img", "--config.env", "HOME=/imagehome", "--config.env", "PATH=/bin:/usr/bin",
                        "--config.env", "SLURM_JOB_ID=image",
                        "--config.workingdir", "/work/sub"), "ep");
        fx.install(ImageBuilder.create(fx.base.resolve("img-none")).layerFromDir(fx.tree("none")), "none");
        // root-owned like "bb", but converted by skiff itself (as the user) on first use
        fx.installLayoutOnly(ImageBuilder.create(fx.base.resolve("img-conv")).layerFromDir(fx.tree("conv"))
                .config("--config.cmd", "/bin/sh"), "conv");
        fx.handOver();
    }

    @AfterAll
    static void cleanup() throws Exception {
        Thread.sleep(2500); // the mount reaper's idle period (1 s in tests) and its 1 s tick
        fx.close();
    }

    static Cmd.Result run(String... args) {
        return fx.skiff(args).run();
    }

    @Test
    void runsAsTheInvokingUserWithNamesAndNoPrivilege() {
        Cmd.Result r = run("run", "bb", "sh", "-c",
                "id -u; id -g; whoami; id -gn; /suid/busybox id -u; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status;"
                        + " ls /proc/$$/fd | tr '\\n' ' '; echo; grep ' / / ' /proc/self/mountinfo").ok();
        List<String> l = r.out().lines().toList();
        assertEquals("1500", l.get(0));
        assertEquals("1500", l.get(1));
        assertEquals(Cmd.TEST_USER, l.get(2));
        assertEquals(Cmd.TEST_USER, l.get(3));
        assertEquals("1500", l.get(4), "a setuid-root binary of the image must not run as root");
        for (int i = 5; i < 10; i++) assertTrue(l.get(i).matches("Cap\\w+:\\s+0+"), "capability left: " + l.get(i));
        assertEquals("NoNewPrivs:\t1", l.get(10));
        assertEquals("0 1 2", l.get(11).strip(), "descriptors of the launcher leaked into the payload");
        assertTrue(l.get(12).matches(".* / / ro,nosuid,nodev\\b.*"), "root must be ro,nosuid,nodev: " + l.get(12));
    }

    @Test
    void theImageCannotBeWritten() {
        Cmd.Result r = run("run", "bb", "sh", "-c", "touch /bin/x || echo refused; mkdir /new || echo refused2");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("refused") && r.out().contains("refused2"), r.toString());
        assertTrue(r.err().contains("Read-only file system"), r.toString());
    }

    @Test
    void exitCodes() {
        assertEquals(7, run("run", "bb", "sh", "-c", "exit 7").exit());
        Cmd.Result nf = run("run", "bb", "no-such-command");
        assertEquals(127, nf.exit(), nf.toString());
        assertTrue(nf.err().contains("skiff: no-such-command: command not found in the container"), nf.err());
        Cmd.Result ne = run("run", "bb", "/etc/notexec.sh");
        assertEquals(126, ne.exit(), ne.toString());
        Cmd.Result launch = run("run", "-w", "/does/not/exist", "bb", "true");
        assertEquals(125, launch.exit(), launch.toString());
        assertTrue(launch.err().startsWith("skiff: ") && launch.err().contains("/does/not/exist"), launch.err());
        assertEquals(1, launch.err().lines().count(), "one line: " + launch.err());
        Cmd.Result missingImage = run("run", "not-there", "true");
        assertEquals(3, missingImage.exit(), missingImage.toString());
    }

    @Test
    void stdinIsPipedAndArgumentsAfterTheImageAreNotOptions() {
        Cmd.Result r = fx.skiff("run", "bb", "cat").stdin("hi\n".getBytes(StandardCharsets.UTF_8)).run().ok();
        assertEquals("hi\n", r.out());
        assertEquals("-l x\n", run("run", "bb", "echo", "-l", "x").ok().out());
    }

    @Test
    void aTerminalPassesThrough() {
        String inner = String.join(" ", List.of("env", "SKIFF_STORAGE=" + fx.storage, "XDG_RUNTIME_DIR=" + fx.xdg,
                Cmd.skiffBin().toString(), "run", "bb", "/bin/busybox", "tty"));
        Cmd.Result r = Cmd.of("runuser", "-u", Cmd.TEST_USER, "--", "script", "-qec", inner, "/dev/null").dir(Path.of("/")).run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("/dev/pts/"), r.toString());
    }

    @Test
    void sigtermReachesThePayloadWhoseProcessIsSkiffItself() throws Exception {
        Process p = fx.skiff("run", "bb", "sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done").start();
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
        assertEquals("ready", out.readLine());
        // runuser's child is the process bin/skiff started as; after the execs it is the payload.
        ProcessHandle payload = p.toHandle().children().findFirst().orElseThrow();
        assertTrue(payload.info().command().orElse("").endsWith("busybox"), "the skiff process should now be the payload: "
                + payload.info().command());
        Cmd.of("kill", "-TERM", Long.toString(payload.pid())).run().ok();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(42, p.exitValue());
    }

    @Test
    void sigintReachesThePayload() throws Exception {
        Process p = fx.skiff("run", "bb", "sh", "-c", "trap 'exit 43' INT; echo ready; while :; do sleep 0.1; done").start();
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
        assertEquals("ready", out.readLine());
        ProcessHandle payload = p.toHandle().children().findFirst().orElseThrow();
        Cmd.of("kill", "-INT", Long.toString(payload.pid())).run().ok();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(43, p.exitValue());
    }

    @Test
    void entrypointCmdEnvAndWorkingDirFollowTheImageConfig() {
        assertEquals("ep c1 c2\n", run("run", "ep").ok().out());
        assertEquals("ep a b\n", run("run", "ep", "a", "b").ok().out());
        assertEquals("\n", run("run", "--entrypoint", "/bin/echo", "ep").ok().out());
        assertEquals("x\n", run("run", "--entrypoint", "/bin/echo", "ep", "x").ok().out());
        Cmd.Result r = fx.skiff("run", "--entrypoint", "", "ep", "sh", "-c",
                "echo $FOO; echo $HOME; echo $PATH; echo $SLURM_JOB_ID; pwd").env("SLURM_JOB_ID", "42").run().ok();
        assertEquals(List.of("img", "/home/" + Cmd.TEST_USER, "/bin:/usr/bin", "42", "/work/sub"), r.out().lines().toList());
        // no Entrypoint, no Cmd: /bin/sh
        assertEquals("from sh\n", fx.skiff("run", "none").stdin("echo from sh\n".getBytes()).run().ok().out());
        assertEquals("/\n", run("run", "none", "pwd").ok().out(), "no WorkingDir: /");
        assertEquals("/work\n", run("run", "-w", "/work", "--entrypoint", "", "ep", "pwd").ok().out());
    }

    @Test
    void launcherVariablesPassUnlessCleanenv() {
        Cmd.Result r = Cmd.skiff(fx.storage, "run", "--entrypoint", "", "ep", "sh", "-c", "echo $SLURM_JOB_ID $PMIX_RANK $HOST_ONLY")
                .env("XDG_RUNTIME_DIR", fx.xdg.toString()).env("SLURM_JOB_ID", "42").env("PMIX_RANK", "3").env("HOST_ONLY", "h")
                .asTestUser().dir(Path.of("/")).run().ok();
        assertEquals("42 3 h\n", r.out());
        Cmd.Result c = Cmd.skiff(fx.storage, "run", "--cleanenv", "-e", "A=1", "-e", "HOST_ONLY", "--entrypoint", "", "ep", "sh", "-c",
                        "echo $SLURM_JOB_ID-$A-$HOST_ONLY-$FOO-$USER")
                .env("XDG_RUNTIME_DIR", fx.xdg.toString()).env("SLURM_JOB_ID", "42").env("HOST_ONLY", "h")
                .asTestUser().dir(Path.of("/")).run().ok();
        assertEquals("image-1-h-img-" + Cmd.TEST_USER + "\n", c.out(), "--cleanenv: the image's Env applies, the host's does not");
    }

    @Test
    void envFileAndDashE() throws Exception {
        Path f = fx.base.resolve("vars.env");
        Files.writeString(f, "# comment\nA=file\nB=file\n");
        f.toFile().setReadable(true, false);
        Cmd.Result r = run("run", "--env-file", f.toString(), "-e", "B=cli", "-e", "FOO=cli", "--entrypoint", "", "ep",
                "sh", "-c", "echo $A $B $FOO").ok();
        assertEquals("file cli cli\n", r.out());
    }

    @Test
    void volumesHomeTmpAndWorkingDirectory() throws Exception {
        Path data = Files.createDirectories(fx.base.resolve("vol"));
        Files.writeString(data.resolve("in"), "data\n");
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":", data.toString()).run().ok();
        Cmd.Result rw = run("run", "-v", data + ":/data", "bb", "sh", "-c", "cat /data/in; echo out > /data/out").ok();
        assertEquals("data\n", rw.out());
        assertEquals("out\n", Files.readString(data.resolve("out")));
        Cmd.Result ro = run("run", "-v", data + ":/data:ro", "bb", "sh", "-c", "cat /data/in; echo x > /data/out2");
        assertNotEquals(0, ro.exit(), ro.toString());
        assertFalse(Files.exists(data.resolve("out2")));
        Cmd.Result nosrc = run("run", "-v", "/no/such/src:/data", "bb", "true");
        assertEquals(125, nosrc.exit());
        assertTrue(nosrc.err().contains("/no/such/src"), nosrc.err());
        // home is bound (the image has /home but not /home/skiffuser), /tmp is the host's
        Path marker = Files.writeString(Path.of("/tmp").resolve("skiff-run-it-" + ProcessHandle.current().pid()), "t\n");
        try {
            Cmd.Result h = run("run", "bb", "sh", "-c", "cd && pwd && touch .skiff-run-it && cat " + marker).ok();
            assertEquals("/home/" + Cmd.TEST_USER + "\nt\n", h.out());
            assertTrue(Files.exists(Path.of("/home", Cmd.TEST_USER, ".skiff-run-it")));
            Files.delete(Path.of("/home", Cmd.TEST_USER, ".skiff-run-it"));
        } finally {
            Files.deleteIfExists(marker);
        }
        assertEquals(1, run("run", "--no-home", "bb", "sh", "-c", "test -d /home/" + Cmd.TEST_USER).exit());
        // the host's working directory is kept when it is visible inside
        Cmd.Result cwd = fx.skiff("run", "-v", data + ":/data", "bb", "pwd").dir(data).run().ok();
        assertEquals("/data\n", cwd.out());
    }

    /**
     * Cluster paths (/scratch, /lustre/proj...) are never in images: a missing mount point is created, nested or a
     * file, without the image or the host ever becoming writable where they were not.
     */
    @Test
    void bindDestinationsTheImageLacksAreCreatedAndTheImageStaysReadOnly() throws Exception {
        Path data = Files.createDirectories(fx.base.resolve("vol-missing"));
        Files.writeString(data.resolve("in"), "data\n");
        Path other = Files.createDirectories(fx.base.resolve("vol-other"));
        Files.writeString(other.resolve("o"), "other\n");
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":", data.toString(), other.toString()).run().ok();
        // nested (only / exists), at the same path as on the host, and a file; the data is the host's, writable
        Cmd.Result r = run("run", "-v", data + ":/lustre/proj/a/b", "-v", data + ":" + data, "-v", data + "/in:/opt/conf/in.txt",
                "bb", "sh", "-c", "cat /lustre/proj/a/b/in " + data + "/in /opt/conf/in.txt; echo w > /lustre/proj/a/b/w; cat " + data + "/w").ok();
        assertEquals("data\ndata\ndata\nw\n", r.out());
        assertEquals("", r.err(), "nothing to warn about");
        // beside each created mount point the image is as read-only as ever
        Cmd.Result ro = run("run", "-v", data + ":/lustre/proj/a/b", "-v", data + "/in:/opt/conf/in.txt", "bb", "sh", "-c",
                "touch /lustre/x || echo r1; touch /lustre/proj/a/x || echo r2; touch /etc/new || echo r3; mkdir /new || echo r4;"
                        + " rm /opt/conf/in.txt || echo r5");
        assertEquals("r1\nr2\nr3\nr4\nr5\n", ro.ok().out());
        // :ro onto a created mount point is read-only
        Cmd.Result readOnly = run("run", "-v", data + ":/nowhere/ro:ro", "bb", "sh", "-c", "cat /nowhere/ro/in; echo x > /nowhere/ro/x");
        assertNotEquals(0, readOnly.exit(), readOnly.toString());
        assertEquals("data\n", readOnly.out());
        assertFalse(Files.exists(data.resolve("x")));
        // a -v inside another whose host directory lacks the mount point: created there when the user can write it
        // (as Docker does), so the outer directory keeps taking new files
        Cmd.Result nested = run("run", "-v", data + ":/outer", "-v", other + ":/outer/sub/deep", "bb", "sh", "-c",
                "cat /outer/in /outer/sub/deep/o; echo more >> /outer/in; touch /outer/new && echo made");
        assertEquals("data\nother\nmade\n", nested.ok().out());
        assertEquals("", nested.err(), "nothing to warn about");
        assertTrue(Files.isDirectory(data.resolve("sub/deep")), "the mount point is the host's");
        assertTrue(Files.exists(data.resolve("new")));
        // ... and mirrored when it cannot (a read-only outer bind): the outer directory then takes no new entries,
        // said in one warning line, and nothing appears on the host
        Cmd.Result frozen = run("run", "-v", data + ":/outer:ro", "-v", other + ":/outer/sub2/deep", "bb", "sh", "-c",
                "cat /outer/in /outer/sub2/deep/o; touch /outer/new2 || echo refused; echo w > /outer/sub2/deep/w && echo inner");
        assertEquals("data\nmore\nother\nrefused\ninner\n", frozen.ok().out());
        assertFalse(Files.exists(data.resolve("sub2")), "skiff created a directory in a read-only bind's " + data);
        List<String> warn = frozen.err().lines().filter(l -> l.startsWith("skiff: warning:")).toList();
        assertEquals(1, warn.size(), frozen.err());
        assertTrue(warn.getFirst().contains(data.toString()) && warn.getFirst().contains("/outer"), warn.getFirst());
    }

    /** Started from a directory outside home and /tmp, the command runs there, as Apptainer does. */
    @Test
    void theCurrentDirectoryIsBoundAndTheCommandStartsThere() throws Exception {
        Path dir = Path.of("/skiff-cwd-it-" + ProcessHandle.current().pid(), "proj");
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("job.sh"), "#!/bin/sh\necho job in $(pwd)\necho out > result\n");
            Cmd.of("chmod", "755", dir.resolve("job.sh").toString()).run().ok();
            Cmd.of("chown", "-R", Cmd.TEST_USER + ":", dir.getParent().toString()).run().ok();
            assertEquals(dir + "\n", fx.skiff("run", "bb", "pwd").dir(dir).run().ok().out());
            Cmd.Result job = fx.skiff("run", "bb", "./job.sh").dir(dir).run().ok();
            assertEquals("job in " + dir + "\n", job.out());
            assertEquals("", job.err());
            assertEquals("out\n", Files.readString(dir.resolve("result")), "the directory is the host's, writable");
            // the image's WorkingDir with --no-cwd (the directory is then not there at all); -w wins
            assertEquals("/work/sub\n", fx.skiff("run", "--no-cwd", "--entrypoint", "", "ep", "sh", "-c",
                    "test -e " + dir + " || pwd").dir(dir).run().ok().out());
            assertEquals("/work\n", fx.skiff("run", "-w", "/work", "--entrypoint", "", "ep", "pwd").dir(dir).run().ok().out());
            assertEquals(dir + "\n", fx.skiff("run", "--entrypoint", "", "ep", "pwd").dir(dir).run().ok().out());
            // and so with a temporary overlay, and in a persistent container
            assertEquals(dir + "\n", fx.skiff("run", "--writable-tmpfs", "bb", "pwd").dir(dir).run().ok().out());
            assertEquals("job in " + dir + "\n", fx.skiff("run", "--rm", "--name", "cwd-it", "bb", "./job.sh").dir(dir).run().ok().out());
        } finally {
            Cmd.of("rm", "-rf", dir.getParent().toString()).run();
        }
    }

    /** Under home (already bound) the current directory is used where it is, not bound a second time. */
    @Test
    void aCurrentDirectoryAlreadyVisibleIsNotBoundAgain() throws Exception {
        Path dir = Path.of("/home", Cmd.TEST_USER, "skiff-run-it-cwd-" + ProcessHandle.current().pid());
        try {
            Cmd.of("install", "-d", "-o", Cmd.TEST_USER, dir.toString()).run().ok();
            Cmd.Result r = fx.skiff("run", "bb", "sh", "-c", "pwd; grep -c ' " + dir + " ' /proc/self/mountinfo").dir(dir).run();
            assertEquals(dir + "\n0\n", r.out(), r.toString());
        } finally {
            Cmd.of("rm", "-rf", dir.toString()).run();
        }
    }

    @Test
    void writableTmpfsIsDiscardedAtExit() {
        // Writes go to a tmpfs upper layer where the user may write (the image's /scratch belongs to the test user);
        // a -v destination missing in the image is created.
        Cmd.Result r = run("run", "--writable-tmpfs", "-v", fx.base + ":/created/here", "bb", "sh", "-c",
                "echo x > /scratch/f && cat /scratch/f && test -d /created/here && echo created").ok();
        assertEquals("x\ncreated\n", r.out());
        assertEquals(1, run("run", "bb", "test", "-e", "/scratch/f").exit(), "changes are discarded at exit");
        Cmd.Result ro = run("run", "bb", "sh", "-c", "echo x > /scratch/f");
        assertNotEquals(0, ro.exit(), "without --writable-tmpfs the image is read-only: " + ro);
    }

    @Test
    void writableTmpfsChangesRootOwnedPartsOfTheImage() {
        // "conv" is root's in its layer; skiff converts it to its directory form (owned by the user) for the overlay.
        Cmd.Result any = run("run", "--writable-tmpfs", "conv", "sh", "-c",
                "echo changed >> /etc/notexec.sh && cat /etc/notexec.sh && mkdir /etc/new && echo y > /etc/new/f && cat /etc/new/f");
        assertEquals("echo no\nchanged\ny\n", any.ok().out());
        assertEquals(1, run("run", "conv", "test", "-e", "/etc/new").exit(), "discarded at exit");
        assertEquals("echo no\n", run("run", "conv", "cat", "/etc/notexec.sh").ok().out());
    }

    @Test
    void fakerootIsUidZeroInside() {
        Cmd.Result r = run("run", "--fakeroot", "bb", "sh", "-c", "id -u; whoami; grep CapEff /proc/self/status").ok();
        List<String> l = r.out().lines().toList();
        assertEquals("0", l.get(0));
        assertEquals("root", l.get(1));
        assertTrue(l.get(2).matches("CapEff:\\s+0+"), l.get(2));
    }

    @Test
    void pidNamespaceHasAFreshProcAndForwardsTermination() throws Exception {
        Cmd.Result r = run("run", "--pid", "bb", "sh", "-c",
                "tr '\\0' ' ' < /proc/1/cmdline; echo; ls /proc | grep -cE '^[0-9]+$'; exit 5");
        assertEquals(5, r.exit(), r.toString());
        List<String> l = r.out().lines().toList();
        assertTrue(l.get(0).contains("skiff.engine.Stage2"), "pid 1 is skiff's init: " + l.get(0));
        assertTrue(Integer.parseInt(l.get(1)) <= 4, "only the container's processes are visible: " + l.get(1));
        // SIGTERM to skiff's own pid (kill, timeout(1)) reaches the payload through the init, and skiff exits with
        // the payload's status; so does SIGTERM sent to the init itself (a batch system signalling every process).
        for (boolean toInit : new boolean[] {false, true}) {
            Process p = fx.skiff("run", "--pid", "bb", "sh", "-c", "trap 'exit 44' TERM; echo ready; while :; do sleep 0.1; done").start();
            var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
            assertEquals("ready", out.readLine());
            // runuser's child is skiff (bin/skiff execs its JVM); the init is the java process below unshare
            ProcessHandle skiff = p.toHandle().children().findFirst().orElseThrow();
            ProcessHandle target = toInit ? skiff.descendants().filter(h -> h.info().command().orElse("").endsWith("java")
                    && h.info().commandLine().orElse("").contains("skiff.engine.Stage2")).findFirst().orElseThrow() : skiff;
            Cmd.of("kill", "-TERM", Long.toString(target.pid())).run().ok();
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "SIGTERM to " + (toInit ? "the init" : "skiff") + " ends the run");
            assertEquals(44, p.exitValue(), "the payload's status, after SIGTERM to " + (toInit ? "the init" : "skiff"));
        }
    }

    @Test
    void aRunningContainerIsShownAndNotRemovedUnlessForced() throws Exception {
        fx.skiff("create", "--name", "busy", "bb").run().ok();
        Process p = fx.skiff("run", "busy", "sh", "-c", "echo ready; exec sleep 60").start();
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
        assertEquals("ready", out.readLine());
        String ps = run("ps").ok().out();
        assertTrue(ps.lines().anyMatch(l -> l.startsWith("busy ") && l.contains("running (pid ")), ps);
        Cmd.Result rm = run("rm", "busy");
        assertEquals(2, rm.exit(), rm.toString());
        assertTrue(rm.err().contains("container 'busy' is running"), rm.err());
        assertTrue(p.isAlive(), "a refused rm leaves the container running");
        run("rm", "-f", "busy").ok();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "rm -f kills the container's process");
        assertFalse(run("ps", "-q").ok().out().contains("busy"));
        // a record whose process is gone does not count
        fx.skiff("create", "--name", "done", "bb").run().ok();
        run("run", "done", "true").ok();
        assertTrue(run("ps").ok().out().lines().anyMatch(l -> l.startsWith("done ") && l.contains("stopped")));
        run("rm", "done").ok();
    }

    @Test
    void nameCreatesAPersistentContainerAsDockerRunDoes() {
        run("run", "--name", "named", "bb", "sh", "-c", "echo kept > /f").ok();
        assertEquals("kept\n", run("run", "named", "cat", "/f").ok().out());
        Cmd.Result again = run("run", "--name", "named", "bb", "true");
        assertEquals(2, again.exit(), again.toString());
        assertTrue(again.err().contains("'named' is already in use"), again.err());
        Cmd.Result onContainer = run("run", "--name", "other", "named", "true");
        assertEquals(2, onContainer.exit(), onContainer.toString());
        assertTrue(onContainer.err().contains("is a container already"), onContainer.err());
        assertEquals(7, run("run", "--rm", "--name", "gone", "bb", "sh", "-c", "exit 7").exit());
        String ps = run("ps", "-q").ok().out();
        assertTrue(ps.contains("named") && !ps.contains("gone"), ps);
        run("rm", "named").ok();
    }

    @Test
    void hostauthBindsTheHostsFiles() {
        Cmd.Result r = run("run", "--hostauth", "bb", "sh", "-c", "grep -c '' /etc/passwd").ok();
        assertTrue(Integer.parseInt(r.out().strip()) > 2, r.toString());
    }

    @Test
    void persistentContainersAreWritableAndRemovedWithRm() {
        fx.skiff("create", "--name", "keep", "bb").run().ok();
        run("run", "keep", "sh", "-c", "echo kept > /f").ok();
        assertEquals("kept\n", run("run", "keep", "cat", "/f").ok().out());
        assertEquals("1500\n", run("run", "keep", "id", "-u").ok().out());
        assertEquals(3, run("run", "--rm", "keep", "sh", "-c", "exit 3").exit());
        assertFalse(run("ps", "-q").ok().out().contains("keep"), "--rm removes the container after the run");
    }

    @Test
    void policyDevicesAreBoundFromTheHost() {
        Cmd.Result r = run("run", "--device", "/dev/null:/dev/skiff-null", "bb", "sh", "-c",
                "test -c /dev/skiff-null && echo char; echo x > /dev/null && echo devnull-ok");
        assertEquals("char\ndevnull-ok\n", r.ok().out());
    }

    @Test
    void directoryRootfs() {
        assertEquals("1500\n", run("run", "--rootfs-format", "dir", "bb", "id", "-u").ok().out());
    }

    /**
     * The start-up design (RunFastPath, the AOT cache for run) depends on skiff run touching neither picocli nor
     * Jackson: picocli's ~170 classes cannot be AOT-cached and cost ~0.1 s on every MPI rank, and without a
     * configuration file (a compute node's usual case) there is nothing for Jackson to parse. Stage 1 is logged
     * here; stage 2 starts with an environment of its own, and its AOT cache is recorded from the engine alone.
     */
    @Test
    void theLaunchPathLoadsNoPicocliOrJacksonClass() throws Exception {
        Path logs = Files.createDirectories(fx.base.resolve("class-load"));
        Path noConfig = Files.createDirectories(fx.base.resolve("no-config"));
        Cmd.of("chmod", "777", logs.toString(), noConfig.toString()).run().ok();
        Cmd.skiff(fx.storage, "run", "bb", "/bin/true").env("XDG_RUNTIME_DIR", fx.xdg.toString())
                .env("SKIFF_MOUNT_IDLE", "1").env("XDG_CONFIG_HOME", noConfig.toString())
                .env("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + logs + "/%p.log")
                .asTestUser().dir(Path.of("/")).run().ok();
        List<String> loaded = new java.util.ArrayList<>();
        try (var files = Files.list(logs)) {
            for (Path f : files.toList()) loaded.addAll(Files.readAllLines(f));
        }
        assertTrue(loaded.stream().anyMatch(l -> l.contains("skiff.cli.RunFastPath ")), "no class log of the launcher: " + loaded.size() + " lines");
        assertEquals(List.of(), loaded.stream().filter(l -> l.contains(" picocli.") || l.contains(" com.fasterxml.")).toList());
    }

    /**
     * The warm path (issue #12): once an image has run, bin/skiff finds its run record and live mount, enters the
     * namespaces with unshare(1) and starts one JVM (skiff.cli.WarmRun), which builds the container and execs the
     * payload: one class log for the whole start, no picocli or Jackson class in it, and the payload's parent is
     * what started skiff (runuser here), not a skiff process left waiting.
     */
    @Test
    void aWarmStartIsOneJvmAndExecsThePayloadInItsPlace() throws Exception {
        Path logs = Files.createDirectories(fx.base.resolve("class-load-warm"));
        Path noConfig = Files.createDirectories(fx.base.resolve("no-config-warm"));
        Cmd.of("chmod", "777", logs.toString(), noConfig.toString()).run().ok();
        // The first run of this test may be the image's first: it takes the full path and writes the record. The
        // second brings the record up to date should index.json have changed within the second of an earlier run
        // (the shell cannot tell; the JVM resolves the name once more and rewrites the record).
        for (int i = 0; i < 2; i++)
            Cmd.skiff(fx.storage, "run", "bb", "/bin/true").env("XDG_RUNTIME_DIR", fx.xdg.toString())
                    .env("SKIFF_MOUNT_IDLE", "30").env("XDG_CONFIG_HOME", noConfig.toString())
                    .asTestUser().dir(Path.of("/")).run().ok();
        assertTrue(Files.isRegularFile(fx.storage.resolve("run-records/bb")), "no run record written");
        Cmd.Result r = Cmd.skiff(fx.storage, "run", "bb", "sh", "-c", "cat /proc/$PPID/comm; id -u")
                .env("XDG_RUNTIME_DIR", fx.xdg.toString()).env("SKIFF_MOUNT_IDLE", "30")
                .env("XDG_CONFIG_HOME", noConfig.toString())
                .env("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + logs + "/%p.log")
                .asTestUser().dir(Path.of("/")).run().ok();
        assertEquals(List.of("runuser", "1500"), r.out().lines().toList(), r.toString());
        List<Path> files;
        try (var l = Files.list(logs)) {
            files = l.toList();
        }
        assertEquals(1, files.size(), "a warm start must run exactly one JVM: " + files);
        List<String> loaded = Files.readAllLines(files.getFirst());
        assertTrue(loaded.stream().anyMatch(l -> l.contains("skiff.cli.WarmRun ")), "the warm path was not taken");
        assertEquals(List.of(), loaded.stream().filter(l -> l.contains(" picocli.") || l.contains(" com.fasterxml.")
                || l.contains("skiff.image.ImageIndex") || l.contains("skiff.cli.RunInputs$Reader")).toList());
    }

    /**
     * bin/skiff's guess is checked by the JVM: a record whose index stamp is stale is resolved again (and runs when
     * the name still means the same image); a record naming another image than the store does fails with 125 and
     * one line, and is removed, so the next run takes the full path and works.
     */
    @Test
    void aStaleRunRecordIsCheckedAndAWrongOneFailsOnceWithOneLine() throws Exception {
        run("run", "bb", "/bin/true").ok();
        run("run", "none", "/bin/true").ok();
        Path rec = fx.storage.resolve("run-records/none");
        String good = Files.readString(rec);
        String bbHex = Files.readString(fx.storage.resolve("run-records/bb")).lines().skip(1).findFirst().orElseThrow();
        String hex = good.lines().skip(1).findFirst().orElseThrow();
        String[] body = good.split("\n", 6)[5].split("\0", -1);
        String stale = good.replace(body[2], "2000-01-01T00:00:00Z 1");
        forge(rec, stale);
        assertEquals("ok\n", run("run", "none", "/bin/echo", "ok").ok().out());
        forge(rec, stale.replace(hex, bbHex));
        // bb's mount stays alive meanwhile (the reaper's idle period is 1 s here), so the shell's guess passes.
        Process hold = fx.skiff("run", "bb", "sh", "-c", "echo ready; sleep 30").start();
        Cmd.Result r;
        try {
            assertEquals("ready", new java.io.BufferedReader(new java.io.InputStreamReader(hold.getInputStream())).readLine());
            r = run("run", "none", "/bin/echo", "ok");
        } finally {
            hold.toHandle().descendants().forEach(ProcessHandle::destroy);
            hold.destroy();
        }
        assertEquals(125, r.exit(), r.toString());
        assertTrue(r.err().matches("skiff: the quick start-up found its guess wrong \\(image docker.io/library/none:latest changed in the store since its last run\\); run the command again: it then prepares the image the full way\n"), r.err());
        assertFalse(Files.exists(rec), "the wrong record must go");
        assertEquals("ok\n", run("run", "none", "/bin/echo", "ok").ok().out());
        assertTrue(Files.readString(rec).contains(hex), "the full path writes the record again");
    }

    /**
     * In a batch job (SLURM_JOB_ID, no step) the warm path runs and pins the tag for the job as the full path does;
     * in an srun step, whose tasks share a container, bin/skiff leaves the run to the full path.
     */
    @Test
    void aBatchJobTakesTheWarmPathAndPinsTheTagWhileAnSrunStepDoesNot() throws Exception {
        // the directory tree: no shared mount whose 1 s idle period (in these tests) could end between the runs
        run("run", "--rootfs-format", "dir", "ep").ok();
        Path logs = Files.createDirectories(fx.base.resolve("class-load-job"));
        Cmd.of("chmod", "777", logs.toString()).run().ok();
        assertEquals("ep c1 c2\n", fx.skiff("run", "--rootfs-format", "dir", "ep").env("SLURM_JOB_ID", "4242")
                .env("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + logs + "/batch-%p.log").run().ok().out());
        assertEquals("ep c1 c2\n", fx.skiff("run", "--rootfs-format", "dir", "ep").env("SLURM_JOB_ID", "4242").env("SLURM_STEP_ID", "0")
                .env("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + logs + "/step-%p.log").run().ok().out());
        List<String> batch = new java.util.ArrayList<>(), step = new java.util.ArrayList<>();
        try (var l = Files.list(logs)) {
            for (Path f : l.toList()) (f.getFileName().toString().startsWith("batch") ? batch : step).addAll(Files.readAllLines(f));
        }
        assertTrue(batch.stream().anyMatch(x -> x.contains("skiff.cli.WarmRun ")), "the batch job's run was not warm");
        assertTrue(step.stream().noneMatch(x -> x.contains("skiff.cli.WarmRun ")), "an srun task must take the full path");
        String pins = Files.readString(fx.storage.resolve("jobs/slurm-cluster-4242"));
        assertTrue(pins.startsWith("docker.io/library/ep:latest\t"), pins);
    }

    /** Rewrites the test user's run record (newer than index.json, as one the full path writes). */
    private static void forge(Path rec, String text) throws IOException {
        Files.writeString(rec, text);
        Cmd.of("chown", Cmd.TEST_USER + ":", rec.toString()).run().ok();
    }
}
