package skiff.policy;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.LibTree;
import skiff.testing.MpiImages;
import skiff.testing.Slurm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code skiff run --mpi} as the unprivileged test user: the host's MPICH (Debian's libmpich.so.12, 4.0.2) runs
 * the MPICH test image's mpi_hello in place of the image's own library, which is deliberately broken here (same
 * file name and SONAME, no MPI in it), so only the injected library can make the program work: alone, and as two
 * ranks of the host's mpiexec, and of srun --mpi=pmi2, in one shared container. Then the errors a
 * user meets: no MPI at this site, an image of another MPI ABI, an image without MPI. The site configuration is
 * the shipped example module, docs/site-examples/site.d/60-mpich.toml.
 */
class HostMpiIT {
    static final String LIBDIR = "/usr/lib/x86_64-linux-gnu";
    static final String BROKEN = "example.org/mpi/mpich-broken:1";
    static final String OLD_ABI = "example.org/mpi/mpich-abi11:1";
    static final String NO_MPI = "example.org/mpi/nompi:1";
    static Path work;
    static Path storage;
    static Path site;
    static Path plainSite;
    static Path hostMpich;

    @BeforeAll
    static void setUp() throws IOException {
        hostMpich = Path.of(LIBDIR, "libmpich.so.12").toRealPath();
        work = Files.createTempDirectory(Path.of("/var/tmp"), "skiff-hostmpi-it-");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        storage = work.resolve("storage");

        // The MPICH image with one more layer: its libmpich.so.12.2.2 replaced by a library with no MPI in it.
        Path layout = work.resolve("layout");
        Cmd.of("skopeo", "copy", "--quiet", MpiImages.skopeoRef(MpiImages.Mpi.MPICH), "oci:" + layout + ":broken").run().ok();
        Path stub = work.resolve("stub");
        LibTree.library(stub.resolve(LIBDIR.substring(1)), "libmpich.so.12.2.2", "libmpich.so.12");
        Path tar = work.resolve("stub.tar");
        Cmd.of("tar", "--numeric-owner", "-C", stub.toString(), "-cf", tar.toString(), ".").run().ok();
        Cmd.of("umoci", "raw", "add-layer", "--image", layout + ":broken", tar.toString()).run().ok();
        skiff.store.Store.open(storage);
        Cmd.of("skopeo", "copy", "--quiet", "oci:" + layout + ":broken", "oci:" + storage.resolve("oci") + ":" + BROKEN).run().ok();

        // An MPICH of ABI 11 (as MPICH 3.0 shipped), and an image with no MPI at all, each with its linker cache.
        Path old = ImageBuilder.busyboxTree(work.resolve("old/tree"));
        LibTree.library(old.resolve(LIBDIR.substring(1)), "libmpich.so.11.0.0", "libmpich.so.11");
        LibTree.ldconfig(old);
        ImageBuilder.create(work.resolve("old/img")).layerFromDir(old).copyInto(storage, OLD_ABI);
        Path none = ImageBuilder.busyboxTree(work.resolve("none/tree"));
        LibTree.library(none.resolve(LIBDIR.substring(1)), "libz.so.1.2.13", "libz.so.1");
        LibTree.ldconfig(none);
        ImageBuilder.create(work.resolve("none/img")).layerFromDir(none).copyInto(storage, NO_MPI);
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":" + Cmd.TEST_USER, storage.toString()).run().ok();

