package skiff.policy;

import skiff.spec.Linux;
import skiff.spec.Process;
import skiff.spec.Spec;
import skiff.util.Json;

import java.util.List;
import java.util.Map;

/**
 * Manual check on a GPU host (not a test): prints the Spec that {@code --gpus ARG} produces with the real
 * ldconfig cache, PATH and /dev. Run: java -cp target/skiff.jar:target/lib/*:target/test-classes
 * skiff.policy.GpuProbeMain all
 */
public final class GpuProbeMain {
    public static void main(String[] args) {
        Spec base = new Spec(Spec.OCI_VERSION, new Process(false, null, List.of("nvidia-smi"), List.of("PATH=/usr/bin:/bin"), "/", false),
                new Spec.Root("rootfs", true), null, List.of(), null, Map.of(), new Linux(null, null, null, null, null, null, null));
        RunRequest r = new RunRequest(null, null, List.of(), List.of(), args.length > 0 ? args[0] : "all", List.of(),
                System.getenv(), 0, 0, "root", List.of(), null);
        Spec s = Policy.load(System.getenv()).apply(base, r);
        System.out.println(Json.pretty(s));
        for (Linux.LinuxDevice d : s.linux().devices()) System.out.println("device " + d.path() + " <- " + skiff.policy.device.DeviceEdits.source(s, d));
    }
}
