package skiff.spec;

import java.util.List;
import java.util.Map;

/** runtime-spec config-linux.md, the parts an unprivileged runtime can honour. */
public record Linux(
        List<LinuxIdMapping> uidMappings,
        List<LinuxIdMapping> gidMappings,
        List<LinuxNamespace> namespaces,
        List<LinuxDevice> devices,
        List<String> maskedPaths,
        List<String> readonlyPaths,
        Map<String, String> sysctl) {

    public List<LinuxDevice> devices() {
        return devices == null ? List.of() : devices;
    }

    public List<LinuxNamespace> namespaces() {
        return namespaces == null ? List.of() : namespaces;
    }

    public Linux withDevices(List<LinuxDevice> d) {
        return new Linux(uidMappings, gidMappings, namespaces, d, maskedPaths, readonlyPaths, sysctl);
    }

    /** type: pid, network, mount, ipc, uts, user, cgroup, time. */
    public record LinuxNamespace(String type, String path) {}

    /** type: c, b, u, p. In a user namespace device nodes cannot be created: skiff bind-mounts the host's. */
    public record LinuxDevice(String path, String type, long major, long minor, Integer fileMode, Integer uid, Integer gid) {}
}
