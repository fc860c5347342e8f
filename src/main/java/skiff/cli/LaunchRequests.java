package skiff.cli;

import skiff.engine.Engine;
import skiff.engine.Identity;
import skiff.engine.JoinGroup;
import skiff.engine.LaunchPlan;
import skiff.engine.LaunchRequest;
import skiff.engine.Launcher;
import skiff.engine.RunDir;
import skiff.engine.RuntimeDir;
import skiff.engine.StandardMounts;
import skiff.image.ImageConfig;
import skiff.policy.Policy;
import skiff.policy.RunRequest;
import skiff.policy.device.DeviceEdits;
import skiff.policy.hooks.Stage;
import skiff.rootfs.Rootfs;
import skiff.spec.Hooks;
import skiff.spec.Linux;
import skiff.spec.Mount;
import skiff.spec.RunSettings;
import skiff.spec.Spec;
import skiff.spec.SpecBuilder;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Builds the one launch request the engine executes ({@link LaunchRequest}), for the full path (RunCommand, with the
 * root filesystem from {@link ImageRoot}) and the warm path (WarmRun, with the shared mount it joined) alike: run
 * directory, standard mounts, the spec from the image's config and the run settings, site policy, then the spec's
 * mounts, devices and hooks typed. Nothing here loads picocli or Jackson (the warm path uses it).
 */
final class LaunchRequests {
    private LaunchRequests() {}

    /**
     * What skiff run's options ask of the container, beyond the spec settings.
     *
     * @param noHome        --no-home
     * @param hostAuth      --hostauth: the host's /etc/passwd and /etc/group
     * @param writableTmpfs --writable-tmpfs
     * @param pid           --pid
     * @param format        root filesystem format
     * @param containerRoot a persistent container's writable rootfs (used instead of the image's), or null
     * @param launcher      the engine that makes the container (see {@link Launcher#choose})
     */
    record Options(RunSettings settings, boolean noHome, boolean hostAuth, boolean writableTmpfs, boolean pid,
                   Rootfs.Format format, Path containerRoot, Launcher launcher) {

        Options {
            if (launcher == null) launcher = Launcher.NATIVE;
        }

        LaunchRequest.RootKind rootKind() {
            if (containerRoot != null) return LaunchRequest.RootKind.CONTAINER_TREE;
            return format == Rootfs.Format.DIR ? LaunchRequest.RootKind.IMAGE_TREE : LaunchRequest.RootKind.IMAGE_MOUNT;
        }
    }

    /**
     * The launch request for the container of {@code b} on {@code root} (ready: mounted, converted, or the persistent
     * container's tree). Creates the run directory (the generated identity files go there), removed again if this
     * fails.
     */
    static LaunchRequest build(Path root, ImageConfig.Config config, RunCommand.Built b, Policy policy,
                               Map<String, String> env, Identity id, Engine.Ending ending, JoinGroup join) {
        Options o = b.options();
        RunRequest request = b.request();
        Path runtime = RuntimeDir.resolve(env, id.uid());
        Path runDir = RunDir.create(runtime, ProcessHandle.current().pid());
        try {
            RunSettings s = o.settings();
            List<Mount> standard = StandardMounts.of(root, runDir, id, o.pid(), o.hostAuth(), o.noHome(), s.fakeroot());
            Spec base = SpecBuilder.build(config, s, root.toString(), standard, o.pid());
            // The image root lets policy resolve bind destinations through the image's own symlinks.
            Policy.Applied applied = policy.applyForLaunch(base, request.withRootfs(root));
            Spec spec = applied.spec();
            List<Hooks.Hook> poststop = Stage.POSTSTOP.of(spec.hooks());
            if (!o.pid() && !poststop.isEmpty())
                Warnings.print(poststop.size() + " poststop hook(s) will not run: skiff execs the payload and keeps no"
                        + " process to run them (use --pid)");
            List<LaunchRequest.Mount> mounts = new ArrayList<>();
            for (Mount m : spec.mounts())
                mounts.add(LaunchRequest.Mount.of(m, applied.isUserBind(m) ? LaunchRequest.Origin.USER : LaunchRequest.Origin.SYSTEM));
            return new LaunchRequest(o.launcher(), root, o.rootKind(), runtime, runDir, spec, cwd(spec, request), mounts,
                    devices(spec), hooks(spec), s.fakeroot(), o.pid(), o.writableTmpfs(), env, ending, join);
        } catch (IOException e) {
            RunDir.remove(runDir);
            throw new SkiffException(ExitCode.LAUNCH, "cannot prepare the container: " + e.getMessage());
        } catch (RuntimeException e) {
            RunDir.remove(runDir);
            throw e;
        }
    }

    /** Where the payload starts: the current directory where the container shows it, else the spec's. */
    static String cwd(Spec spec, RunRequest request) {
        String cwd = spec.process().cwd();
        // No request cwd: -w (already the spec's) or --no-cwd (the image's WorkingDir).
        if (request.cwd() != null) {
            String visible = SpecBuilder.visibleCwd(spec.mounts(), request.cwd());
            if (visible != null) cwd = visible;
        }
        return cwd;
    }

    /** The spec's devices with the host node policy chose for each (DeviceEdits' annotation, read here, once). */
    static List<LaunchRequest.Device> devices(Spec spec) {
        List<LaunchRequest.Device> out = new ArrayList<>();
        if (spec.linux() == null) return out;
        for (Linux.LinuxDevice dev : spec.linux().devices()) {
            DeviceEdits.Source src = DeviceEdits.source(spec, dev);
            out.add(new LaunchRequest.Device(src.hostPath(), dev.path(), src.writable()));
        }
        return out;
    }

    /** The spec's OCI hooks in lifecycle order, each with its stage's config.json name. */
    static List<LaunchPlan.PlanHook> hooks(Spec spec) {
        List<LaunchPlan.PlanHook> l = new ArrayList<>();
        for (Stage st : Stage.values()) {
            for (Hooks.Hook h : st.of(spec.hooks()))
                l.add(new LaunchPlan.PlanHook(st.specName, h.path(), h.args() == null ? List.of() : h.args(),
                        h.env() == null ? List.of() : h.env(), h.timeout() == null ? 0 : h.timeout()));
        }
        return l;
    }
}
