package skiff.registry;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.util.Env;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * A client of one registry (OCI distribution spec, pull side), split as jib's is: {@link RegistryCaller} is the one
 * caller (endpoints and mirrors, authentication, redirects, retries), and each endpoint is a small class of its own
 * ({@link ManifestEndpoint}, {@link BlobEndpoint}, {@link TokenEndpoint}); failures are typed by the registry's error
 * codes ({@link RegistryError}) and get their exit codes in {@link RegistryFailures}. The transport is injectable,
 * so tests can play a registry without a server.
 *
 * <p>Thread-safe: the puller downloads several blobs at once through one client.
 */
public final class RegistryClient implements AutoCloseable {
    /** Manifests are small (same bound as the store's metadata blobs); a bigger one is hostile or broken. */
    public static final long MAX_MANIFEST = 8L << 20;

    public static final String MANIFEST_ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST,
            MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);

    /** How hard to try: attempts per request, first backoff delay, longest Retry-After honoured. */
    public record RetryPolicy(int attempts, Duration firstDelay, Duration maxDelay) {
        public static final RetryPolicy DEFAULT = new RetryPolicy(5, Duration.ofMillis(500), Duration.ofSeconds(30));

        Duration backoff(int attempt) {
            long ms = firstDelay.toMillis() << Math.min(attempt, 16);
            return Duration.ofMillis(Math.min(ms, maxDelay.toMillis()));
        }
    }

    /** A manifest or index as the registry sent it, verified against {@link #digest()}. */
    public record Manifest(byte[] bytes, String mediaType, Digest digest) {}

    private final RegistryCaller caller;
    private final ManifestEndpoint manifests;
    private final BlobEndpoint blobs;

    /**
     * @param domain      the image reference's registry (docker.io, host:port)
     * @param endpoints   base URLs to try in order (mirrors, then the registry), see {@link RegistryConfig#pullEndpoints}
     * @param credentials where stored credentials are looked up, per endpoint host
     * @param forced      credentials to use instead of stored ones (login), or null
     */
    public RegistryClient(String domain, List<URI> endpoints, Credentials credentials, Credentials.UserPass forced, RetryPolicy retry) {
        this(domain, endpoints, credentials, forced, retry, new Transport.UrlConnection(Env.process()));
    }

    /** With the HTTP exchange of the caller's choice (tests). */
    RegistryClient(String domain, List<URI> endpoints, Credentials credentials, Credentials.UserPass forced, RetryPolicy retry,
                   Transport transport) {
        this.caller = new RegistryCaller(domain, endpoints, credentials, forced, retry, transport);
        this.manifests = new ManifestEndpoint(caller);
        this.blobs = new BlobEndpoint(caller);
    }

    public static RegistryClient forPull(String domain, RegistryConfig config, Credentials credentials) {
        return new RegistryClient(domain, config.pullEndpoints(domain), credentials, null, RetryPolicy.DEFAULT);
    }

    public String domain() {
        return caller.domain();
    }

    @Override
    public void close() {
        caller.close();
    }

    /**
     * Checks that the registry accepts the credentials given to the constructor ({@code skiff login}):
     * GET /v2/ (the API's base endpoint) and, when it answers with a challenge, a token or Basic request with them.
     */
    public void verifyLogin() {
        URI base = caller.registry();
        try (var r = caller.request(base, "GET", "/v2/", Map.of(), null)) {
            if (r.status() == 200) return;
            throw RegistryFailures.unexpected(base, RegistryError.of(r), "checking the login");
        }
    }

    /**
     * HEAD of a manifest: its digest if the registry says it, empty if it answered without one or with an
     * error status (the GET that follows reports that). Unreachable registries and denials throw.
     */
    public Optional<Digest> headManifest(String repo, String reference) {
        return manifests.head(repo, reference);
    }

    /** GET a manifest or index by tag or digest, bounded in size and verified against its digest. */
    public Manifest getManifest(String repo, String reference) {
        return manifests.get(repo, reference);
    }

    /**
     * Downloads blob {@code d} into {@code partial}, continuing what an earlier attempt left there (the
     * existing bytes are re-hashed, then the rest is asked for with {@code Range}). Never writes more than
     * {@code d.size()} bytes. On return the file holds exactly the blob, verified and synced; on a digest
     * mismatch it is emptied and the error is thrown. Other failures leave the part for the next attempt.
     * The caller must hold a lock that keeps other processes off {@code partial}.
     */
    public void downloadBlob(String repo, Descriptor d, Path partial, LongConsumer progress) throws IOException {
        blobs.download(repo, d, partial, progress);
    }
}
