package skiff.policy.mpi;

import skiff.policy.site.EnvTransform;
import skiff.policy.site.SiteConfig;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.spec.Transform;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Host MPI injection (the bind model): the site's MPI libraries replace the image's. Each host library is paired
 * with the image's files of the same linker name ({@code libmpich.so}), the pair is checked against the MPICH ABI
 * rules ({@link Compatibility}), and the host file is bound read-only over every image file of the same major
 * version, so the image's own ld.so.cache, RUNPATHs and absolute paths all lead to it; the site's dependency
 * libraries likewise over the image's copies of the same major (unchecked: they are the host MPI's business). All
 * are also bound, one file per name, into {@value #LIB_DIR}, which goes first on LD_LIBRARY_PATH: a program that
 * finds its MPI elsewhere (a directory the scan did not see) still loads the host's, and the host library finds
 * dependencies the image lacks. Nothing is written into the image: its cache, read in place, now leads to the
 * host's files.
 *
 * <p>An image without any of the libraries is an error when the user asked for host MPI ({@code explicit}); for a
 * module the site switches on by default it means "not an MPI image" and the spec is left as it is.
 */
public final class MpiTransform implements Transform {
    public static final String LIB_DIR = "/.skiff/mpi/lib";

    private final String module;
    private final SiteConfig.Mpi config;
    private final boolean explicit;
    private final Path rootfs;
    private final Path hostCache;
    private final Consumer<String> warn;

    /**
     * @param hostCache the host's /etc/ld.so.cache, where libraries the site names without a path are looked up
     *                  (read directly: one file read per rank instead of an ldconfig process)
     */
    public MpiTransform(String module, SiteConfig.Mpi config, boolean explicit, Path rootfs, Path hostCache,
                        Consumer<String> warn) {
        this.module = module;
        this.config = config;
        this.explicit = explicit;
        this.rootfs = rootfs;
        this.hostCache = hostCache;
        this.warn = warn;
    }

    /** What was decided: host file over image path binds, and the names bound into {@link #LIB_DIR}. */
    public record Plan(List<Mount> mounts, List<String> warnings) {}

    @Override
    public Spec apply(Spec spec) {
        Plan p = plan(imageLdPath(spec));
        if (p == null) return spec;
        for (String w : p.warnings()) warn.accept(w);
        List<Mount> mounts = new ArrayList<>(spec.mounts());
        mounts.addAll(p.mounts());
        return new EnvTransform(new SiteConfig.EnvEdits(null, Map.of("LD_LIBRARY_PATH", LIB_DIR), null, null))
                .apply(spec.withMounts(mounts));
    }

    /** The binds to add, or null when nothing is to be done (a default module and an image without MPI). */
    Plan plan(List<String> imageLdPath) {
        Compatibility rule = Compatibility.of(module, config.compatibility());
        if (config.libs().isEmpty())
            throw new SkiffException(ExitCode.POLICY, "module " + module + ": mpi libs is empty: it must name the host's MPI libraries"
                    + " (e.g. libs = [\"libmpich.so.12\"]); ask the administrator to fix the site configuration");
        Map<String, SoName> declared = new LinkedHashMap<>();
        for (String e : config.libs()) declared.put(e, HostLibrary.declared(module, e));
        Set<String> linkerNames = new LinkedHashSet<>();
        for (SoName n : declared.values()) linkerNames.add(n.linkerName());
        Set<String> all = new LinkedHashSet<>(linkerNames);
        for (String e : config.dependencyLibs()) all.add(HostLibrary.declared(module, e).linkerName());

        if (rootfs == null) throw new IllegalStateException("host MPI needs the image's root filesystem");
        Map<String, List<ImageLibraries.Candidate>> image = ImageLibraries.find(rootfs, all, imageLdPath);
        boolean none = true;  // loops rather than streams here: every rank of a job runs this in a cold JVM
        for (String n : linkerNames) none &= image.get(n).isEmpty();
        if (none) {
            if (!explicit) return null;
            throw new SkiffException(ExitCode.POLICY, "host MPI (module " + module + "): the image has no MPI library to replace ("
                    + String.join(", ", linkerNames) + " neither in its /etc/ld.so.cache nor in its library directories); use an image"
                    + " whose programs link an MPICH-ABI MPI dynamically, or " + optOut() + " to use the image's own MPI");
        }

        Supplier<List<LdSoCache.Entry>> cache = new Supplier<>() {
            private List<LdSoCache.Entry> parsed;  // read only when a library is named, not given as a path

            @Override
            public List<LdSoCache.Entry> get() {
                if (parsed == null) parsed = ImageLibraries.cacheFile(hostCache);
                return parsed;
            }
        };
        List<Mount> mounts = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        Set<String> bound = new LinkedHashSet<>();
        for (String e : config.libs()) {
            HostLibrary h = HostLibrary.resolve(module, e, cache);
            if (!h.name().hasMajor())
                throw new SkiffException(ExitCode.POLICY, "module " + module + ": the host MPI library " + h.file()
                        + " has no version in its name, so its ABI cannot be checked; ask the administrator to name the versioned file");
            for (ImageLibraries.Candidate c : image.getOrDefault(h.name().linkerName(), List.of())) {
                if (!check(h, c, rule, image.get(h.name().linkerName()), warnings)) continue;
                mounts.add(Mount.bind(h.file().toString(), c.path(), true));
            }
            intoLibDir(h, mounts, bound);
        }
        // The image's own copies of the dependencies of the same major become the host's too, so that its
        // ld.so.cache leads to what the host MPI was built with even where LD_LIBRARY_PATH is reset.
        for (String e : config.dependencyLibs()) {
            HostLibrary h = HostLibrary.resolve(module, e, cache);
            for (ImageLibraries.Candidate c : image.getOrDefault(h.name().linkerName(), List.of()))
                if (h.name().hasMajor() && c.name().major() == h.name().major()) mounts.add(Mount.bind(h.file().toString(), c.path(), true));
            intoLibDir(h, mounts, bound);
        }
        return new Plan(List.copyOf(mounts), List.copyOf(warnings));
    }

    /** True to replace image file {@code c} with host library {@code h}; throws when the ABI rules forbid the run. */
    private boolean check(HostLibrary h, ImageLibraries.Candidate c, Compatibility rule, List<ImageLibraries.Candidate> all,
                          List<String> warnings) {
        SoName hv = h.name(), iv = c.name();
        if (!iv.hasMajor()) {
            if (hasMajor(all, hv.major())) return false;
            throw new SkiffException(ExitCode.POLICY, "host MPI (module " + module + "): the image's " + c.path()
                    + " has no version in its name, so its ABI cannot be checked against the host's " + hv.linkerName() + "." + hv.versionText()
                    + "; install the image's MPI with its versioned file names, or " + optOut());
        }
        if (iv.major() != hv.major()) {
            // Another major of the same library beside a matching one (an old copy) stays the image's.
            if (hasMajor(all, hv.major())) return false;
            throw new SkiffException(ExitCode.POLICY, "host MPI (module " + module + "): the host's " + file(h) + " (ABI " + hv.versionText()
                    + ") is not ABI-compatible with the image's " + c.path() + " (ABI " + iv.versionText() + "): the major versions differ;"
                    + " use an image built against an MPI of ABI " + hv.major() + ", or " + optOut() + " to use the image's own MPI");
        }
        if (rule == Compatibility.STRICT && iv.minor() != hv.minor())
            throw new SkiffException(ExitCode.POLICY, "host MPI (module " + module + "): the host's " + file(h) + " (ABI " + hv.versionText()
                    + ") differs from the image's " + c.path() + " (ABI " + iv.versionText() + ") in its minor version, and the site"
                    + " requires equal ones (compatibility = strict); use an image built against ABI " + hv.major() + "." + hv.minor()
                    + ", or " + optOut());
        if (rule == Compatibility.FULL && iv.minor() > hv.minor())
            warnings.add(Warnings.line("host MPI (module " + module + "): the host's " + file(h) + " (ABI " + hv.versionText()
                    + ") is older than the image's " + c.path() + " (ABI " + iv.versionText() + "): partial ABI compatibility; a program"
                    + " that calls MPI functions newer than the host's fails when it does"));
        return true;
    }

    private static boolean hasMajor(List<ImageLibraries.Candidate> all, int major) {
        for (ImageLibraries.Candidate o : all) if (o.name().major() == major) return true;
        return false;
    }

    /** How the user keeps the image's MPI: it came from their --mpi or --module, or from the site's default. */
    private String optOut() {
        return explicit ? "run without --mpi (or --module " + module + ")" : "run with --no-mpi";
    }

    private static String file(HostLibrary h) {
        return h.file().getFileName().toString();
    }

    private static void intoLibDir(HostLibrary h, List<Mount> mounts, Set<String> bound) {
        for (String n : h.names())
            if (bound.add(n)) mounts.add(Mount.bind(h.file().toString(), LIB_DIR + "/" + n, true));
    }

    /** The image's own LD_LIBRARY_PATH (its ENV), where its MPI may live outside the default directories. */
    private static List<String> imageLdPath(Spec spec) {
        if (spec.process() == null) return List.of();
        String v = EnvTransform.toMap(spec.process().env()).get("LD_LIBRARY_PATH");
        if (v == null || v.isEmpty()) return List.of();
        List<String> out = new ArrayList<>();
        for (String d : v.split(":")) if (d.startsWith("/") && !d.startsWith("/.skiff/")) out.add(d);
        return out;
    }
}
