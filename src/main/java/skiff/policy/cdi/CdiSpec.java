package skiff.policy.cdi;

import java.util.List;
import java.util.Map;

/** A Container Device Interface spec file (cdi/SPEC.md), the fields skiff applies. */
public record CdiSpec(String cdiVersion, String kind, Map<String, String> annotations, List<Device> devices,
                      ContainerEdits containerEdits) {

    public List<Device> devices() { return devices == null ? List.of() : devices; }
    public ContainerEdits containerEdits() { return containerEdits == null ? ContainerEdits.NONE : containerEdits; }

    public record Device(String name, Map<String, String> annotations, ContainerEdits containerEdits) {
        public ContainerEdits containerEdits() { return containerEdits == null ? ContainerEdits.NONE : containerEdits; }
    }

    public record ContainerEdits(List<String> env, List<DeviceNode> deviceNodes, List<CdiMount> mounts, List<CdiHook> hooks,
                                 List<Integer> additionalGids) {
        public static final ContainerEdits NONE = new ContainerEdits(null, null, null, null, null);

        public List<String> env() { return env == null ? List.of() : env; }
        public List<DeviceNode> deviceNodes() { return deviceNodes == null ? List.of() : deviceNodes; }
        public List<CdiMount> mounts() { return mounts == null ? List.of() : mounts; }
        public List<CdiHook> hooks() { return hooks == null ? List.of() : hooks; }
    }

    public record DeviceNode(String path, String hostPath, String type, Long major, Long minor, Integer fileMode,
                             String permissions, Integer uid, Integer gid) {
        public String hostPath() { return hostPath == null || hostPath.isEmpty() ? path : hostPath; }
        public String permissions() { return permissions == null || permissions.isEmpty() ? "rwm" : permissions; }
    }

    public record CdiMount(String hostPath, String containerPath, String type, List<String> options) {
        public List<String> options() { return options == null ? List.of() : options; }
    }

    public record CdiHook(String hookName, String path, List<String> args, List<String> env, Integer timeout) {}
}
