package skiff.cli;

import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/**
 * Run options judged by site policy; RunCommand mixes it in with @Mixin and passes the values through
 * {@code skiff.policy.RunRequest} (gpus, devices, modules, mpi) to {@code Policy.apply}.
 */
public final class PolicyOptions {
    @Option(names = "--gpus", paramLabel = "all|N,M|none",
            description = "Pass NVIDIA GPUs and the host driver in: all (those the job may use), GPU indices, or none.")
    public String gpus;

    @Option(names = "--device", paramLabel = "HOSTPATH[:CONTAINERPATH][:rwm]|VENDOR/CLASS=NAME",
            description = "Pass a device node, or a CDI device (VENDOR/CLASS=NAME or =all), in (repeatable).")
    public List<String> devices = new ArrayList<>();

    @Option(names = "--module", paramLabel = "NAME", description = "Enable a site module (repeatable; 'skiff modules' lists them).")
    public List<String> modules = new ArrayList<>();

    @Option(names = "--mpi", description = "Replace the image's MPI with the host's, as the site configures it (bind model).")
    public boolean mpi;

    @Option(names = "--no-mpi", description = "Keep the image's own MPI even where the site injects the host's by default.")
    public boolean noMpi;

    /** --mpi, --no-mpi, or null for the site's default; both at once is a usage error. */
    public Boolean mpiChoice() {
        if (mpi && noMpi)
            throw new skiff.util.SkiffException(skiff.util.ExitCode.USAGE, "--mpi and --no-mpi contradict each other; give one of them");
        return mpi ? Boolean.TRUE : noMpi ? Boolean.FALSE : null;
    }
}
