package skiff.policy.mpi;

import skiff.policy.site.BindPolicy;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The image's copies of given libraries, found as its dynamic linker would: the entries of its own
 * {@code /etc/ld.so.cache}, then the library directories glibc searches by default and those on the image's
 * LD_LIBRARY_PATH (an image built without running ldconfig still counts). Every path is resolved inside the
 * image root (absolute links restart there, {@code ..} stops there), so a link can neither leave the image
 * nor make skiff bind over something that is not such a library.
 */
public final class ImageLibraries {
    /** A regular file of the image, by its resolved container path, its versioned name, and how it was found. */
    public record Candidate(String path, SoName name, String foundAs) {}

    private ImageLibraries() {}

    /** The default search directories (glibc's for this architecture, plus /usr/local/lib as Debian configures). */
    static List<String> defaultDirs() {
        String triplet = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86_64-linux-gnu";
            case "aarch64" -> "aarch64-linux-gnu";
            case "ppc64le" -> "powerpc64le-linux-gnu";
            default -> null;
        };
        List<String> d = new ArrayList<>();
        if (triplet != null) d.addAll(List.of("/usr/local/lib/" + triplet, "/lib/" + triplet, "/usr/lib/" + triplet));
        d.addAll(List.of("/usr/local/lib", "/lib64", "/usr/lib64", "/lib", "/usr/lib"));
        return d;
    }

    /**
     * Per linker name ({@code libmpich.so}), the image's files of that library, cache entries first; a file
     * reached by several names counts once.
     */
    public static Map<String, List<Candidate>> find(Path root, Set<String> linkerNames, List<String> extraDirs) {
        Map<String, List<Candidate>> out = new LinkedHashMap<>();
        for (String n : linkerNames) out.put(n, new ArrayList<>());
        Set<String> seen = new LinkedHashSet<>();
        for (LdSoCache.Entry e : cache(root)) {
            String linker = wanted(e.soname(), linkerNames);
            if (linker != null) consider(root, e.path(), linker, "ld.so.cache", out, seen);
        }
        List<String> dirs = new ArrayList<>(extraDirs);
        dirs.addAll(defaultDirs());
        Set<String> listed = new LinkedHashSet<>();
        for (String dir : new LinkedHashSet<>(dirs)) {
            if (!dir.startsWith("/")) continue;
            String resolved = resolve(root, dir);
            // Merged /usr: /lib/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu are one directory, listed once.
            if (resolved == null || !listed.add(resolved)) continue;
            Path host = host(root, resolved);
            if (!Files.isDirectory(host, LinkOption.NOFOLLOW_LINKS)) continue;
            List<String> names = new ArrayList<>();
            try (DirectoryStream<Path> s = Files.newDirectoryStream(host)) {
                for (Path p : s) {
                    String f = p.getFileName().toString();
                    if (wanted(f, linkerNames) != null) names.add(f);
                }
            } catch (IOException | DirectoryIteratorException e) {
                continue;
            }
            Collections.sort(names);
            for (String f : names) {
                String linker = wanted(f, linkerNames);
                if (linker != null) consider(root, resolved + "/" + f, linker, dir, out, seen);
            }
        }
        return out;
    }

    /** The linker name among {@code linkerNames} that file name {@code f} is a version of, or null. */
    private static String wanted(String f, Set<String> linkerNames) {
        for (String l : linkerNames)
            if (f.startsWith(l) && (f.length() == l.length() || f.charAt(l.length()) == '.')) return l;
        return null;
    }

    private static void consider(Path root, String path, String linker, String foundAs, Map<String, List<Candidate>> out, Set<String> seen) {
        String resolved = resolve(root, path);
        if (resolved == null || !Files.isRegularFile(host(root, resolved), LinkOption.NOFOLLOW_LINKS)) return;  // broken entry
        String file = resolved.substring(resolved.lastIndexOf('/') + 1);
        SoName name = SoName.parse(file);
        if (name == null || !name.linkerName().equals(linker)) return;
        if (seen.add(resolved)) out.get(linker).add(new Candidate(resolved, name, foundAs));
    }

    /** The image's cache entries for this architecture; none when it has no readable, plausible cache. */
    static List<LdSoCache.Entry> cache(Path root) {
        String resolved = resolve(root, "/etc/ld.so.cache");
        return resolved == null ? List.of() : cacheFile(host(root, resolved));
    }

    /** The entries of the cache file {@code f} for this architecture; none when it is missing, too large or unreadable. */
    static List<LdSoCache.Entry> cacheFile(Path f) {
        try {
            if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS) || Files.size(f) > LdSoCache.MAX_SIZE) return List.of();
            return LdSoCache.parse(Files.readAllBytes(f), LdSoCache.hostFlags());
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String resolve(Path root, String path) {
        try {
            return BindPolicy.resolveDestination(path, root);
        } catch (SkiffException e) {
            return null;  // a link loop in the image: nothing there for the linker either
        }
    }

    private static Path host(Path root, String resolved) {
        return resolved.equals("/") ? root : root.resolve(resolved.substring(1));
    }
}
