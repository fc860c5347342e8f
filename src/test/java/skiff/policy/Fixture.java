package skiff.policy;

import skiff.policy.device.DeviceProbe;
import skiff.spec.Linux;
import skiff.spec.Process;
import skiff.spec.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A site directory, a home with a user config, and a host whose /dev and ldconfig are fakes, under one temp dir. */
final class Fixture {
    final Path root;
    final Path site;
    final Path home;
    final Path dev;
    final Path cdi;
    final Path hooks;
    final List<String> warnings = new ArrayList<>();
    String ldconfig = "";

    Fixture(Path root) {
        this.root = root;
        this.site = mkdir(root.resolve("site"));
        this.home = mkdir(root.resolve("home"));
        this.dev = mkdir(root.resolve("dev"));
        this.cdi = mkdir(root.resolve("cdi"));
        this.hooks = mkdir(root.resolve("hooks.d"));
        // Keep the host's own CDI and hooks directories out of the tests.
        write("site/site.d/00-test-dirs.toml", "[cdi]\nspec_dirs = [\"" + cdi + "\"]\n[hooks]\ndirs = [\"" + hooks + "\"]\n");
    }

    static Path mkdir(Path p) {
        try {
            return Files.createDirectories(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Path write(String rel, String text) {
        Path p = root.resolve(rel);
        try {
            Files.createDirectories(p.getParent());
            Files.writeString(p, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    Fixture siteToml(String text) {
        write("site/site.toml", text);
        return this;
    }

    Fixture userToml(String text) {
        write("home/.config/skiff/config.toml", text);
        return this;
    }

    Map<String, String> env() {
        Map<String, String> env = new HashMap<>();
        env.put("SKIFF_SITE_DIR", site.toString());
        env.put("HOME", home.toString());
        env.put("PATH", "/nonexistent");
        return env;
    }

    /** Regular files stand in for device nodes: type c, numbers from the file's size (so tests can tell). */
    static final DeviceProbe FAKE_PROBE = p -> {
        if (!Files.exists(p)) throw new skiff.util.SkiffException(skiff.util.ExitCode.HOST, "device " + p + " does not exist");
        try {
            return new DeviceProbe.Node("c", 195, Files.size(p), 0666, 0, 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    };

    Policy policy() {
        return Policy.load(env(), new Policy.Host(FAKE_PROBE, dev, () -> ldconfig, warnings::add));
    }

    Policy realDevicesPolicy() {
        return Policy.load(env(), new Policy.Host(DeviceProbe.HOST, Path.of("/dev"), () -> ldconfig, warnings::add));
    }

    static Spec base() {
        return new Spec(Spec.OCI_VERSION,
                new Process(false, new Process.User(1000, 1000, null, null), List.of("/bin/sh", "-c", "true"),
                        List.of("PATH=/usr/bin:/bin", "HOME=/root"), "/", false),
                new Spec.Root("rootfs", true), "skiff", List.of(), null, Map.of(),
                new Linux(null, null, null, null, null, null, null));
    }

    static RunRequest request() {
        return new RunRequest("docker.io/library/alpine:3.20", null, List.of(), List.of(), null, List.of(),
                Map.of("PATH", "/nonexistent"), 1000, 1000, "alice", List.of("users"), null);
    }

    static Map<String, String> env(Spec s) {
        return skiff.policy.site.EnvTransform.toMap(s.process().env());
    }
}
