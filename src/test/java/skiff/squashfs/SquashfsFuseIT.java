package skiff.squashfs;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * skiff's FUSE server (skiff.engine.fuse.FuseMain), run as the unprivileged test user on images made by skiff's
 * writer and by mksquashfs: what a user sees through the mount (stat, readlink, read, xattrs) is what unsquashfs,
 * run as root, extracts from the same image; several readers at once see the same; a corrupt block fails only
 * its file; a killed server leaves ENOTCONN, not a hang; an unmount ends the server.
 */
class SquashfsFuseIT {
    static Path base;
    static Path manifestScript;

    @BeforeAll
    static void setUp() throws IOException {
        base = Files.createTempDirectory(Path.of("/tmp"), "skiff-fuse-it");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        manifestScript = base.resolve("manifest.py");
        try (var in = SquashfsFuseIT.class.getResourceAsStream("/skiff/tree-manifest.py")) {
            Files.write(manifestScript, in.readAllBytes());
        }
    }

    @AfterAll
    static void tearDown() {
        Cmd.of("rm", "-rf", base.toString()).run();
    }

    /** A running server and its mount point, unmounted (and the server's exit checked) by close(). */
    static final class Served implements AutoCloseable {
        final Process server;
        final Path mnt;

        Served(Path image, String name) throws IOException {
            mnt = base.resolve("mnt-" + name);
            Files.createDirectories(mnt);
            Cmd.of("chown", Cmd.TEST_USER, mnt.toString()).run().ok();
            Path jar = Cmd.skiffBin().getParent().getParent().resolve("target/skiff.jar");
            server = Cmd.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", jar.toString(), "skiff.engine.fuse.FuseMain",
                    image.toString(), mnt.toString(), "/usr/bin/fusermount3").asTestUser().start();
            String line = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8)).readLine();
            assertEquals("ready", line, () -> "the server did not start: " + stderr(server));
        }

        long pid() {
            // runuser -> env -> java: the server is the deepest descendant.
            return server.descendants().filter(h -> h.info().command().orElse("").endsWith("/java"))
                    .findFirst().map(ProcessHandle::pid).orElse(server.pid());
        }

        Cmd asUser(String script) {
            return Cmd.of("sh", "-c", script).asTestUser().timeout(Duration.ofMinutes(3));
        }

        @Override
        public void close() throws Exception {
            Cmd.of("fusermount3", "-u", mnt.toString()).asTestUser().run();
            assertTrue(server.waitFor(20, TimeUnit.SECONDS), "the server did not exit after the unmount");
            assertEquals(0, server.exitValue(), () -> "the server failed: " + stderr(server));
        }
    }

    static String stderr(Process p) {
        try {
            return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }

    static String manifestAsRoot(Path dir) {
        return Cmd.of("python3", manifestScript.toString(), dir.toString()).timeout(Duration.ofMinutes(5)).run().ok().out();
    }

    static String manifestAsUser(Path dir) {
        return Cmd.of("python3", manifestScript.toString(), dir.toString()).asTestUser().timeout(Duration.ofMinutes(5)).run().ok().out();
    }

    /** Extracts with unsquashfs as root (owners, devices and all xattrs kept) and compares with the mount. */
    static void assertMountMatchesUnsquashfs(Path image, String name) throws Exception {
        Path ex = base.resolve("ex-" + name);
        Cmd.of("unsquashfs", "-q", "-n", "-d", ex.toString(), image.toString()).timeout(Duration.ofMinutes(5)).run().ok();
        String want = manifestAsRoot(ex);
        try (Served s = new Served(image, name)) {
            String got = manifestAsUser(s.mnt);
            assertTrue(want.lines().count() > 10, want);
            assertEquals(List.of(), diff(want, got), "the mount differs from unsquashfs's extraction of " + name);
        }
        Cmd.of("rm", "-rf", ex.toString()).run().ok();
    }

    @Test
    void mixedTreeWrittenBySkiffMatchesUnsquashfs() throws Exception {
        Path tree = Trees.mixed(base.resolve("mixed"), true);
        assertMountMatchesUnsquashfs(Trees.write(tree, base.resolve("mixed-gzip.sqfs"), SquashfsWriter.Compression.GZIP, null), "mixed-gzip");
        assertMountMatchesUnsquashfs(Trees.write(tree, base.resolve("mixed-zstd.sqfs"), SquashfsWriter.Compression.ZSTD, null), "mixed-zstd");
    }

    @Test
    void hostFilesImageByMksquashfsMatchesUnsquashfs() throws Exception {
        // A Debian-like tree: /etc (owners, modes, root-only files) and the Python standard library.
        Path img = base.resolve("host.sqfs");
        Path py = Files.list(Path.of("/usr/lib")).filter(p -> p.getFileName().toString().matches("python3\\.\\d+"))
                .findFirst().orElse(Path.of("/usr/lib/python3"));
        List<String> cmd = new ArrayList<>(List.of("mksquashfs", "/etc"));
        for (String sub : List.of("email", "json", "encodings", "importlib", "collections", "os.py", "stat.py"))
            if (Files.exists(py.resolve(sub))) cmd.add(py.resolve(sub).toString());
        cmd.addAll(List.of(img.toString(), "-comp", "gzip", "-noappend", "-quiet", "-no-progress"));
        Cmd.of(cmd).timeout(Duration.ofMinutes(5)).run().ok();
        assertMountMatchesUnsquashfs(img, "host");
    }

    @Test
    void theBigTestImageMatchesUnsquashfs() throws Exception {
        // The trees of the big test image (bench/convert.sh): about 1.3 GB and 58 000 entries.
        Path img = base.resolve("big.sqfs");
        Cmd.of("mksquashfs", "/usr/share", "/usr/bin", "/usr/include", img.toString(), "-comp", "gzip", "-noappend", "-quiet",
                "-no-progress").timeout(Duration.ofMinutes(10)).run().ok();
        assertMountMatchesUnsquashfs(img, "big");
        Files.delete(img);
    }

    @Test
    void oddEntriesFromLayersMatchUnsquashfs() throws Exception {
        // What odd layers leave in a flattened tree: non-UTF-8 names, names with newlines and spaces, a file with holes, many hard links, a directory of 3000 entries.
        Path t = Files.createDirectories(base.resolve("odd"));
        Files.write(t.resolve("latin1-\u00e9"), new byte[] {1});
        Cmd.of("sh", "-c", "cd " + t + " && printf x > \"$(printf 'bad-\\377\\376')\" && printf y > 'new\nline' && printf z > ' sp ace '"
                + " && truncate -s 300M sparse && printf end >> sparse && mkdir many && for i in $(seq 1 3000); do : > many/e$i; done"
                + " && printf h > h0 && for i in 1 2 3 4 5; do ln h0 h$i; done && setfattr -n user.k -v v h0 2>/dev/null; true").run().ok();
        Path img = base.resolve("odd.sqfs");
        Cmd.of("mksquashfs", t.toString(), img.toString(), "-comp", "zstd", "-noappend", "-quiet", "-no-progress").run().ok();
        assertMountMatchesUnsquashfs(img, "odd");
    }

    @Test
    void concurrentReadersSeeTheSameContent() throws Exception {
        Path tree = Trees.mixed(base.resolve("conc"), false);
        Path img = Trees.write(tree, base.resolve("conc.sqfs"), SquashfsWriter.Compression.GZIP, null);
        try (Served s = new Served(img, "conc")) {
            String script = "cd " + s.mnt + " && for i in 1 2 3 4 5 6 7 8; do (find . -type f -print0 | sort -z | xargs -0 sha256sum > "
                    + base.resolve("conc-out") + "$i) & done; wait; for i in 2 3 4 5 6 7 8; do cmp " + base.resolve("conc-out")
                    + "1 " + base.resolve("conc-out") + "$i || exit 1; done; wc -l < " + base.resolve("conc-out") + "1";
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxrwxrwx"));
            String out = s.asUser(script).run().ok().out().strip();
            assertTrue(Integer.parseInt(out) > 300, out);
            String want = Cmd.of("sh", "-c", "cd " + tree + " && find . -type f -print0 | sort -z | xargs -0 sha256sum").run().ok().out();
            assertEquals(want, Files.readString(base.resolve("conc-out1")));
        } finally {
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void aCorruptBlockFailsItsFileOnlyAndTheServerLives() throws Exception {
        Path t = Files.createDirectories(base.resolve("corrupt"));
        // mksquashfs writes data blocks right after the 96-byte superblock, in directory order; small files
        // go to a fragment block written after them. "a-victim" is first and compressible.
        Files.writeString(t.resolve("a-victim"), "all work and no play\n".repeat(50_000));
        Files.writeString(t.resolve("b-fine"), "still readable\n");
        Path img = base.resolve("corrupt.sqfs");
        Cmd.of("mksquashfs", t.toString(), img.toString(), "-comp", "gzip", "-noappend", "-quiet", "-no-progress").run().ok();
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(96 + 8);
            byte[] junk = new byte[64];
            new java.util.Random(7).nextBytes(junk);
            f.write(junk);
        }
        try (Served s = new Served(img, "corrupt")) {
            for (int i = 0; i < 2; i++) {
                Cmd.Result r = s.asUser("cat " + s.mnt.resolve("a-victim") + " > /dev/null").timeout(Duration.ofSeconds(30)).run();
                assertNotEquals(0, r.exit());
                assertTrue(r.err().contains("Input/output error"), r.err());
            }
            assertEquals("still readable\n", s.asUser("cat " + s.mnt.resolve("b-fine")).run().ok().out());
            assertTrue(s.server.isAlive(), "the server died on a corrupt block");
        }
    }

    @Test
    void aKilledServerGivesNotConnectedNotAHang() throws Exception {
        Path tree = Trees.mixed(base.resolve("kill"), false);
        Path img = Trees.write(tree, base.resolve("kill.sqfs"), SquashfsWriter.Compression.GZIP, null);
        Served s = new Served(img, "kill");
        try {
            assertEquals("hello\n", s.asUser("cat " + s.mnt.resolve("a/hello")).run().ok().out());
            long pid = s.pid();
            Cmd.of("kill", "-9", Long.toString(pid)).run().ok();
            assertTrue(s.server.waitFor(20, TimeUnit.SECONDS));
            Cmd.Result r = s.asUser("cat " + s.mnt.resolve("text")).timeout(Duration.ofSeconds(30)).run();
            assertNotEquals(0, r.exit());
            assertTrue(r.err().contains("Transport endpoint is not connected"), r.err());
        } finally {
            Cmd.of("fusermount3", "-u", "-z", s.mnt.toString()).asTestUser().run();
        }
        assertFalse(Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + s.mnt + " "));
    }

    /** Lines only in a (-) or only in b (+): a readable failure for manifests of thousands of lines. */
    static List<String> diff(String a, String b) {
        List<String> out = new ArrayList<>();
        var sa = new java.util.HashSet<>(a.lines().toList());
        var sb = new java.util.HashSet<>(b.lines().toList());
        for (String l : a.lines().toList()) if (!sb.contains(l)) out.add("- " + l);
        for (String l : b.lines().toList()) if (!sa.contains(l)) out.add("+ " + l);
        return out;
    }
}
