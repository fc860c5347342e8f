package skiff.gateway;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The gateway's TOML settings: defaults, every key, and one clear line for each mistake. */
class GatewayConfigTest {
    @TempDir
    Path tmp;

    GatewayConfig load(String toml) throws Exception {
        Path f = tmp.resolve("g.toml");
        Files.writeString(f, toml);
        return GatewayConfig.load(f, null, null, "alice");
    }

    @Test
    void defaultsAreATrialOnOneMachine() {
        GatewayConfig c = GatewayConfig.defaults("127.0.0.1:0", tmp, "alice");
        assertEquals("jdbc:sqlite:" + tmp.toAbsolutePath().resolve(".gateway/state.db"), c.database());
        assertEquals(Set.of("alice"), c.admins());
        assertEquals("none", c.auth());
        assertEquals(tmp.toAbsolutePath().resolve("images"), c.images());
        assertInstanceOf(Converter.Local.class, c.converter());
    }

    @Test
    void everyKeyIsRead() throws Exception {
        GatewayConfig c = load("listen = \"0.0.0.0:9000\"\nshared = \"/s\"\ndatabase = \"jdbc:postgresql://db/skiff\"\n"
                + "database_user = \"u\"\nworkers = 3\nadmins = [\"bob\"]\ntag_max_age_s = 7\nexpire_after_days = 2\n"
                + "max_image_bytes = 100\nmin_free_bytes = 5\nauth = \"munge\"\nmax_active_per_user = 4\ninstance_timeout_s = 9\n");
        assertEquals("0.0.0.0", c.host());
        assertEquals(9000, c.port());
        assertEquals(3, c.workers());
        assertEquals(Set.of("bob"), c.admins());
        assertEquals(Duration.ofSeconds(7), c.tagMaxAge());
        assertEquals(Duration.ofDays(2), c.expireAfter());
        assertEquals(100, c.maxImageBytes());
        assertEquals(5, c.minFreeBytes());
        assertEquals("munge", c.auth());
        assertEquals(4, c.maxActivePerUser());
        assertEquals(Duration.ofSeconds(9), c.instanceTimeout());
        GatewayConfig s = load("shared = \"/s\"\nworkers = \"slurm\"\nslurm_jobs = 5\nslurm_options = [\"--partition=p\"]\n"
                + "slurm_skiff = \"/opt/skiff/bin/skiff\"\n");
        assertEquals(5, s.workers());
        Converter.Slurm slurm = assertInstanceOf(Converter.Slurm.class, s.converter());
        assertEquals(Path.of("/opt/skiff/bin/skiff"), slurm.skiff());
        assertEquals(java.util.List.of("--partition=p"), slurm.options());
    }

    @Test
    void mistakesAreOneLineUsageErrors() {
        for (String[] c : new String[][] {
                {"shared = \"/s\"\nwrokers = 2\n", "'wrokers' is not a gateway setting"},
                {"listen = \"x\"\n", "'shared' is required"},
                {"shared = \"/s\"\nworkers = \"many\"\n", "'workers' must be a number of threads"},
                {"shared = \"/s\"\nworkers = 0\n", "workers must be 1 to 256"},
                {"shared = \"/s\"\nauth = \"kerberos\"\n", "auth must be"},
                {"shared = \"/s\"\nmax_image_bytes = -1\n", "'max_image_bytes' must be a whole number"},
                {"shared = \"/s\"\nlisten = \"nohost\"\n", "expected HOST:PORT"},
                {"shared = [\n", "cannot read gateway config"}}) {
            SkiffException e = assertThrows(SkiffException.class, () -> load(c[0]), c[0]);
            assertEquals(ExitCode.USAGE, e.exitCode());
            assertTrue(e.getMessage().contains(c[1]) && !e.getMessage().contains("\n"), e.getMessage());
        }
    }
}
