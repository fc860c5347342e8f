package skiff.policy.launcher;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.spec.Linux;
import skiff.spec.Mount;
import skiff.spec.Process;
import skiff.spec.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which PMIx directories a rank gets bound at the same path. */
class PmixDirsTest {
    @TempDir
    Path tmp;

    static Spec spec(List<Mount> mounts) {
        return new Spec(Spec.OCI_VERSION, new Process(false, new Process.User(1000, 1000, null, null), List.of("true"),
                List.of(), "/", false), new Spec.Root("rootfs", true), "skiff", mounts, null, Map.of(),
                new Linux(null, null, null, null, null, null, null));
    }

    @Test
    void serverTmpdirAndAStoreElsewhereAreBoundReadWriteAtTheSamePath() throws Exception {
        Path spool = Files.createDirectories(tmp.resolve("spool/pmix.7.0"));
        Path store = Files.createDirectories(tmp.resolve("dstore"));
        Spec out = new PmixDirs(Map.of("PMIX_SERVER_TMPDIR", spool + "/", "PMIX_DSTORE_21_BASE_PATH", store.toString(),
                "PMIX_DSTORE_ESH_BASE_PATH", spool.resolve(".").toString(), "PMIX_RANK", "0")).apply(spec(List.of()));
        assertEquals(List.of(new Mount(store.toString(), "bind", store.toString(), List.of("rbind", "nosuid", "nodev")),
                new Mount(spool.toString(), "bind", spool.toString(), List.of("rbind", "nosuid", "nodev"))), out.mounts());
    }

    @Test
    void aDirectoryTheContainerSeesAlreadyIsNotBoundTwice() throws Exception {
        Path session = Files.createDirectories(tmp.resolve("ompi.vm.1500/pid.42"));
        Spec base = spec(List.of(Mount.bind(tmp.toString(), tmp.toString(), false)));
        assertEquals(base.mounts(), new PmixDirs(Map.of("PMIX_SERVER_TMPDIR", session.toString())).apply(base).mounts());
    }

    @Test
    void missingRelativeOrUnrelatedPathsAreIgnored() throws Exception {
        Path file = Files.writeString(tmp.resolve("file"), "x");
        Map<String, String> env = Map.of("PMIX_SERVER_TMPDIR", tmp.resolve("gone").toString(),
                "PMIX_DSTORE_21_BASE_PATH", "relative/dir", "PMIX_DSTORE_ESH_BASE_PATH", file.toString(),
                "PMIX_SYSTEM_TMPDIR", tmp.toString(), "HOME", tmp.toString());
        assertEquals(List.of(), PmixDirs.directories(env));
        Spec base = spec(List.of());
        assertEquals(List.of(), new PmixDirs(env).apply(base).mounts());
    }
}
