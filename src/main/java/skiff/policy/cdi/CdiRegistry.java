package skiff.policy.cdi;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import skiff.policy.site.TrustedFiles;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The CDI specs of this host: *.json and *.yaml in the spec directories, lowest priority first (a device
 * defined again in a later directory replaces the earlier one, as /var/run/cdi overrides /etc/cdi).
 * Invalid files are kept as problems (file and reason): reported when they could concern a request,
 * fatal when the requested device is not found elsewhere.
 */
public final class CdiRegistry {
    static final Pattern KIND = Pattern.compile("[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?");
    static final Pattern NAME = Pattern.compile("[a-zA-Z0-9]([a-zA-Z0-9_.:-]*[a-zA-Z0-9])?");
    /** cdiVersions whose containerEdits skiff understands (0.3.0 introduced the current layout). */
    static final Pattern VERSION = Pattern.compile("0\\.[3-8]\\.\\d+|1\\.[01]\\.\\d+");
    private static final Set<String> STAGES = Set.of("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop");
    private static final ObjectMapper YAML = YAMLMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    public record Problem(Path file, String reason) {
        @Override
        public String toString() {
            return file + ": " + reason;
        }
    }

    /** A device found in a spec: the spec (for its spec-level edits) and the device. */
    public record Resolved(Path file, CdiSpec spec, CdiSpec.Device device) {}

    private final Map<String, Map<String, Resolved>> byKind = new LinkedHashMap<>();
    private final List<Problem> problems = new ArrayList<>();

    public static CdiRegistry load(List<String> dirs, Consumer<String> warn) {
        CdiRegistry r = new CdiRegistry();
        for (String d : dirs) {
            Path dir = Path.of(d);
            if (!Files.isDirectory(dir)) continue;
            List<Path> files;
            try (Stream<Path> s = Files.list(dir)) {
                files = s.filter(p -> {
                    String n = p.getFileName().toString();
                    return (n.endsWith(".json") || n.endsWith(".yaml") || n.endsWith(".yml")) && Files.isRegularFile(p);
                }).sorted().toList();
            } catch (IOException e) {
                warn.accept(Warnings.line("cannot list CDI directory " + dir + ": " + e.getMessage()));
                continue;
            }
            for (Path f : files) {
                String why = TrustedFiles.distrust(f);
                if (why != null) {
                    warn.accept(Warnings.line("ignoring CDI spec " + f + ": it " + why));
                    continue;
                }
                r.add(f);
            }
        }
        return r;
    }

    void add(Path f) {
        CdiSpec spec;
        try {
            byte[] data = Files.readAllBytes(f);
            spec = f.getFileName().toString().endsWith(".json") ? Json.MAPPER.readValue(data, CdiSpec.class)
                    : YAML.readValue(data, CdiSpec.class);
        } catch (IOException e) {
            String m = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            problems.add(new Problem(f, "cannot be parsed: " + m));
            return;
        }
        String reason = validate(spec);
        if (reason != null) {
            problems.add(new Problem(f, reason));
            return;
        }
        Map<String, Resolved> devs = byKind.computeIfAbsent(spec.kind(), k -> new LinkedHashMap<>());
        for (CdiSpec.Device d : spec.devices()) devs.put(d.name(), new Resolved(f, spec, d));
    }

    static String validate(CdiSpec s) {
        if (s == null) return "empty file";
        if (s.cdiVersion() == null) return "cdiVersion is missing";
        if (!VERSION.matcher(s.cdiVersion()).matches()) return "unsupported cdiVersion " + s.cdiVersion() + " (skiff reads 0.3.0 to 1.1.x)";
        if (s.kind() == null || !KIND.matcher(s.kind()).matches()) return "invalid kind '" + s.kind() + "' (expected vendor.tld/class)";
        if (s.devices().isEmpty()) return "no devices";
        Set<String> seen = new java.util.HashSet<>();
        for (CdiSpec.Device d : s.devices()) {
            if (d.name() == null || !NAME.matcher(d.name()).matches()) return "invalid device name '" + d.name() + "'";
            if (!seen.add(d.name())) return "device " + d.name() + " defined twice";
            String r = validate(d.containerEdits());
            if (r != null) return "device " + d.name() + ": " + r;
        }
        return validate(s.containerEdits());
    }

    static String validate(CdiSpec.ContainerEdits e) {
        for (String env : e.env()) if (env == null || env.indexOf('=') <= 0) return "env entry '" + env + "' is not KEY=VALUE";
        for (CdiSpec.DeviceNode n : e.deviceNodes()) {
            if (n.path() == null || !n.path().startsWith("/")) return "deviceNode path '" + n.path() + "' is not absolute";
            if (!n.hostPath().startsWith("/")) return "deviceNode hostPath '" + n.hostPath() + "' is not absolute";
            if (!n.permissions().matches("[rwm]{1,3}")) return "deviceNode permissions '" + n.permissions() + "' (expected r, w, m)";
        }
        for (CdiSpec.CdiMount m : e.mounts()) {
            if (m.containerPath() == null || !m.containerPath().startsWith("/")) return "mount containerPath '" + m.containerPath() + "' is not absolute";
            if (m.hostPath() == null || !m.hostPath().startsWith("/")) return "mount hostPath '" + m.hostPath() + "' is not absolute";
            if (m.type() != null && !m.type().equals("bind") && !m.type().equals("none"))
                return "mount type '" + m.type() + "' is not supported by skiff (bind only)";
        }
        for (CdiSpec.CdiHook h : e.hooks()) {
            if (h.hookName() == null || !STAGES.contains(h.hookName())) return "hook hookName '" + h.hookName() + "' is not an OCI hook stage";
            if (h.path() == null || !h.path().startsWith("/")) return "hook path '" + h.path() + "' is not absolute";
        }
        return null;
    }

    public List<Problem> problems() {
        return problems;
    }

    /**
     * The devices a request {@code vendor.tld/class=name} (or {@code =all}: the spec's own "all" device if
     * it defines one, else every device of the kind) names. Unknown devices are fatal; problems in files
     * are fatal then, and otherwise reported as warnings when they could concern this kind.
     */
    public List<Resolved> resolve(String request, Consumer<String> warn) {
        int eq = request.indexOf('=');
        String kind = request.substring(0, eq);
        String name = request.substring(eq + 1);
        if (!KIND.matcher(kind).matches() || !(NAME.matcher(name).matches()))
            throw new SkiffException(ExitCode.USAGE, "--device " + request + ": not a valid CDI name (vendor.tld/class=name)");
        Map<String, Resolved> devs = byKind.getOrDefault(kind, Map.of());
        List<Resolved> out = new ArrayList<>();
        if (devs.containsKey(name)) out.add(devs.get(name));
        else if (name.equals("all")) out.addAll(devs.values());
        if (out.isEmpty()) {
            String why = problems.isEmpty() ? "no CDI spec defines it"
                    : "it is not defined by any valid CDI spec, and these are invalid: " + String.join("; ", problems.stream().map(Problem::toString).toList());
            throw new SkiffException(problems.isEmpty() ? ExitCode.HOST : ExitCode.POLICY,
                    "CDI device " + request + " not found: " + why + " (looked in the site's CDI directories)");
        }
        for (Problem p : problems)
            warn.accept(Warnings.line("CDI spec " + p + " (skipped)"));
        return out;
    }
}
