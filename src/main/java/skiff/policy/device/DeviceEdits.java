package skiff.policy.device;

import skiff.spec.Linux;
import skiff.spec.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Adds device nodes to {@code linux.devices}. runtime-spec's device entry names only the container path;
 * the host node to bind and the access asked for travel in an annotation
 * {@code skiff.device:CONTAINERPATH = PERMS:HOSTPATH}, which {@link #source} decodes for the engine.
 */
public final class DeviceEdits {
    public static final String ANNOTATION_PREFIX = "skiff.device:";

    /** Host node to bind for a device entry, and whether the user asked for write access ('w'). */
    public record Source(Path hostPath, String permissions) {
        public boolean writable() {
            return permissions.contains("w");
        }
    }

    private DeviceEdits() {}

    public static Spec add(Spec spec, Path hostPath, String containerPath, String permissions, DeviceProbe probe) {
        DeviceProbe.Node n = probe.stat(hostPath);
        Linux linux = spec.linux() != null ? spec.linux() : new Linux(null, null, null, null, null, null, null);
        List<Linux.LinuxDevice> devices = new ArrayList<>();
        for (Linux.LinuxDevice d : linux.devices()) if (!d.path().equals(containerPath)) devices.add(d);
        devices.add(new Linux.LinuxDevice(containerPath, n.type(), n.major(), n.minor(), n.fileMode(), n.uid(), n.gid()));
        Map<String, String> ann = new HashMap<>(spec.annotations());
        ann.put(ANNOTATION_PREFIX + containerPath, permissions + ":" + hostPath);
        return spec.withLinux(linux.withDevices(devices)).withAnnotations(ann);
    }

    /**
     * Where the engine finds the host node for {@code device}: the annotation written by policy, else the
     * same path on the host (for devices that came in with the base spec).
     */
    public static Source source(Spec spec, Linux.LinuxDevice device) {
        String v = spec.annotations().get(ANNOTATION_PREFIX + device.path());
        if (v == null) return new Source(Path.of(device.path()), "rwm");
        int colon = v.indexOf(':');
        return new Source(Path.of(v.substring(colon + 1)), v.substring(0, colon));
    }
}
