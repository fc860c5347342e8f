package skiff.policy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.mpi.LdSoCache;
import skiff.policy.mpi.MpiTransform;
import skiff.policy.mpi.SoName;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.testing.Cmd;
import skiff.testing.LibTree;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Host MPI injection (--mpi) against image trees made with gcc and ldconfig, and the host's real MPICH
 * (Debian's libmpich.so.12, from ci/setup.sh) found through the host's real /etc/ld.so.cache.
 */
class MpiTest {
    static final String TRIPLET_DIR = "usr/lib/x86_64-linux-gnu";
    static final Path HOST_MPICH = Path.of("/usr/lib/x86_64-linux-gnu/libmpich.so.12");

    @TempDir
    Path tmp;
    Fixture f;
    Path image;

    @BeforeEach
    void setUp() {
        f = new Fixture(tmp);
        image = Fixture.mkdir(tmp.resolve("image"));
    }

    static String module(String extra) {
        return """
                [modules.mpich]
                description = "host MPICH"
                [modules.mpich.mpi]
                libs = ["libmpich.so.12"]
                dependency_libs = ["libucp.so.0", "/usr/lib/x86_64-linux-gnu/libhwloc.so.15"]
                """ + extra;
    }

    RunRequest request(Boolean mpi, String... modules) {
        return new RunRequest("docker.io/library/mpich:4", null, List.of(), List.of(), null, List.of(modules),
                Map.of("PATH", "/nonexistent"), 1000, 1000, "alice", List.of("users"), image, null, mpi);
    }

    Spec run(Boolean mpi, String... modules) {
        return f.policy().apply(Fixture.base(), request(mpi, modules));
    }

    SkiffException fails(Boolean mpi, String... modules) {
        return assertThrows(SkiffException.class, () -> run(mpi, modules));
    }

    static List<String> binds(Spec s) {
        List<String> out = new ArrayList<>();
        for (Mount m : s.mounts()) if (m.isBind()) out.add(m.source() + " -> " + m.destination() + (m.readOnly() ? " ro" : ""));
        return out;
    }

    @Test
    void theImageCacheReadsAsLdconfigPrintsIt() throws Exception {
        List<String> ours = new ArrayList<>();
        for (LdSoCache.Entry e : LdSoCache.parse(Files.readAllBytes(Path.of("/etc/ld.so.cache")), LdSoCache.hostFlags()))
            ours.add(e.soname() + " => " + e.path());
        List<String> theirs = new ArrayList<>();
        for (var e : skiff.policy.gpu.LdCache.parse(Cmd.of("/sbin/ldconfig", "-p").run().ok().out()))
            if (e.flags().contains("x86-64")) theirs.add(e.soname() + " => " + e.path());
        assertTrue(theirs.size() > 50, "host cache too small to mean anything: " + theirs.size());
        assertEquals(theirs, ours);
        assertEquals(List.of(), LdSoCache.parse("glibc-ld.so.cache1.1 truncated".getBytes(), -1));
        byte[] garbage = Files.readAllBytes(Path.of("/etc/ld.so.cache"));
        for (int i = 48; i < 48 + 24 * 20; i++) garbage[i] = (byte) 0xff;  // offsets far outside the file
        assertDoesNotThrow(() -> LdSoCache.parse(garbage, -1));
    }

    /** The layouts older images carry: "compat" (old entries, then the new table; glibc 2.31 and before) and "old". */
    @Test
    void everyCacheLayoutReadsAsLdconfigPrintsIt() {
        LibTree.library(image.resolve(TRIPLET_DIR), "libmpich.so.12.2.2", "libmpich.so.12");
        LibTree.library(image.resolve("opt/x"), "libucp.so.0.0.0", "libucp.so.0");
        Fixture.mkdir(image.resolve("etc"));
        f.write("image/etc/ld.so.conf", "/opt/x\n");
        for (String format : List.of("new", "compat", "old")) {
            LibTree.ldconfig(image, format, "/etc/cache." + format);
            Path file = image.resolve("etc/cache." + format);
            List<String> theirs = new ArrayList<>();
            for (var e : skiff.policy.gpu.LdCache.parse(Cmd.of("/sbin/ldconfig", "-p", "-C", file.toString()).run().ok().out()))
                theirs.add(e.soname() + " => " + e.path());
            List<String> ours = new ArrayList<>();
            try {
                for (LdSoCache.Entry e : LdSoCache.parse(Files.readAllBytes(file), LdSoCache.hostFlags()))
                    ours.add(e.soname() + " => " + e.path());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            assertEquals(2, theirs.size(), format + ": " + theirs);
            assertEquals(theirs, ours, format);
        }
    }

    @Test
    void soNamesSplitAsTheAbiRulesReadThem() {
        assertEquals(new SoName("libmpich.so", List.of(12, 2, 2)), SoName.parse("libmpich.so.12.2.2"));
        assertEquals("libmpich.so.12", SoName.parse("libmpich.so.12.2.2").soname());
        assertEquals(new SoName("libmpi_cray.so", List.of(12)), SoName.parse("libmpi_cray.so.12"));
        assertEquals(new SoName("libfoo.something.so", List.of(1)), SoName.parse("libfoo.something.so.1"));
        assertEquals(0, SoName.parse("libmpich.so.12").minor());
        assertFalse(SoName.parse("libmpich.so").hasMajor());
        assertNull(SoName.parse("passwd"));
        assertNull(SoName.parse("libmpich.sox"));
    }

    /** The image's MPICH lies in a directory only its ld.so.conf names: found through its cache, replaced there. */
    @Test
    void hostMpichReplacesTheImagesFoundThroughItsCache() throws Exception {
        f.siteToml(module(""));
        Path opt = image.resolve("opt/mpich/lib");
        LibTree.library(opt, "libmpich.so.12.1.0", "libmpich.so.12");
        LibTree.library(opt, "libucp.so.0.0.0", "libucp.so.0");    // the image's own UCX: replaced too
        LibTree.library(opt, "libhwloc.so.5.0.0", "libhwloc.so.5"); // another major than the host's: kept
        Files.writeString(Fixture.mkdir(image.resolve("etc")).resolve("ld.so.conf"), "/opt/mpich/lib\n");
        LibTree.ldconfig(image);
        Path hostReal = HOST_MPICH.toRealPath();

        Spec s = run(true);
        List<String> b = binds(s);
        assertTrue(b.contains(hostReal + " -> /opt/mpich/lib/libmpich.so.12.1.0 ro"), b.toString());
        assertTrue(b.contains(hostReal + " -> " + MpiTransform.LIB_DIR + "/libmpich.so.12 ro"), b.toString());
        assertTrue(b.contains(Path.of("/usr/lib/x86_64-linux-gnu/libucp.so.0").toRealPath() + " -> " + MpiTransform.LIB_DIR + "/libucp.so.0 ro"), b.toString());
        assertTrue(b.contains(Path.of("/usr/lib/x86_64-linux-gnu/libhwloc.so.15").toRealPath() + " -> " + MpiTransform.LIB_DIR + "/libhwloc.so.15 ro"), b.toString());
        assertTrue(b.contains(Path.of("/usr/lib/x86_64-linux-gnu/libucp.so.0").toRealPath() + " -> /opt/mpich/lib/libucp.so.0.0.0 ro"), b.toString());
        assertEquals(List.of(), b.stream().filter(x -> x.contains("libhwloc.so.5")).toList());
        assertEquals(5, b.size(), b.toString());
        assertEquals(MpiTransform.LIB_DIR, Fixture.env(s).get("LD_LIBRARY_PATH"));
        assertEquals(List.of(), f.warnings);
        // The same request without --mpi leaves the image's MPI alone.
        assertEquals(List.of(), binds(run(null)));
    }

    /** Debian's layout: libmpich.so.12 -> libmpich.so.12.2.2 in the multiarch directory, no cache at all. */
    @Test
    void imagesWithoutCacheAreScannedAndLinksFollowedInsideTheImage() throws Exception {
        f.siteToml(module(""));
        Path dir = image.resolve(TRIPLET_DIR);
        LibTree.library(dir, "libmpich.so.12.2.2", "libmpich.so.12");
        Files.createSymbolicLink(dir.resolve("libmpich.so.12"), Path.of("libmpich.so.12.2.2"));
        Files.createSymbolicLink(dir.resolve("libmpich.so"), Path.of("/usr/lib/x86_64-linux-gnu/libmpich.so.12"));
        List<String> b = binds(run(true));
        String host = HOST_MPICH.toRealPath().toString();
        assertEquals(1, b.stream().filter(x -> x.startsWith(host + " -> /usr/lib/")).count(), b.toString());
        assertTrue(b.contains(host + " -> /usr/lib/x86_64-linux-gnu/libmpich.so.12.2.2 ro"), b.toString());
    }

    @Test
    void abiMajorMismatchIsOneLineNamingBothVersions() {
        f.siteToml(module(""));
        LibTree.library(image.resolve(TRIPLET_DIR), "libmpich.so.11.0.0", "libmpich.so.11");
        LibTree.ldconfig(image);
        SkiffException e = fails(true);
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains("libmpich.so.12.2.2 (ABI 12.2.2)") && e.getMessage().contains("libmpich.so.11.0.0 (ABI 11.0.0)")
                && e.getMessage().contains("major versions differ"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void anImageWithoutMpiIsAnErrorWhenAskedForAndLeftAloneByTheSiteDefault() throws Exception {
        f.siteToml(module(""));
        LibTree.library(image.resolve(TRIPLET_DIR), "libz.so.1.2.13", "libz.so.1");
        // A cache entry whose file a later build step removed (Sarus' nonexisting_ldcache_entry case).
        LibTree.library(image.resolve("opt/gone"), "libmpich.so.12.2.2", "libmpich.so.12");
        Files.writeString(Fixture.mkdir(image.resolve("etc")).resolve("ld.so.conf"), "/opt/gone\n");
        LibTree.ldconfig(image);
        Files.delete(image.resolve("opt/gone/libmpich.so.12.2.2"));
        assertTrue(Files.isSymbolicLink(image.resolve("opt/gone/libmpich.so.12")));
        // A link that leads out of the library directory does not make a file there an MPI library.
        Files.createSymbolicLink(image.resolve(TRIPLET_DIR).resolve("libmpich.so.12"), Path.of("../../../../../etc/passwd"));
        Files.writeString(image.resolve("etc/passwd"), "root:x:0:0::/:/bin/sh\n");
        SkiffException e = fails(true);
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains("the image has no MPI library to replace (libmpich.so"), e.getMessage());

        f.siteToml(module("").replace("description = \"host MPICH\"", "default = true"));
        Spec s = run(null);
        assertEquals(List.of(), binds(s));
        assertNull(Fixture.env(s).get("LD_LIBRARY_PATH"));
        assertEquals(ExitCode.POLICY, fails(null, "mpich").exitCode());  // --module is asking for it too
    }

    @Test
    void mpiWithoutAnMpiModuleSaysTheSiteHasNone() {
        f.siteToml("[modules.other]\ndescription = \"x\"\n");
        SkiffException e = fails(true);
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().startsWith("--mpi: this site offers no host MPI"), e.getMessage());
    }

    /** Versions from fake host files: the rules are about names, the contents do not matter to them. */
    @Test
    void compatibilityRulesOnTheMinorVersion() throws Exception {
        Path hostDir = Fixture.mkdir(tmp.resolve("host"));
        Files.writeString(hostDir.resolve("libmpich.so.12.1.3"), "host");
        Files.createSymbolicLink(hostDir.resolve("libmpich.so.12"), Path.of("libmpich.so.12.1.3"));
        Path dir = image.resolve(TRIPLET_DIR);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("libmpich.so.12.2.0"), "image");
        String site = "[modules.mpich.mpi]\nlibs = [\"" + hostDir + "/libmpich.so.12\"]\ncompatibility = \"%s\"\n";

        f.siteToml(site.formatted("major"));
        assertTrue(binds(run(true)).contains(hostDir + "/libmpich.so.12.1.3 -> /usr/lib/x86_64-linux-gnu/libmpich.so.12.2.0 ro"));
        assertEquals(List.of(), f.warnings);

        f.siteToml(site.formatted("full"));
        assertEquals(2, binds(run(true)).size());
        assertEquals(1, f.warnings.size(), f.warnings.toString());
        assertTrue(f.warnings.getFirst().contains("(ABI 12.1.3) is older than the image's /usr/lib/x86_64-linux-gnu/libmpich.so.12.2.0 (ABI 12.2.0): partial ABI compatibility"),
                f.warnings.getFirst());

        f.siteToml(site.formatted("strict"));
        SkiffException e = fails(true);
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains("compatibility = strict"), e.getMessage());

        Files.move(dir.resolve("libmpich.so.12.2.0"), dir.resolve("libmpich.so.12.1.0"));
        f.warnings.clear();
        f.siteToml(site.formatted("full"));
        assertEquals(2, binds(run(true)).size());
        assertEquals(List.of(), f.warnings);
        f.siteToml(site.formatted("strict"));
        assertEquals(2, binds(run(true)).size());
    }

    @Test
    void theSiteConfigurationIsValidated() throws Exception {
        LibTree.library(image.resolve(TRIPLET_DIR), "libmpich.so.12.2.2", "libmpich.so.12");
        f.siteToml("[modules.mpich.mpi]\nlibs = [\"libmpich.so.12\"]\ndependency_libs = [\"libucp.so.0\", \"libc.so.6\"]\n");
        SkiffException e = fails(true);
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains("'libc.so.6' is part of the C library"), e.getMessage());

        f.siteToml("[modules.mpich.mpi]\nlibs = [\"libmpich.so.12\", \"/lib64/ld-linux-x86-64.so.2\"]\n");
        assertTrue(fails(true).getMessage().contains("part of the C library"));

        f.siteToml("[modules.mpich.mpi]\nlibs = [\"libmpich.so.12\"]\ncompatibility = \"loose\"\n");
        assertTrue(fails(true).getMessage().contains("compatibility = 'loose' is not one of major, full, strict"));

        f.siteToml("[modules.mpich.mpi]\nlibs = []\n");
        assertEquals(ExitCode.POLICY, fails(true).exitCode());

        f.siteToml("[modules.mpich.mpi]\nlibs = [\"lib/libmpich.so.12\"]\n");
        assertTrue(fails(true).getMessage().contains("must be an absolute host path or a library name"));

        // Valid, but not installed on this node: the node lacks it (HOST), not the configuration.
        f.siteToml("[modules.mpich.mpi]\nlibs = [\"/opt/nowhere/libmpich.so.12\"]\n");
        e = fails(true);
        assertEquals(ExitCode.HOST, e.exitCode());
        assertTrue(e.getMessage().contains("the host MPI library /opt/nowhere/libmpich.so.12 is missing on this node"), e.getMessage());
        f.siteToml("[modules.mpich.mpi]\nlibs = [\"libmpich.so.12\"]\ndependency_libs = [\"libnothing-here.so.3\"]\n");
        assertEquals(ExitCode.HOST, fails(true).exitCode());

        f.siteToml("[modules.mpich.mpi]\nlibs = [\"libmpich.so.12\"]\ndepedency_libs = [\"libucp.so.0\"]\n");
        run(true);
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("unknown setting 'depedency_libs'")), f.warnings.toString());
    }

    @Test
    void noMpiTurnsOffTheSiteDefaultButNotAnExplicitModule() {
        f.siteToml(module("").replace("description = \"host MPICH\"", "default = true"));
        LibTree.library(image.resolve(TRIPLET_DIR), "libmpich.so.11.0.0", "libmpich.so.11");
        SkiffException e = fails(null);  // the default applies, and the image's MPI is of another ABI
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().endsWith("or run with --no-mpi to use the image's own MPI"), e.getMessage());
        assertTrue(fails(true).getMessage().endsWith("or run without --mpi (or --module mpich) to use the image's own MPI"));
        assertEquals(List.of(), binds(run(false)));
        assertEquals(ExitCode.USAGE, fails(false, "mpich").exitCode());
        assertEquals(List.of("mpich"), f.policy().modules(request(null)));
        assertEquals(List.of(), f.policy().modules(request(false)));
    }

    @Test
    void severalMpiModules() throws Exception {
        LibTree.library(image.resolve(TRIPLET_DIR), "libmpich.so.12.2.2", "libmpich.so.12");
        f.siteToml(module("") + "[modules.other.mpi]\nlibs = [\"libmpich.so.12\"]\n");
        assertEquals(ExitCode.USAGE, fails(true).exitCode());
        assertEquals(ExitCode.USAGE, fails(null, "mpich", "other").exitCode());
        assertEquals(2, binds(run(null, "other")).size());
        f.siteToml(module("") + "[modules.other]\ndefault = true\n[modules.other.mpi]\nlibs = [\"libmpich.so.12\"]\n");
        assertEquals(List.of("other"), f.policy().modules(request(true)));
        assertTrue(Policy.describe(f.policy().site().modules().get("mpich")).containsAll(List.of(
                "mpi library libmpich.so.12", "mpi dependency libucp.so.0", "mpi compatibility major")));
    }
}
