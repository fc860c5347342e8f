package skiff.engine;

import org.junit.jupiter.api.Test;
import skiff.util.SkiffException;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JoinGroupTest {
    static Map<String, String> srun(String tasksPerNode, String nodeId) {
        return Map.of("SLURM_JOB_ID", "12", "SLURM_STEP_ID", "0", "SLURM_STEP_TASKS_PER_NODE", tasksPerNode,
                "SLURM_NODEID", nodeId, "SLURM_LOCALID", "1");
    }

    @Test
    void underSrunTheGroupIsTheStepsTasksOnThisNode() {
        JoinGroup g = JoinGroup.of(srun("4", "0"), null, null, false);
        assertEquals(new JoinGroup("slurm.12.0", 4, "1", "Slurm job 12 step 0"), g);
        // "2(x3),1": nodes 0-2 run two tasks, node 3 one
        assertEquals(2, JoinGroup.of(srun("2(x3),1", "2"), null, null, false).size());
        assertNull(JoinGroup.of(srun("2(x3),1", "3"), null, null, false), "one task on this node: a container of its own");
        assertEquals(3, JoinGroup.of(srun("5,3", "1"), null, null, false).size());
        assertNull(JoinGroup.of(srun("4", "0"), null, null, true), "--no-join");
        assertNull(JoinGroup.of(srun("garbage", "0"), null, null, false));
    }

    @Test
    void withoutSlurmOnlyJoinMakesAGroupSizedByTheOptionOrTheLauncher() {
        assertNull(JoinGroup.of(Map.of(), null, null, false));
        assertEquals(new JoinGroup("n.a", 3, null, "--join a"), JoinGroup.of(Map.of(), "a", 3, false));
        assertEquals(new JoinGroup("n.a", 4, "2", "--join a"), JoinGroup.of(
                Map.of("OMPI_COMM_WORLD_LOCAL_SIZE", "4", "OMPI_COMM_WORLD_LOCAL_RANK", "2"), "a", null, false));
        assertEquals(6, JoinGroup.of(Map.of("MPI_LOCALNRANKS", "6"), "a", null, false).size());
        // mpirun inside an allocation: the batch script's Slurm variables do not make a group
        Map<String, String> mpirun = Map.of("SLURM_JOB_ID", "12", "SLURM_STEP_ID", "0", "SLURM_STEP_TASKS_PER_NODE", "1",
                "OMPI_COMM_WORLD_LOCAL_SIZE", "4");
        assertNull(JoinGroup.of(mpirun, null, null, false));
        assertEquals(4, JoinGroup.of(mpirun, "a", null, false).size());
    }

    @Test
    void badCombinationsAreUsageErrors() {
        for (Runnable r : new Runnable[] {
                () -> JoinGroup.of(Map.of(), "a", null, false),
                () -> JoinGroup.of(Map.of(), "../x", 2, false),
                () -> JoinGroup.of(Map.of(), "a", 0, false),
                () -> JoinGroup.of(Map.of(), null, 2, false),
                () -> JoinGroup.of(Map.of(), "a", 2, true)}) {
            SkiffException e = assertThrows(SkiffException.class, r::run);
            assertEquals(2, e.exitCode().code, e.getMessage());
            assertTrue(!e.getMessage().contains("\n"));
        }
    }
}
