package skiff.store;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.image.ImageIndex;
import skiff.image.ImageManifest;
import skiff.image.MediaTypes;
import skiff.image.Platform;
import skiff.reference.Reference;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One index.json entry of the store seen as an image: its name (may be null for unnamed entries), the
 * platform manifest it stands for, and that manifest's config.
 *
 * @param entry      the index.json descriptor
 * @param name       the {@code org.opencontainers.image.ref.name} annotation, or null
 * @param manifestDigest the image manifest (for an index entry: the host platform's manifest)
 * @param configDigest the config blob digest: the image id, as Docker shows it
 */
public record StoredImage(Descriptor entry, String name, Digest manifestDigest, ImageManifest manifest,
                          Digest configDigest, ImageConfig config) {

    /** Annotation the pull records on an entry: the digest of the index the manifest was chosen from. */
    public static final String INDEX_DIGEST = Puller.INDEX_DIGEST;

    /** Null-safe media type checks: descriptors written by other tools may lack a media type. */
    public static boolean isIndex(String mediaType) {
        return mediaType != null && MediaTypes.isIndex(mediaType);
    }

    public static boolean isManifest(String mediaType) {
        return mediaType != null && MediaTypes.isManifest(mediaType);
    }

    private static final Pattern ID_PREFIX = Pattern.compile("(?:sha256:)?[0-9a-f]{4,64}");

    /**
     * The digest the registry knows the image by (NAME@DIGEST pulls it again): what the pull recorded,
     * else the index digest, else the entry's own digest (for images that came from elsewhere).
     */
    public Digest repoDigest() {
        String a = entry.annotation(Puller.REPO_DIGEST);
        if (a == null) a = entry.annotation(INDEX_DIGEST);
        if (a != null) {
            try {
                return Digest.parse(a);
            } catch (SkiffException e) {
                // a malformed annotation (other tools may write index.json): fall back to what we know
            }
        }
        return entry.digest();
    }

    /** Sum of the layer blob sizes as stored (compressed when the layers are). */
    public long size() {
        long s = 0;
        for (Descriptor l : manifest.layers()) s += Math.max(0, l.size());
        return s;
    }

    /** The parsed name, or empty for unnamed entries and names that are not image references. */
    public Optional<Reference> reference() {
        if (name == null) return Optional.empty();
        try {
            return Optional.of(Reference.parse(name));
        } catch (SkiffException e) {
            return Optional.empty();
        }
    }

    /** Reads the image an index.json entry stands for. */
    public static StoredImage load(Store store, Descriptor entry) throws IOException {
        Descriptor m = entry;
        if (StoredImage.isIndex(entry.mediaType())) m = pickManifest(store, store.imageIndex(entry.digest()), 0);
        ImageManifest manifest = store.manifest(m.digest());
        if (manifest.config() == null)
            throw new SkiffException(ExitCode.STORAGE, "manifest " + m.digest() + " in " + store.layout() + " has no config; the store is corrupt");
        ImageConfig config = store.config(manifest);
        return new StoredImage(entry, entry.annotation(Descriptor.REF_NAME), m.digest(), manifest, manifest.config().digest(), config);
    }

    private static Descriptor pickManifest(Store store, ImageIndex index, int depth) throws IOException {
        if (depth > 4) throw new SkiffException(ExitCode.STORAGE, "image indexes nested too deeply in " + store.layout());
        Platform host = Platform.host();
        Descriptor fallback = null;
        for (Descriptor d : index.manifests()) {
            if (!store.hasBlob(d.digest())) continue;
            if (StoredImage.isIndex(d.mediaType())) {
                if (fallback == null) fallback = pickManifest(store, store.imageIndex(d.digest()), depth + 1);
                continue;
            }
            if (!StoredImage.isManifest(d.mediaType())) continue;
            if (host.matches(d.platform())) return d;
            if (fallback == null) fallback = d;
        }
        if (fallback == null)
            throw new SkiffException(ExitCode.IMAGE, "no manifest of the image index is present in the store " + store.layout()
                    + " (pull the image again for this platform, " + host + ")");
        return fallback;
    }

    /**
     * Every index.json entry as an image. Entries that cannot be read (missing or corrupt blobs) are
     * reported through {@code broken} rather than hiding all the others.
     */
    public static List<StoredImage> all(Store store, List<String> broken) throws IOException {
        List<StoredImage> out = new ArrayList<>();
        for (Descriptor d : store.index()) {
            try {
                out.add(load(store, d));
            } catch (SkiffException | IOException e) {
                broken.add((d.annotation(Descriptor.REF_NAME) != null ? d.annotation(Descriptor.REF_NAME) : d.digest().toString())
                        + ": " + e.getMessage());
            }
        }
        return out;
    }

    /**
     * Finds the images {@code ref} names: an image reference (Docker normalisation; {@code name@digest}
     * also matches an image of that repository with that manifest or index digest), or an image id
     * (a prefix of the config digest, at least 4 hex digits, as {@code docker} accepts). Several entries
     * can match one id (one image under several names). Empty when nothing matches.
     */
    public static List<StoredImage> find(Store store, String ref) throws IOException {
        Reference parsed = null;
        SkiffException invalid = null;
        try {
            parsed = Reference.parse(ref);
        } catch (SkiffException e) {
            invalid = e;
        }
        List<String> broken = new ArrayList<>();
        if (parsed != null) {
            String full = parsed.toString();
            Optional<Descriptor> exact = store.resolve(full);
            if (exact.isPresent()) return List.of(load(store, exact.get()));
            if (parsed.digest() != null) {
                List<StoredImage> byDigest = new ArrayList<>();
                for (StoredImage i : all(store, broken)) {
                    Optional<Reference> r = i.reference();
                    if (r.isPresent() && r.get().name().equals(parsed.name())
                            && (i.manifestDigest().equals(parsed.digest()) || i.repoDigest().equals(parsed.digest())
                            || i.entry().digest().equals(parsed.digest())))
                        byDigest.add(i);
                }
                if (!byDigest.isEmpty()) return List.of(byDigest.getFirst());
            }
        }
        if (ID_PREFIX.matcher(ref).matches()) {
            String hex = ref.startsWith("sha256:") ? ref.substring(7) : ref;
            Map<Digest, List<StoredImage>> byId = new LinkedHashMap<>();
            for (StoredImage i : all(store, broken)) {
                if (i.configDigest().algorithm().equals("sha256") && i.configDigest().hex().startsWith(hex))
                    byId.computeIfAbsent(i.configDigest(), k -> new ArrayList<>()).add(i);
            }
            if (byId.size() > 1)
                throw new SkiffException(ExitCode.IMAGE, "image id prefix '" + ref + "' is ambiguous: it matches " + byId.size()
                        + " images (give more digits)");
            if (byId.size() == 1) return byId.values().iterator().next();
        }
        if (parsed == null) throw invalid;
        return List.of();
    }

    /** {@link #find} that fails with exit 3 when nothing matches. */
    public static List<StoredImage> require(Store store, String ref) throws IOException {
        List<StoredImage> found = find(store, ref);
        if (found.isEmpty())
            throw new SkiffException(ExitCode.IMAGE, "no image '" + ref + "' in the store " + store.storage()
                    + " (see 'skiff images'; pull it with 'skiff pull " + ref + "')");
        return found;
    }
}
