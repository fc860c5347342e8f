package skiff.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Shared libraries and linker caches in an image tree, made with the real tools: gcc for a library with a given
 * SONAME, and glibc's ldconfig run on the tree as the image's own build would (in a user namespace, since
 * {@code ldconfig -r} chroots).
 */
public final class LibTree {
    private LibTree() {}

    /** Compiles a small ELF shared library {@code dir/fileName} whose SONAME is {@code soname} and which defines {@code cSource}. */
    public static Path library(Path dir, String fileName, String soname, String cSource) {
        try {
            Files.createDirectories(dir);
            Path src = Files.createTempFile(dir.getParent(), "lib", ".c");
            Files.writeString(src, cSource);
            Path out = dir.resolve(fileName);
            Cmd.of("gcc", "-shared", "-fPIC", "-Wl,-soname," + soname, "-o", out.toString(), src.toString()).run().ok();
            Files.delete(src);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path library(Path dir, String fileName, String soname) {
        return library(dir, fileName, soname, "int skiff_test_stub(void) { return 1; }\n");
    }

    /** Runs the tree's ldconfig step: SONAME links and {@code /etc/ld.so.cache} inside {@code root}. */
    public static void ldconfig(Path root) {
        ldconfig(root, "new", "/etc/ld.so.cache");
    }

    /** As {@link #ldconfig(Path)}, in glibc's cache {@code format} (new, compat, old), into {@code cache} inside the tree. */
    public static void ldconfig(Path root, String format, String cache) {
        try {
            Files.createDirectories(root.resolve("etc"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Cmd.of("unshare", "-r", "/sbin/ldconfig", "-c", format, "-C", cache, "-r", root.toString()).run().ok();
    }
}
