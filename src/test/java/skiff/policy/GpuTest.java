package skiff.policy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.gpu.LdCache;
import skiff.policy.gpu.NvidiaDriver;
import skiff.spec.Linux;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** --gpus against a fake driver: libs in nvidia/lib64 listed by a recorded `ldconfig -p`, nvidia-smi in nvidia/bin, fake /dev. */
class GpuTest {
    @TempDir
    Path tmp;
    Fixture f;
    Path lib64;
    Path bin;

    @BeforeEach
    void setUp() throws Exception {
        f = new Fixture(tmp);
        lib64 = Fixture.mkdir(tmp.resolve("nvidia/lib64"));
        Path lib32 = Fixture.mkdir(tmp.resolve("nvidia/lib32"));
        bin = Fixture.mkdir(tmp.resolve("nvidia/bin"));
        for (String l : List.of("libcuda.so.550.54.15", "libnvidia-ml.so.550.54.15", "libcudadebugger.so.550.54.15", "libnvidia-ptxjitcompiler.so.550.54.15"))
            Files.writeString(lib64.resolve(l), "ELF");
        Files.createSymbolicLink(lib64.resolve("libcuda.so.1"), Path.of("libcuda.so.550.54.15"));
        Files.createSymbolicLink(lib64.resolve("libnvidia-ml.so.1"), Path.of("libnvidia-ml.so.550.54.15"));
        Files.createSymbolicLink(lib64.resolve("libcudadebugger.so.1"), Path.of("libcudadebugger.so.550.54.15"));
        Files.writeString(lib32.resolve("libcuda.so.1"), "ELF32");
        Path smi = Files.writeString(bin.resolve("nvidia-smi"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
        // ldconfig -p as printed on a host with the driver in /usr/local/nvidia/lib64 (paths moved into tmp).
        f.ldconfig = """
                123 libs found in cache `/etc/ld.so.cache'
                	libz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1
                	libnvidia-ml.so.1 (libc6,x86-64) => %1$s/libnvidia-ml.so.1
                	libcudadebugger.so.1 (libc6,x86-64) => %1$s/libcudadebugger.so.1
                	libcuda.so.1 (libc6,x86-64) => %1$s/libcuda.so.1
                	libcuda.so.1 (libc6) => %2$s/libcuda.so.1
                	libnvidia-gpucomp.so.550.54.15 (libc6,x86-64) => %1$s/missing.so
                """.formatted(lib64, lib32);
        for (String n : List.of("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia0", "nvidia1", "nvidia2"))
            Files.writeString(f.dev.resolve(n), "x".repeat(n.endsWith("0") ? 0 : n.endsWith("1") ? 1 : n.endsWith("2") ? 2 : 255));
        f.siteToml("[gpu]\nbin_dirs = [\"" + bin + "\"]\nlib_dirs = [\"" + lib64 + "\"]\n");
    }

    Spec run(String gpus, Map<String, String> hostEnv) {
        RunRequest r = new RunRequest(null, null, List.of(), List.of(), gpus, List.of(), hostEnv, 1000, 1000, "alice", List.of(), null);
        return f.policy().apply(Fixture.base(), r);
    }

    static List<String> devices(Spec s) {
        return s.linux().devices().stream().map(Linux.LinuxDevice::path).toList();
    }

    @Test
    void ldconfigParsingKeepsSonameFlagsAndPath() {
        List<LdCache.Entry> e = LdCache.parse(f.ldconfig);
        assertEquals(6, e.size());
        assertEquals(new LdCache.Entry("libcuda.so.1", "libc6,x86-64", lib64 + "/libcuda.so.1"), e.get(3));
    }

    @Test
    void allBindsTheDriverLibrariesProgramsAndEveryGpu() {
        Spec s = run("all", Map.of("PATH", "/nonexistent"));
        Map<String, String> binds = new java.util.LinkedHashMap<>();
        for (Mount m : s.mounts()) binds.put(m.destination(), m.source());
        assertEquals(lib64 + "/libcuda.so.1", binds.get("/.skiff/nvidia/lib/libcuda.so.1"), "64-bit entry, not the 32-bit one");
        assertEquals(lib64 + "/libnvidia-ml.so.1", binds.get("/.skiff/nvidia/lib/libnvidia-ml.so.1"));
        assertEquals(lib64 + "/libcudadebugger.so.1", binds.get("/.skiff/nvidia/lib/libcudadebugger.so.1"));
        assertTrue(binds.containsKey("/.skiff/nvidia/lib/libnvidia-ptxjitcompiler.so.550.54.15"), "found in lib_dirs though not in the cache: " + binds);
        assertFalse(binds.containsKey("/.skiff/nvidia/lib/libz.so.1"));
        assertFalse(binds.keySet().stream().anyMatch(k -> k.contains("gpucomp")), "cache entries whose file is gone are skipped");
        assertEquals(bin + "/nvidia-smi", binds.get("/.skiff/nvidia/bin/nvidia-smi"));
        assertTrue(s.mounts().stream().allMatch(Mount::readOnly));
        assertEquals(List.of("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia2"), devices(s));
        Map<String, String> env = Fixture.env(s);
        assertEquals("/.skiff/nvidia/lib", env.get("LD_LIBRARY_PATH"));
        assertEquals("/usr/bin:/bin:/.skiff/nvidia/bin", env.get("PATH"));
        assertEquals(tmp.resolve("dev/nvidia1"), skiff.policy.device.DeviceEdits.source(s, s.linux().devices().get(4)).hostPath());
    }

    @Test
    void indicesSelectGpusAndTheSchedulersVisibleSetIsHonoured() {
        assertEquals(List.of("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia2"), devices(run("2", Map.of())));
        assertTrue(devices(run("all", Map.of("NVIDIA_VISIBLE_DEVICES", "1"))).containsAll(List.of("/dev/nvidia1")));
        assertFalse(devices(run("all", Map.of("NVIDIA_VISIBLE_DEVICES", "1"))).contains("/dev/nvidia0"));
        Spec cuda = run("all", Map.of("CUDA_VISIBLE_DEVICES", "0,2"));
        assertEquals(List.of("/dev/nvidia0", "/dev/nvidia2"), devices(cuda).subList(3, 5));
        assertEquals("0,2", Fixture.env(cuda).get("CUDA_VISIBLE_DEVICES"));
        assertEquals(ExitCode.POLICY, assertThrows(SkiffException.class, () -> run("1", Map.of("CUDA_VISIBLE_DEVICES", "0"))).exitCode());
        assertEquals(ExitCode.HOST, assertThrows(SkiffException.class, () -> run("7", Map.of())).exitCode());
        assertEquals(ExitCode.USAGE, assertThrows(SkiffException.class, () -> run("first", Map.of())).exitCode());
        assertTrue(run("none", Map.of()).mounts().isEmpty());
    }

    @Test
    void programsAreFoundOnPathToo() throws Exception {
        f.siteToml("[gpu]\nbin_dirs = []\nlib_dirs = []\n");
        Spec s = run("0", Map.of("PATH", "/nope:" + bin));
        assertTrue(s.mounts().stream().anyMatch(m -> m.destination().equals("/.skiff/nvidia/bin/nvidia-smi")));
    }

    @Test
    void missingDriverIsAHostError() throws Exception {
        f.ldconfig = "";
        f.siteToml("[gpu]\nlib_dirs = []\n");
        SkiffException e = assertThrows(SkiffException.class, () -> run("all", Map.of()));
        assertEquals(ExitCode.HOST, e.exitCode());
        assertEquals(7, e.exitCode().code);
        assertTrue(e.getMessage().contains("libcuda"), e.getMessage());
        f.siteToml("[gpu]\nlib_dirs = [\"" + lib64 + "\"]\n");
        Files.delete(f.dev.resolve("nvidiactl"));
        assertTrue(assertThrows(SkiffException.class, () -> run("all", Map.of())).getMessage().contains("nvidiactl"));
    }

    @Test
    void siteCanReplaceTheLibraryList() throws Exception {
        Path list = Files.writeString(tmp.resolve("site/nvliblist.conf"), "# only these\nlibcuda.so\n");
        f.siteToml("[gpu]\nliblist = \"" + list + "\"\nlib_dirs = []\nbin_dirs = []\n");
        Spec s = run("0", Map.of());
        assertEquals(List.of("/.skiff/nvidia/lib/libcuda.so.1"), s.mounts().stream().map(Mount::destination).toList());
    }

    @Test
    void shippedListNamesTheCoreDriverComponents() {
        List<String> l = NvidiaDriver.libList(null);
        assertTrue(l.containsAll(List.of("libcuda.so", "libnvidia-ml.so", "libnvidia-ptxjitcompiler.so", "libnvidia-nvvm.so",
                "libnvidia-gpucomp.so", "libnvidia-allocator.so", "libcudadebugger.so", "libnvidia-cfg.so", "libnvidia-opencl.so",
                "nvidia-smi", "nvidia-debugdump", "nvidia-persistenced")), l.toString());
    }

    /** `ldconfig -p` recorded on an H100 host (driver 580, libs in /usr/local/nvidia/lib64 and again in /lib). */
    @Test
    void recordedH100CacheYieldsTheDriverFromUsrLocalNvidia() throws Exception {
        String recorded = new String(GpuTest.class.getResourceAsStream("ldconfig-p-h100.txt").readAllBytes());
        Path fake = Fixture.mkdir(tmp.resolve("h100"));
        StringBuilder moved = new StringBuilder();
        for (String line : recorded.split("\n")) {
            int arrow = line.indexOf("=> ");
            if (arrow < 0) continue;
            Path target = Path.of(fake + line.substring(arrow + 3).strip());
            Files.createDirectories(target.getParent());
            if (!Files.exists(target)) Files.writeString(target, "ELF");
            moved.append(line, 0, arrow + 3).append(target).append('\n');
        }
        f.ldconfig = moved.toString();
        f.siteToml("[gpu]\nbin_dirs = [\"" + bin + "\"]\nlib_dirs = []\n");
        Map<String, String> binds = new java.util.LinkedHashMap<>();
        for (Mount m : run("all", Map.of("NVIDIA_VISIBLE_DEVICES", "0")).mounts()) binds.put(m.destination(), m.source());
        assertEquals(fake + "/usr/local/nvidia/lib64/libcuda.so.1", binds.get("/.skiff/nvidia/lib/libcuda.so.1"));
        for (String soname : List.of("libcuda.so", "libnvidia-ml.so.1", "libnvidia-ptxjitcompiler.so.1", "libnvidia-nvvm.so.4",
                "libnvidia-gpucomp.so.580.159.04", "libnvidia-allocator.so.1", "libcudadebugger.so.1", "libnvidia-cfg.so.1", "libnvidia-opencl.so.1"))
            assertTrue(binds.get("/.skiff/nvidia/lib/" + soname).startsWith(fake + "/usr/local/nvidia/lib64/"), soname + " in " + binds);
        assertFalse(binds.keySet().stream().anyMatch(k -> k.contains("libcudart") || k.contains("libnvrtc")),
                "the CUDA toolkit belongs to the image, not the driver: " + binds.keySet());
    }

    @Test
    void ldconfigIsFoundInSbinEvenOffAUsersPath() {
        String found = NvidiaDriver.locate("ldconfig", "/nonexistent");
        assertTrue(found != null && found.matches("/(usr/)?(local/)?sbin/ldconfig"), String.valueOf(found));
        assertNull(NvidiaDriver.locate("no-such-tool-xyz", "/usr/bin"));
        assertFalse(LdCache.parse(NvidiaDriver.ldconfig("ldconfig").get()).isEmpty(), "this host's own cache parses");
    }
}
