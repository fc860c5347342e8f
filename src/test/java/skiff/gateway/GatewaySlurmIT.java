package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.RegistryFixture;
import skiff.testing.Slurm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** workers = "slurm": conversions run as jobs of the real one-node Slurm of ci/slurm.sh, followed to completion. */
class GatewaySlurmIT {
    @Test
    void conversionsRunAsSlurmJobsAndTheGatewayFollowsThem() throws Exception {
        Slurm.up();
        Path work = Files.createTempDirectory(Path.of("/tmp"), "skiff-gatewayslurm");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (RegistryFixture registry = RegistryFixture.plain(work.resolve("registry"))) {
            registry.push(GatewayIT.randomImage(work.resolve("a"), "latest", 2, 200_000, 61).skopeoRef(), "test/slurm:1");
            String ref = registry.host() + "/test/slurm:1";
            Path config = work.resolve("gateway.toml");
            Files.writeString(config, "shared = \"" + work.resolve("shared") + "\"\nworkers = \"slurm\"\nslurm_jobs = 2\n");
            try (GatewayFixture gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"),
                    Map.of("SLURM_CONF", Slurm.conf()), "--config", config.toString())) {
                JsonNode r = gw.await(gw.pull(ref).json().get("id").asText());
                assertEquals("READY", r.get("state").asText(), r.toString());
                String log = gw.get("/api/v1/pulls/" + r.get("id").asText() + "/log").body();
                Matcher m = Pattern.compile("submitted Slurm job (\\d+)").matcher(log);
                assertTrue(m.find(), log);
                assertTrue(log.contains("Slurm job " + m.group(1) + " completed"), log);
                String state = Cmd.of("sacct", "-n", "-X", "-j", m.group(1), "-o", "JobName%30,State").env("SLURM_CONF", Slurm.conf())
                        .run().out();
                assertTrue(state.isBlank() || state.contains("skiff-gateway-convert"), state);
                Path sqfs = gw.shared.resolve("images/" + r.get("digest").asText().replace(':', '-') + ".sqfs");
                assertTrue(Cmd.of("unsquashfs", "-l", sqfs.toString()).run().ok().out().contains("file1"));
            }
        }
    }
}
