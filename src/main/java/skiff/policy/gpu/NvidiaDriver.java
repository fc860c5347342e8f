package skiff.policy.gpu;

import skiff.util.Env;
import skiff.util.ExitCode;
import skiff.util.HostPath;
import skiff.util.SkiffException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The host's NVIDIA driver as a container needs it: user-space libraries (from the ldconfig cache, then
 * the configured library directories), utilities (PATH, then the configured program directories) and
 * device nodes.
 */
public final class NvidiaDriver {
    /** Where the driver lands in the container (inside the engine-provided /.skiff tmpfs). */
    public static final String LIB_DIR = "/.skiff/nvidia/lib";
    public static final String BIN_DIR = "/.skiff/nvidia/bin";
    /** Searched after PATH: ordinary users' PATH often lacks the sbin directories where ldconfig lives. */
    private static final List<Path> SBIN_DIRS = List.of(Path.of("/sbin"), Path.of("/usr/sbin"), Path.of("/usr/local/sbin"));
    static final List<String> CONTROL_NODES = List.of("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset");
    private static final Pattern GPU_NODE = Pattern.compile("nvidia(\\d+)");

    /** What was found. {@code libraries}: soname → host path. {@code gpus}: index → /dev/nvidiaN. */
    public record Found(Map<String, Path> libraries, Map<String, Path> programs, List<Path> controlNodes,
                        Map<Integer, Path> gpus) {}

    private final List<String> names;
    private final Supplier<String> ldconfigOutput;
    private final List<Path> libDirs;
    private final List<Path> binDirs;
    private final Path devDir;

    public NvidiaDriver(List<String> names, Supplier<String> ldconfigOutput, List<Path> libDirs, List<Path> binDirs, Path devDir) {
        this.names = names;
        this.ldconfigOutput = ldconfigOutput;
        this.libDirs = libDirs;
        this.binDirs = binDirs;
        this.devDir = devDir;
    }

    /** The shipped list, or the site's file when {@code siteList} is set. */
    public static List<String> libList(String siteList) {
        try {
            String text;
            if (siteList != null) {
                text = Files.readString(Path.of(siteList));
            } else {
                try (InputStream in = NvidiaDriver.class.getResourceAsStream("/skiff/nvliblist.conf")) {
                    if (in == null) throw new IOException("resource skiff/nvliblist.conf missing from the jar");
                    text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
            }
            return text.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        } catch (IOException e) {
            throw new SkiffException(ExitCode.POLICY, "cannot read the GPU library list " + (siteList != null ? siteList : "")
                    + ": " + e.getMessage() + "; fix [gpu] liblist in the site configuration");
        }
    }

    /**
     * Where {@code command} is: itself when it has a '/', else the first in PATH, then /sbin, /usr/sbin
     * (ordinary users' PATH often lacks the sbin directories where ldconfig lives); null if nowhere.
     */
    public static String locate(String command, String path) {
        if (command.contains("/")) return Files.isExecutable(Path.of(command)) ? command : null;
        Path p = HostPath.find(command, HostPath.concat(HostPath.dirs(path), SBIN_DIRS));
        return p == null ? null : p.toString();
    }

    /** Runs {@code ldconfig -p} (a missing or failing ldconfig gives an empty cache: the library dirs still count). */
    public static Supplier<String> ldconfig(String command) {
        return () -> {
            String exe = locate(command, Env.get("PATH"));
            if (exe == null) return "";
            try {
                java.lang.Process p = new ProcessBuilder(exe, "-p").redirectErrorStream(false)
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
                p.getOutputStream().close();
                byte[] out = p.getInputStream().readAllBytes();
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return "";
                }
                return new String(out, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "";
            }
        };
    }

    static boolean isLibrary(String name) {
        return name.contains(".so");
    }

    static boolean libMatches(String listed, String soname) {
        return soname.equals(listed) || soname.startsWith(listed + ".");
    }

    public Found discover(List<Path> pathDirs) {
        List<String> libs = names.stream().filter(NvidiaDriver::isLibrary).toList();
        Map<String, Path> found = new LinkedHashMap<>();
        String tag = LdCache.abiTag();
        for (LdCache.Entry e : LdCache.parse(ldconfigOutput.get())) {
            if (!LdCache.sameAbi(e, tag) || found.containsKey(e.soname())) continue;
            if (libs.stream().anyMatch(l -> libMatches(l, e.soname())) && Files.exists(Path.of(e.path())))
                found.put(e.soname(), Path.of(e.path()));
        }
        for (Path dir : libDirs) {
            if (!Files.isDirectory(dir)) continue;
            try (Stream<Path> s = Files.list(dir)) {
                s.sorted().forEach(p -> {
                    String n = p.getFileName().toString();
                    if (!found.containsKey(n) && libs.stream().anyMatch(l -> libMatches(l, n)) && Files.exists(p))
                        found.put(n, p);
                });
            } catch (IOException ignored) {
                // an unreadable configured directory simply contributes nothing
            }
        }
        Map<String, Path> programs = new LinkedHashMap<>();
        List<Path> search = HostPath.concat(pathDirs, binDirs);
        for (String n : names) {
            if (isLibrary(n)) continue;
            Path p = HostPath.find(n, search);
            if (p != null) programs.put(n, p);
        }
        List<Path> control = CONTROL_NODES.stream().map(devDir::resolve).filter(Files::exists).toList();
        Map<Integer, Path> gpus = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(devDir)) {
            new TreeSet<>(s.map(p -> p.getFileName().toString()).filter(n -> GPU_NODE.matcher(n).matches()).toList())
                    .forEach(n -> gpus.put(Integer.parseInt(n.substring(6)), devDir.resolve(n)));
        } catch (IOException ignored) {
            // no /dev listing: no GPUs
        }
        return new Found(found, programs, control, new java.util.TreeMap<>(gpus));
    }
}
