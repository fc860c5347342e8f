package skiff.policy.cdi;

import skiff.policy.device.DeviceEdits;
import skiff.policy.device.DeviceProbe;
import skiff.policy.hooks.Stage;
import skiff.policy.site.EnvTransform;
import skiff.spec.Hooks;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.spec.Transform;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies the containerEdits of the resolved CDI devices: each spec's spec-level edits once, then each
 * device's own. env entries replace same-named variables, deviceNodes become linux.devices (bound from
 * hostPath), mounts become bind mounts, hooks go to their stage.
 */
public final class CdiTransform implements Transform {
    private final List<CdiRegistry.Resolved> devices;
    private final DeviceProbe probe;

    public CdiTransform(List<CdiRegistry.Resolved> devices, DeviceProbe probe) {
        this.devices = devices;
        this.probe = probe;
    }

    @Override
    public Spec apply(Spec spec) {
        Set<Path> specsDone = new LinkedHashSet<>();
        for (CdiRegistry.Resolved r : devices) {
            if (specsDone.add(r.file())) spec = edit(spec, r.spec().containerEdits());
            spec = edit(spec, r.device().containerEdits());
        }
        return spec;
    }

    private Spec edit(Spec spec, CdiSpec.ContainerEdits e) {
        if (!e.env().isEmpty() && spec.process() != null) {
            Map<String, String> env = new LinkedHashMap<>(EnvTransform.toMap(spec.process().env()));
            env.putAll(EnvTransform.toMap(e.env()));
            spec = spec.withProcess(EnvTransform.withEnv(spec.process(), env));
        }
        for (CdiSpec.DeviceNode n : e.deviceNodes())
            spec = DeviceEdits.add(spec, Path.of(n.hostPath()), n.path(), n.permissions(), probe);
        if (!e.mounts().isEmpty()) {
            List<Mount> mounts = new ArrayList<>(spec.mounts());
            for (CdiSpec.CdiMount m : e.mounts()) {
                List<String> opts = new ArrayList<>(m.options());
                if (!opts.contains("bind") && !opts.contains("rbind")) opts.addFirst("rbind");
                mounts.add(new Mount(m.containerPath(), "bind", m.hostPath(), opts));
            }
            spec = spec.withMounts(mounts);
        }
        for (CdiSpec.CdiHook h : e.hooks()) {
            Hooks hooks = Stage.of(h.hookName()).plus(spec.hooks(), new Hooks.Hook(h.path(), h.args(), h.env(), h.timeout()));
            spec = spec.withHooks(hooks);
        }
        return spec;
    }
}