        // The documented example module, as an administrator would install it.
        site = Files.createDirectories(work.resolve("site"));
        Files.createDirectories(site.resolve("site.d"));
        Files.copy(Path.of(System.getProperty("skiff.home", "."), "docs/site-examples/site.d/60-mpich.toml"), site.resolve("site.d/60-mpich.toml"));
        plainSite = Files.createDirectories(work.resolve("plain-site"));
        Files.writeString(plainSite.resolve("site.toml"), "[modules.other]\ndescription = \"no MPI here\"\n");
    }

    @AfterAll
    static void tearDown() {
        if (work != null) Cmd.of("rm", "-rf", work.toString()).run();
    }

    static Cmd skiff(Path siteDir, String... args) {
        List<String> a = new ArrayList<>(List.of(Cmd.skiffBin().toString()));
        a.addAll(List.of(args));
        return Cmd.of(a).env("SKIFF_STORAGE", storage.toString()).env("SKIFF_SITE_DIR", siteDir.toString())
                .asTestUser().dir(Path.of("/")).timeout(Duration.ofMinutes(3));
    }

    @Test
    void theHostsMpichRunsTheImagesProgram() throws IOException {
        Cmd.Result own = skiff(site, "run", BROKEN, "/usr/local/bin/mpi_hello", "1").run();
        assertEquals(127, own.exit(), own.toString());
        assertTrue(own.err().contains("undefined symbol: MPI_Init"), own.err());

        Cmd.Result r = skiff(site, "run", "--mpi", "-e", "LD_DEBUG=libs", BROKEN, "/usr/local/bin/mpi_hello", "1").run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("hello rank=0 size=1") && r.out().contains("hello ok size=1"), r.out());
        assertTrue(r.err().contains("calling init: /.skiff/mpi/lib/libmpich.so.12"), r.err());
        assertTrue(r.err().contains("calling init: /.skiff/mpi/lib/libucp.so.0"), r.err());  // a dependency the module names

        // The image's own file is the host's too: a program that resets LD_LIBRARY_PATH, and so goes by the
        // image's ld.so.cache, runs on the host's library as well.
        long size = Files.size(hostMpich);
        Cmd.Result wc = skiff(site, "run", "--mpi", BROKEN, "sh", "-c", "wc -c < " + LIBDIR + "/libmpich.so.12; echo $LD_LIBRARY_PATH;"
                + " LD_LIBRARY_PATH= /usr/local/bin/mpi_hello 1").run().ok();
        assertEquals(List.of(Long.toString(size), "/.skiff/mpi/lib"), wc.out().strip().lines().map(String::strip).limit(2).toList());
        assertTrue(wc.out().contains("hello ok size=1"), wc.out());
    }

    /**
     * The warm path (one JVM, already in the namespaces) with the site's MPI module in force: the module comes from
     * the policy the full path recorded (root's site directory cannot be checked from inside the namespace), and the
     * host's library replaces the image's as on the full path. No picocli or Jackson class is loaded.
     */
    @Test
    void aWarmStartInjectsTheHostsMpichFromTheRecordedSitePolicy() throws IOException {
        Path logs = Files.createDirectories(work.resolve("class-load-warm"));
        Cmd.of("chmod", "777", logs.toString()).run().ok();
        // the first run writes the record; a second brings it up to date should index.json have changed within its second
        for (int i = 0; i < 2; i++)
            skiff(site, "run", "--mpi", BROKEN, "/usr/local/bin/mpi_hello", "1").env("SKIFF_MOUNT_IDLE", "30").run().ok();
        Cmd.Result r = skiff(site, "run", "--mpi", BROKEN, "/usr/local/bin/mpi_hello", "1").env("SKIFF_MOUNT_IDLE", "30")
                .env("JAVA_TOOL_OPTIONS", "-Xlog:class+load=info:file=" + logs + "/%p.log").run().ok();
        assertTrue(r.out().contains("hello ok size=1"), r.out());
        List<String> loaded = new ArrayList<>();
        List<Path> files;
        try (var l = Files.list(logs)) {
            files = l.toList();
        }
        for (Path f : files) loaded.addAll(Files.readAllLines(f));
        assertEquals(1, files.size(), "a warm start is one JVM: " + files);
        assertTrue(loaded.stream().anyMatch(l -> l.contains("skiff.cli.WarmRun ")), "the warm path was not taken");
        assertEquals(List.of(), loaded.stream().filter(l -> l.contains(" picocli.") || l.contains(" com.fasterxml.")).toList());
    }

    /**
     * Two ranks started by the host's MPICH launcher (PMI over the socket Hydra passes each rank), sharing one
     * container (--join), so that UCX's shared memory works between them as on the host.
     */
    @Test
    void twoRanksUnderTheHostsMpiexec() {
        List<String> a = new ArrayList<>(List.of("mpiexec.mpich", "-n", "2", Cmd.skiffBin().toString(), "run",
                "--join", "hostmpi-it", "--mpi", BROKEN, "/usr/local/bin/mpi_hello", "2"));
        Cmd.Result r = Cmd.of(a).env("SKIFF_STORAGE", storage.toString()).env("SKIFF_SITE_DIR", site.toString())
                .asTestUser().dir(Path.of("/")).timeout(Duration.ofMinutes(3)).run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("hello rank=0 size=2") && r.out().contains("hello rank=1 size=2")
                && r.out().contains("hello ok size=2"), r.out());
    }

    /** The same under Slurm: srun's PMI-2 (MPICH speaks no PMIx), the ranks of the step sharing one container. */
    @Test
    void twoRanksUnderSrun() {
        Slurm.up();
        Cmd.Result r = Slurm.asUser(Map.of("SKIFF_STORAGE", storage.toString(), "SKIFF_SITE_DIR", site.toString()),
                List.of("srun", "--mpi=pmi2", "-n", "2", Cmd.skiffBin().toString(), "run", "--mpi", BROKEN, "/usr/local/bin/mpi_hello"))
                .timeout(Duration.ofMinutes(3)).run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("hello rank=0 size=2") && r.out().contains("hello rank=1 size=2")
                && r.out().contains("hello ok size=2"), r.out());
    }

    @Test
    void mpiWhereTheSiteOffersNone() {
        Cmd.Result r = skiff(plainSite, "run", "--mpi", BROKEN, "/usr/local/bin/mpi_hello", "1").run();
        assertEquals(6, r.exit(), r.toString());
        assertEquals("skiff: --mpi: this site offers no host MPI (no module with an mpi table in its site configuration);"
                + " run without --mpi to use the image's own MPI, or ask the administrator", r.err().strip());
    }

    @Test
    void anImageOfAnotherMpiAbiIsRefusedBeforeItRuns() {
        Cmd.Result r = skiff(site, "run", "--mpi", OLD_ABI, "echo", "ran").run();
        assertEquals(6, r.exit(), r.toString());
        assertEquals("", r.out());
        String err = skiffLines(r.err());
        assertFalse(err.contains("\n"), err);
        assertTrue(err.startsWith("skiff: host MPI (module mpich): the host's " + hostMpich.getFileName() + " (ABI 12.2.2) is not ABI-compatible"
                + " with the image's " + LIBDIR + "/libmpich.so.11.0.0 (ABI 11.0.0)"), err);
    }

    @Test
    void anImageWithoutMpi() {
        Cmd.Result r = skiff(site, "run", "--mpi", NO_MPI, "echo", "ran").run();
        assertEquals(6, r.exit(), r.toString());
        assertTrue(skiffLines(r.err()).startsWith("skiff: host MPI (module mpich): the image has no MPI library to replace (libmpich.so"), r.err());
        assertEquals("ran\n", skiff(site, "run", NO_MPI, "echo", "ran").run().ok().out());
    }

    /** stderr without the one line a first run's conversion leaves there (the image is converted on first use). */
    static String skiffLines(String err) {
        return String.join("\n", err.lines().filter(l -> !l.contains(": converted to ")).toList()).strip();
    }
}
