package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

import static skiff.registry.RegistryFailures.Kind.BAD_ANSWER;
import static skiff.registry.RegistryFailures.Kind.NOT_AN_IMAGE;
import static skiff.registry.RegistryFailures.Kind.UNREACHABLE;

/** {@code /v2/REPO/manifests/REFERENCE}: HEAD for the digest, GET for the manifest or index, bounded and verified. */
final class ManifestEndpoint {
    private final RegistryCaller caller;

    ManifestEndpoint(RegistryCaller caller) {
        this.caller = caller;
    }

    private static String path(String repo, String reference) {
        return "/v2/" + repo + "/manifests/" + reference;
    }

    Optional<Digest> head(String repo, String reference) {
        return caller.onEndpoints(base -> {
            try (var r = caller.request(base, "HEAD", path(repo, reference), Map.of("Accept", RegistryClient.MANIFEST_ACCEPT),
                    RegistryCaller.pullScope(repo))) {
                if (r.status() == 404) throw RegistryFailures.notFound(caller.domain(), repo, reference, null);
                if (r.status() != 200) return Optional.<Digest>empty();
                return r.header("Docker-Content-Digest").map(ManifestEndpoint::parseDigestHeader);
            }
        });
    }

    RegistryClient.Manifest get(String repo, String reference) {
        Digest wanted = reference.contains(":") ? Digest.parse(reference) : null;
        return caller.onEndpoints(base -> {
            try (var r = caller.request(base, "GET", path(repo, reference), Map.of("Accept", RegistryClient.MANIFEST_ACCEPT),
                    RegistryCaller.pullScope(repo))) {
                int s = r.status();
                if (s == 404) throw RegistryFailures.notFound(caller.domain(), repo, reference, RegistryError.of(r));
                if (s != 200) throw RegistryFailures.unexpected(base, RegistryError.of(r), "fetching the manifest of " + repo + ":" + reference);
                long len = r.contentLength();
                if (len > RegistryClient.MAX_MANIFEST) throw tooBig(repo, reference, len);
                byte[] data = read(base, r, repo, reference);
                Digest header = r.header("Docker-Content-Digest").map(ManifestEndpoint::parseDigestHeader).orElse(null);
                Digest expect = wanted != null ? wanted : header;
                Digest actual = expect != null ? digestOf(expect.algorithm(), data) : Digest.sha256(data);
                if (expect != null && !expect.equals(actual))
                    throw RegistryFailures.fail(BAD_ANSWER, "manifest of " + repo + ":" + reference + " from " + base
                            + " does not match its digest (expected " + expect + ", got " + actual + "); nothing was stored (try again, or report the registry)");
                if (!actual.algorithm().equals("sha256")) actual = Digest.sha256(data);
                String ct = r.header("Content-Type").orElse(null);
                return new RegistryClient.Manifest(data, mediaTypeOf(data, ct, repo, reference), actual);
            }
        });
    }

    private static byte[] read(URI base, Transport.Response r, String repo, String reference) {
        byte[] data;
        try {
            data = readBounded(r.body(), RegistryClient.MAX_MANIFEST);
        } catch (IOException e) {
            throw RegistryFailures.fail(UNREACHABLE, "connection to " + base + " failed while reading the manifest of "
                    + repo + ":" + reference + ": " + e.getMessage() + " (try again)", e);
        }
        if (data == null) throw tooBig(repo, reference, -1);
        return data;
    }

    /** Reads at most {@code max} bytes; null if there were more. */
    static byte[] readBounded(InputStream in, long max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[64 << 10];
        long total = 0;
        int n;
        while ((n = in.read(buf)) > 0) {
            total += n;
            if (total > max) return null;
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private static SkiffException tooBig(String repo, String reference, long len) {
        return RegistryFailures.fail(BAD_ANSWER, "manifest of " + repo + ":" + reference + " is "
                + (len >= 0 ? len + " bytes, " : "") + "bigger than the " + RegistryClient.MAX_MANIFEST + "-byte limit; refused");
    }

    private static Digest parseDigestHeader(String v) {
        try {
            return Digest.parse(v.trim());
        } catch (SkiffException e) {
            throw RegistryFailures.fail(BAD_ANSWER, "registry sent an invalid Docker-Content-Digest header '" + v + "'");
        }
    }

    static Digest digestOf(String algorithm, byte[] data) {
        java.security.MessageDigest md = new Digest(algorithm, algorithm.equals("sha256") ? "0".repeat(64) : "0".repeat(128)).newMessageDigest();
        return new Digest(algorithm, HexFormat.of().formatHex(md.digest(data)));
    }

    /** The manifest's media type: its own mediaType field, else Content-Type, else its shape. */
    private static String mediaTypeOf(byte[] data, String contentType, String repo, String reference) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(data);
        } catch (IOException e) {
            throw RegistryFailures.fail(BAD_ANSWER, "manifest of " + repo + ":" + reference + " is not valid JSON");
        }
        if (n == null || !n.isObject()) throw RegistryFailures.fail(BAD_ANSWER, "manifest of " + repo + ":" + reference + " is not a JSON object");
        String mt = n.path("mediaType").asText("");
        if (mt.isEmpty() && contentType != null) {
            String ct = contentType.split(";")[0].trim();
            if (MediaTypes.isIndex(ct) || MediaTypes.isManifest(ct)) mt = ct;
        }
        if (mt.isEmpty()) mt = n.has("manifests") ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST;
        if (n.path("schemaVersion").asInt() == 1 || mt.contains("distribution.manifest.v1"))
            throw RegistryFailures.fail(NOT_AN_IMAGE, "image " + repo + ":" + reference + " uses the obsolete Docker schema 1 manifest, which skiff does not support");
        if (!MediaTypes.isIndex(mt) && !MediaTypes.isManifest(mt))
            throw RegistryFailures.fail(NOT_AN_IMAGE, repo + ":" + reference + " is not a container image (media type " + mt + ")");
        return mt;
    }
}
