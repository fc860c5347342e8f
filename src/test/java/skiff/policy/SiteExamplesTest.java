package skiff.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.cdi.CdiRegistry;
import skiff.policy.hooks.HookDirs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The shipped examples in docs/site-examples load without a warning, so they stay in step with the code. */
class SiteExamplesTest {
    @TempDir
    Path tmp;

    @Test
    void examplesLoadCleanly() throws IOException {
        Path src = Path.of("docs/site-examples");
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path dst = tmp.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(dst);
                else Files.copy(p, dst);
            }
        }
        List<String> warnings = new ArrayList<>();
        Policy p = Policy.load(Map.of("SKIFF_SITE_DIR", tmp.toString(), "HOME", tmp.resolve("home").toString()),
                new Policy.Host(Fixture.FAKE_PROBE, tmp, () -> "", warnings::add));
        assertEquals(List.of(), warnings);
        assertEquals(List.of("/dev/infiniband/*"), p.site().modules().get("infiniband").devices());
        assertTrue(Policy.describe(p.site().modules().get("infiniband")).contains("env LD_LIBRARY_PATH prepend /.skiff/ib/libibverbs"));
        assertEquals(List.of("cuda-tools"), p.site().groups().get("gpuusers").modules());
        assertTrue(p.config().source("modules.infiniband.devices[0]").endsWith("50-infiniband.toml"));
        assertEquals(List.of("libmpich.so.12"), p.site().modules().get("mpich").mpi().libs());
        assertEquals("full", p.site().modules().get("mpich").mpi().compatibility());
        assertFalse(p.site().modules().get("mpich").isDefault());

        assertEquals(List.of(), CdiRegistry.load(List.of(tmp.resolve("cdi").toString()), warnings::add).problems());
        assertEquals(1, HookDirs.load(List.of(tmp.resolve("hooks.d").toString()), warnings::add).hooks().size());
        assertEquals(List.of(), warnings);
    }
}
