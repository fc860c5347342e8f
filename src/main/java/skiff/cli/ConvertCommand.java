package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.image.Platform;
import skiff.reference.Reference;
import skiff.rootfs.ConvertSettings;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code skiff convert}: an image's root filesystem as one SquashFS file or a directory. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Convert an image into a SquashFS file or a directory root filesystem and print its path.",
                "Without -o the result goes into skiff's cache, where 'skiff run' finds it; an existing conversion is reused."})
public final class ConvertCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--format", paramLabel = "FORMAT", description = "squashfs or dir (default: [convert] format of config.toml, else squashfs).")
    String format;

    @Option(names = "--compression", paramLabel = "ALGO", description = "SquashFS compression: gzip, zstd or none (default: config.toml, else zstd).")
    String compression;

    @Option(names = "--level", paramLabel = "N", description = "Compression level: gzip 1-9, zstd 1-22 (default: the compressor's).")
    Integer level;

    @Option(names = {"-o", "--output"}, paramLabel = "PATH", description = "Write here instead of the cache (atomically).")
    Path output;

    @Option(names = {"-q", "--quiet"}, description = "No progress on the terminal; print only the path.")
    boolean quiet;

    /** What the progress calls the image: 'skiff run' passes the name the user gave, as it converts by digest. */
    @Option(names = "--label", hidden = true)
    String label;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "Image name as pulled (e.g. alpine:3.20), or a manifest digest sha256:...")
    String image;

    @Override
    public Integer call() throws IOException {
        ConvertSettings s = ConvertSettings.load(main.env());
        Rootfs.Format f = format != null
                ? ConvertSettings.parseFormat(format, () -> new SkiffException(ExitCode.USAGE, "unknown --format '" + format + "': use squashfs or dir"))
                : s.format() != null ? s.format() : Rootfs.Format.SQUASHFS;
        s = s.withFormat(f);
        if (compression != null || level != null) {
            var c = compression == null ? s.compression()
                    : ConvertSettings.parseCompression(compression, () -> new SkiffException(ExitCode.USAGE,
                    "unknown --compression '" + compression + "': use gzip, zstd or none"));
            s = s.withCompression(c, level);
        }
        if (f == Rootfs.Format.DIR && (compression != null || level != null))
            throw new SkiffException(ExitCode.USAGE, "--compression and --level apply to --format squashfs only");

        Store store = main.store();
        Digest manifest = resolve(store, image);
        ConvertProgress progress = ConvertProgress.install(label != null ? label : image, quiet);
        java.util.function.Consumer<String> warn = w -> ConvertProgress.warn(progress, w);
        Path p = output != null
                ? Rootfs.convertTo(store, manifest, f, s, warn, output)
                : Rootfs.ensure(store, manifest, f, s, warn);
        System.out.println(p);
        return 0;
    }

    /** The manifest of IMAGE for this host: a name in the store (an index picks the host platform), or a digest. */
    static Digest resolve(Store store, String image) throws IOException {
        Descriptor d;
        if (image.startsWith("sha256:") || image.startsWith("sha512:")) {
            Digest dg = Digest.parse(image);
            if (!store.hasBlob(dg)) throw notFound(image);
            // The blob says what it is: an index lists "manifests".
            boolean isIndex = skiff.util.Json.MAPPER.readTree(store.readMetadataBlob(dg)).has("manifests");
            d = Descriptor.of(isIndex ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST, dg, 0);
        } else {
            String name = Reference.parse(image).toString();
            d = store.resolve(name).orElseThrow(() -> notFound(image));
        }
        if (MediaTypes.isIndex(d.mediaType())) {
            Platform host = Platform.host();
            Descriptor pick = store.imageIndex(d.digest()).manifests().stream()
                    .filter(m -> host.matches(m.platform())).findFirst()
                    .orElseThrow(() -> new SkiffException(ExitCode.IMAGE, "image " + image + " has no manifest for " + host
                            + " (pull it with --platform " + host + ")"));
            d = pick;
        }
        return d.digest();
    }

    private static SkiffException notFound(String image) {
        return new SkiffException(ExitCode.IMAGE, "no image '" + image + "' in the store (pull it first, or see 'skiff images')");
    }
}
