package skiff.policy.gpu;

import skiff.policy.device.DeviceEdits;
import skiff.policy.device.DeviceProbe;
import skiff.policy.site.EnvTransform;
import skiff.policy.site.SiteConfig;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.spec.Transform;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code --gpus all|N,M|none}: binds the driver's libraries one by one into {@value NvidiaDriver#LIB_DIR}
 * and its programs into {@value NvidiaDriver#BIN_DIR} (read-only), adds the control nodes and the chosen
 * /dev/nvidiaN, and puts those directories on LD_LIBRARY_PATH (first, so the host driver wins over any
 * stub in the image) and PATH (last, so the image's own programs win).
 *
 * <p>Which GPUs "all" means: those the host environment restricts the job to, NVIDIA_VISIBLE_DEVICES
 * then CUDA_VISIBLE_DEVICES when they hold indices (as batch schedulers set them), else every
 * /dev/nvidiaN. Explicit indices must be among those. CUDA_VISIBLE_DEVICES is passed on unchanged so
 * that CUDA's numbering inside the container is the scheduler's.
 */
public final class GpuTransform implements Transform {
    private final String request;
    private final NvidiaDriver.Found driver;
    private final Map<String, String> hostEnv;
    private final DeviceProbe probe;

    public GpuTransform(String request, NvidiaDriver.Found driver, Map<String, String> hostEnv, DeviceProbe probe) {
        this.request = request;
        this.driver = driver;
        this.hostEnv = hostEnv;
        this.probe = probe;
    }

    public static boolean wanted(String request) {
        return request != null && !request.isBlank() && !request.strip().equals("none");
    }

    @Override
    public Spec apply(Spec spec) {
        if (!wanted(request)) return spec;
        if (driver.libraries().keySet().stream().noneMatch(s -> NvidiaDriver.libMatches("libcuda.so", s)))
            throw new SkiffException(ExitCode.HOST, "--gpus: no NVIDIA driver on this host (libcuda.so is neither in the ldconfig cache nor in [gpu] lib_dirs); run on a GPU node or without --gpus");
        if (driver.controlNodes().stream().noneMatch(p -> p.getFileName().toString().equals("nvidiactl")))
            throw new SkiffException(ExitCode.HOST, "--gpus: /dev/nvidiactl is missing: the NVIDIA kernel driver is not loaded here; run on a GPU node or without --gpus");
        Set<Integer> visible = visible();
        Set<Integer> chosen = chosen(visible);

        List<Mount> mounts = new ArrayList<>(spec.mounts());
        driver.libraries().forEach((soname, host) ->
                mounts.add(Mount.bind(host.toString(), NvidiaDriver.LIB_DIR + "/" + soname, true)));
        driver.programs().forEach((name, host) ->
                mounts.add(Mount.bind(host.toString(), NvidiaDriver.BIN_DIR + "/" + name, true)));
        Spec out = spec.withMounts(mounts);
        for (Path node : driver.controlNodes())
            out = DeviceEdits.add(out, node, "/dev/" + node.getFileName(), "rwm", probe);
        for (int i : chosen)
            out = DeviceEdits.add(out, driver.gpus().get(i), "/dev/nvidia" + i, "rwm", probe);

        Map<String, String> set = new java.util.LinkedHashMap<>();
        String cuda = hostEnv.get("CUDA_VISIBLE_DEVICES");
        if (cuda != null) set.put("CUDA_VISIBLE_DEVICES", cuda);
        return new EnvTransform(new SiteConfig.EnvEdits(set,
                Map.of("LD_LIBRARY_PATH", NvidiaDriver.LIB_DIR),
                driver.programs().isEmpty() ? Map.of() : Map.of("PATH", NvidiaDriver.BIN_DIR), null)).apply(out);
    }

    private Set<Integer> visible() {
        for (String var : List.of("NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")) {
            String v = hostEnv.get(var);
            if (v == null || v.isBlank() || v.equals("all")) continue;
            if (v.equals("none") || v.equals("void") || v.equals("NoDevFiles")) return Set.of();
            Set<Integer> s = indices(v);
            if (s != null) return s;
            // UUIDs or MIG names cannot be mapped to /dev/nvidiaN without NVML: fall back to all nodes.
        }
        return driver.gpus().keySet();
    }

    private Set<Integer> chosen(Set<Integer> visible) {
        String r = request.strip();
        if (r.equals("all")) {
            for (int i : visible)
                if (!driver.gpus().containsKey(i))
                    throw new SkiffException(ExitCode.HOST, "--gpus all: GPU " + i + " is visible to this job but /dev/nvidia" + i + " is missing");
            return new LinkedHashSet<>(visible);
        }
        Set<Integer> want = indices(r);
        if (want == null)
            throw new SkiffException(ExitCode.USAGE, "--gpus '" + request + "': expected all, none, or GPU indices such as 0,1");
        for (int i : want) {
            if (!driver.gpus().containsKey(i))
                throw new SkiffException(ExitCode.HOST, "--gpus: GPU " + i + " does not exist here (/dev/nvidia" + i + " is missing); this host has " + driver.gpus().keySet());
            if (!visible.contains(i))
                throw new SkiffException(ExitCode.POLICY, "--gpus: GPU " + i + " is not among those this job may use " + visible);
        }
        return want;
    }

    static Set<Integer> indices(String v) {
        Set<Integer> s = new LinkedHashSet<>();
        for (String p : v.split(",")) {
            if (!p.strip().matches("\\d{1,4}")) return null;
            s.add(Integer.parseInt(p.strip()));
        }
        return s;
    }
}
