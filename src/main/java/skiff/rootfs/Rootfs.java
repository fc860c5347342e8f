package skiff.rootfs;

import skiff.image.Digest;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Path;

// PLACEHOLDER API (issue 3 implements it; the engine codes against these signatures).
/** Converted root filesystems, cached by image manifest digest beside the OCI layout. */
public final class Rootfs {
    private Rootfs() {}

    public enum Format { SQUASHFS, DIR }

    /** Where the converted image lives: STORAGE/sqfs/HEX.sqfs or STORAGE/dir/HEX/ (HEX = manifest digest hex). */
    public static Path path(Store store, Digest manifest, Format format) {
        return switch (format) {
            case SQUASHFS -> store.storage().resolve("sqfs").resolve(manifest.hex() + ".sqfs");
            case DIR -> store.storage().resolve("dir").resolve(manifest.hex());
        };
    }

    /**
     * The image's root filesystem in {@code format}, converting it first when it is not cached yet.
     * Concurrent callers for the same image wait for one conversion; the result appears atomically.
     */
    public static Path ensure(Store store, Digest manifest, Format format) {
        Path p = path(store, manifest, format);
        if (java.nio.file.Files.exists(p)) return p;
        throw new SkiffException(ExitCode.STORAGE, "conversion to " + format + " is not implemented yet");
    }
}
