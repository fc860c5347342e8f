package skiff.policy.mpi;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A library the site named in [modules.NAME.mpi], found on this host.
 *
 * @param entry the site's text: an absolute path, or a name looked up in the host's /etc/ld.so.cache
 * @param file  the real file (symlinks resolved), which is what gets bound
 * @param name  its versioned name: the real file's when it keeps the linker name, else the name it was found by
 * @param names the file names it gets in {@value MpiTransform#LIB_DIR}: the name it was found by and linker
 *              name + major, the one programs' DT_NEEDED carries
 */
public record HostLibrary(String entry, Path file, SoName name, List<String> names) {

    /**
     * Parts of the C library: the image's own must stay, since every program in it, and the host MPI too, is
     * bound to the C library's internal ABI of exactly one version.
     */
    static final Set<String> C_LIBRARY = Set.of("libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so");

    /** The linker name the site's entry implies, refusing what cannot be a replaceable library (POLICY). */
    static SoName declared(String module, String entry) {
        if (entry == null || entry.isBlank() || (entry.contains("/") && !entry.startsWith("/")))
            throw new SkiffException(ExitCode.POLICY, "module " + module + ": mpi library '" + entry
                    + "' must be an absolute host path or a library name such as libmpich.so.12; ask the administrator to fix the site configuration");
        String file = Path.of(entry).getFileName().toString();
        SoName n = SoName.parse(file);
        if (n == null)
            throw new SkiffException(ExitCode.POLICY, "module " + module + ": mpi library '" + entry
                    + "' is not a shared library name (libNAME.so[.VERSION]); ask the administrator to fix the site configuration");
        refuseCLibrary(module, entry, file);
        return n;
    }

    private static void refuseCLibrary(String module, String entry, String file) {
        SoName n = SoName.parse(file);
        boolean loader = file.startsWith("ld-linux") || file.startsWith("ld64.so") || file.startsWith("ld.so");
        if (loader || (n != null && C_LIBRARY.contains(n.linkerName())))
            throw new SkiffException(ExitCode.POLICY, "module " + module + ": mpi library '" + entry
                    + "' is part of the C library, which must stay the image's own (binding the host's breaks every program in it); "
                    + "ask the administrator to remove it from the site configuration");
    }

    /**
     * Finds the site's entry on this host: the path itself, or the first entry of the host's linker cache for this
     * architecture with that name (or that name plus a version), as {@code ldconfig -p} lists them. Missing: HOST,
     * as a missing module mount is.
     */
    static HostLibrary resolve(String module, String entry, Supplier<List<LdSoCache.Entry>> hostCache) {
        SoName declared = declared(module, entry);
        Path found = null;
        String foundAs = Path.of(entry).getFileName().toString();
        if (entry.startsWith("/")) {
            found = Path.of(entry);
        } else {
            for (LdSoCache.Entry e : hostCache.get()) {
                if (e.soname().equals(entry) || e.soname().startsWith(entry + ".")) {
                    found = Path.of(e.path());
                    foundAs = e.soname();
                    break;
                }
            }
        }
        Path real;
        try {
            if (found == null) throw new IOException("not in the host's /etc/ld.so.cache");
            real = found.toRealPath();
            if (!Files.isRegularFile(real)) throw new IOException("not a regular file");
        } catch (IOException e) {
            throw new SkiffException(ExitCode.HOST, "module " + module + ": the host MPI library " + entry
                    + " is missing on this node (" + (found == null ? "not in the host's /etc/ld.so.cache" : found + ": " + e.getMessage())
                    + "); run where it is installed, or ask the administrator");
        }
        String realName = real.getFileName().toString();
        refuseCLibrary(module, entry, realName);
        SoName byReal = SoName.parse(realName);
        SoName byName = SoName.parse(foundAs);
        // Vendor builds name the file differently from its SONAME (Cray's libmpich_gnu_123.so.12): then the name
        // the site or the cache gave is the one to go by.
        SoName name = byReal != null && byReal.linkerName().equals(declared.linkerName())
                && byReal.version().size() >= (byName == null ? 0 : byName.version().size()) ? byReal
                : byName != null ? byName : declared;
        Set<String> names = new LinkedHashSet<>();
        names.add(foundAs);
        if (name.hasMajor()) names.add(name.soname());
        return new HostLibrary(entry, real, name, List.copyOf(names));
    }
}
