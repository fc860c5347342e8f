package skiff.engine;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.Map;

/**
 * The ranks on this node that share one container: one user and mount namespace, so shared memory and
 * cross-memory attach (process_vm_readv, which the kernel refuses between sibling user namespaces) work between
 * them. Under srun it is the job step's tasks on this node, with no option; elsewhere (mpirun) {@code --join NAME}
 * names it and {@code --join-size} or the launcher's local rank count sizes it.
 *
 * @param key    directory name of the group under the runtime directory (job and step, or the user's name)
 * @param size   how many ranks the group waits for
 * @param rankId this rank's local index as the launcher numbers it (SLURM_LOCALID, ...), or null: tells a rank of
 *               the next run of the same group (a step running skiff twice) from one that comes too late
 * @param origin how the group was chosen, for messages
 */
public record JoinGroup(String key, int size, String rankId, String origin) {

    /** Environment variables giving the launcher's count of ranks on this node, in order of preference. */
    static final String[] LOCAL_SIZE = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"};
    static final String[] LOCAL_RANK = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};

    /**
     * The group of this rank, or null for a container of its own: {@code --no-join}, a group of one, or neither
     * Slurm's step variables nor {@code --join}.
     *
     * @param name   --join NAME, or null
     * @param size   --join-size N, or null
     * @param noJoin --no-join
     */
    public static JoinGroup of(Map<String, String> env, String name, Integer size, boolean noJoin) {
        if (noJoin) {
            if (name != null || size != null)
                throw new SkiffException(ExitCode.USAGE, "--no-join contradicts --join/--join-size: give one or the other");
            return null;
        }
        if (size != null && size < 1)
            throw new SkiffException(ExitCode.USAGE, "--join-size must be at least 1, not " + size);
        if (name != null) {
            if (name.isEmpty() || name.length() > 100 || !name.matches("[A-Za-z0-9._-]+") || name.startsWith("."))
                throw new SkiffException(ExitCode.USAGE, "--join '" + name
                        + "': a group name is 1 to 100 letters, digits, '.', '_' or '-', not starting with '.'");
            Integer n = size != null ? size : launcherSize(env);
            if (n == null)
                throw new SkiffException(ExitCode.USAGE, "--join " + name + ": how many ranks share the container is"
                        + " unknown: add --join-size N (OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS would give it)");
            return n <= 1 ? null : new JoinGroup("n." + name, n, localRank(env), "--join " + name);
        }
        String job = env.get("SLURM_JOB_ID"), step = env.get("SLURM_STEP_ID");
        // Under mpirun inside an allocation the Slurm variables are the batch script's, not the ranks': the
        // launcher's own variables say it started us, and then only --join groups.
        boolean slurmTask = job != null && step != null && launcherSize(env) == null && job.matches("[0-9_+]+")
                && step.matches("[0-9]+");
        if (!slurmTask) {
            if (size != null)
                throw new SkiffException(ExitCode.USAGE, "--join-size needs --join NAME outside a Slurm job step (srun)");
            return null;
        }
        Integer n = size != null ? size : slurmTasksOnNode(env);
        if (n == null || n <= 1) return null;
        return new JoinGroup("slurm." + job + "." + step, n, env.get("SLURM_LOCALID"),
                "Slurm job " + job + " step " + step);
    }

    static Integer launcherSize(Map<String, String> env) {
        for (String k : LOCAL_SIZE) {
            Integer n = number(env.get(k));
            if (n != null) return n;
        }
        return null;
    }

    static String localRank(Map<String, String> env) {
        for (String k : LOCAL_RANK) if (number(env.get(k)) != null) return env.get(k);
        return null;
    }

    /**
     * This node's task count in the step: SLURM_STEP_TASKS_PER_NODE lists the step's nodes in order, compressed as
     * "2(x3),1"; SLURM_NODEID is this node's index among them.
     */
    static Integer slurmTasksOnNode(Map<String, String> env) {
        String list = env.get("SLURM_STEP_TASKS_PER_NODE");
        if (list == null) list = env.get("SLURM_TASKS_PER_NODE");
        Integer node = number(env.getOrDefault("SLURM_NODEID", "0"));
        if (list == null || node == null) return null;
        int index = 0;
        for (String part : list.split(",")) {
            int n, repeat = 1;
            try {
                int x = part.indexOf("(x");
                if (x > 0 && part.endsWith(")")) {
                    n = Integer.parseInt(part.substring(0, x));
                    repeat = Integer.parseInt(part.substring(x + 2, part.length() - 1));
                } else {
                    n = Integer.parseInt(part);
                }
            } catch (NumberFormatException e) {
                return null;
            }
            if (node < index + repeat) return n;
            index += repeat;
        }
        return null;
    }

    private static Integer number(String s) {
        if (s == null || s.isEmpty() || s.length() > 9) return null;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return null;
        return Integer.parseInt(s);
    }
}
