package skiff.cli;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.MpiFixture;
import skiff.testing.MpiImages;
import skiff.testing.RegistryFixture;
import skiff.testing.Slurm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A batch script on the real Slurm: one {@code skiff pull}, then several {@code srun ... skiff run} steps. The tag
 * moves in the registry and in the local store (another pull, outside the job) between two steps; every step of
 * the job must still run the image the job resolved first.
 */
class BatchJobIT {
    /** As MpiHybridIT.PER_RANK_NAMESPACE: needed until the ranks of a step share one user namespace. */
    static final Map<String, String> PER_RANK_NAMESPACE = Map.of(
            "OMPI_MCA_btl_vader_single_copy_mechanism", "none", "UCX_TLS", "tcp,self");

    static MpiFixture fx;
    static RegistryFixture registry;
    static Path layout;

    @BeforeAll
    static void setUp() throws Exception {
        fx = MpiFixture.create("skiff-mpi-batch");
        PER_RANK_NAMESPACE.forEach(fx::withEnv);
        registry = RegistryFixture.plain(fx.base.resolve("registry"));
        // Two images that differ in one variable: which one a rank runs is visible from inside.
        layout = fx.base.resolve("layout-ab");
        Cmd.of("cp", "-r", MpiImages.layout().toString(), layout.toString()).run().ok();
        for (String v : List.of("one", "two"))
            Cmd.of("umoci", "config", "--image", layout + ":openmpi", "--tag", v, "--config.env", "SKIFF_TEST_IMAGE=" + v).run().ok();
    }

    @AfterAll
    static void tearDown() {
        if (registry != null) registry.close();
        if (fx != null) fx.close();
    }

    @Test
    void aJobPullsOnceAndEveryStepRunsTheImageItResolvedEvenAfterTheTagMoves() throws Exception {
        registry.push("oci:" + layout + ":one", "mpi/app:latest");
        String ref = registry.host() + "/mpi/app:latest";
        Path out = Files.createDirectories(fx.base.resolve("out"));
        Cmd.of("chown", Cmd.TEST_USER + ":", out.toString()).run().ok();
        String skiff = Cmd.skiffBin().toString();
        String step = "srun --mpi=pmix -n 2 " + skiff + " run " + ref
                + " sh -c 'echo \"$0 rank=$SLURM_PROCID image=$SKIFF_TEST_IMAGE\"; exec mpi_hello' ";
        Path script = fx.base.resolve("job.sh");
        Files.writeString(script, "#!/bin/sh\nset -e\n"
                + skiff + " pull " + ref + "\n"
                + step + "step1\n"
                + "touch " + out.resolve("step1.done") + "\n"
                + "while [ ! -e " + out.resolve("moved") + " ]; do sleep 0.1; done\n"
                + skiff + " pull " + ref + "\n"
                + step + "step2\n"
                + step + "step3\n");
        Cmd.of("chmod", "755", script.toString()).run().ok();

        Path log = out.resolve("job.out");
        String id = Slurm.sbatch(fx.env(), script, "-n", "2", "-o", log.toString(), "-J", "skiff-batch-it");
        long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
        while (!Files.exists(out.resolve("step1.done"))) {
            String state = Slurm.state(id).orElse("GONE");
            if (!state.equals("PENDING") && !state.equals("RUNNING") || System.nanoTime() > deadline)
                throw new AssertionError("job " + id + " " + state + " before its first step ended:\n" + Slurm.read(log));
            Thread.sleep(200);
        }
        // Between two steps of the job: the registry's tag moves, and a pull outside the job moves the store's.
        registry.push("oci:" + layout + ":two", "mpi/app:latest");
        fx.skiff("pull", "-q", ref).run().ok();
        assertEquals("two", fx.skiff("run", ref, "sh", "-c", "echo $SKIFF_TEST_IMAGE").run().ok().out().strip(),
                "outside the job the tag means the new image");
        Files.writeString(out.resolve("moved"), "");

        String state = Slurm.await(id, Duration.ofMinutes(4));
        String text = Slurm.read(log);
        assertEquals("COMPLETED", state, text);
        for (String s : List.of("step1", "step2", "step3")) {
            for (String rank : List.of("0", "1"))
                assertTrue(text.contains(s + " rank=" + rank + " image=one"), s + " rank " + rank + ":\n" + text);
        }
        assertTrue(!text.contains("image=two"), text);
        assertEquals(3, text.lines().filter(l -> l.startsWith("hello ok size=2")).count(), text);
        assertTrue(text.contains("keeps running"), "the job's own re-pull says the job keeps its image:\n" + text);
    }
}
