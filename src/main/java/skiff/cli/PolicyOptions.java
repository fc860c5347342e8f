package skiff.cli;

import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

// PLACEHOLDER (issue 5 owns it): run options judged by site policy; RunCommand mixes it in with @Mixin.
public final class PolicyOptions {
    @Option(names = "--gpus", paramLabel = "all|N,M|none", description = "Pass NVIDIA GPUs and the host driver in.")
    public String gpus;

    @Option(names = "--device", paramLabel = "HOSTPATH[:CONTAINERPATH][:rwm]|VENDOR/CLASS=NAME",
            description = "Pass a device node, or a CDI device, in (repeatable).")
    public List<String> devices = new ArrayList<>();

    @Option(names = "--module", paramLabel = "NAME", description = "Enable a site module (repeatable).")
    public List<String> modules = new ArrayList<>();
}
