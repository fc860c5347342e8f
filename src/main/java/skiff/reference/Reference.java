package skiff.reference;

import skiff.image.Digest;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.regex.Pattern;

/**
 * An image reference, normalised exactly as Docker does (distribution/reference "ParseNormalizedNamed"):
 * {@code ubuntu} → {@code docker.io/library/ubuntu:latest}; the first component is a registry host only
 * if it contains '.' or ':', is {@code localhost}, or has an upper-case letter; {@code index.docker.io}
 * means {@code docker.io}; a reference with neither tag nor digest gets {@code :latest}.
 *
 * @param domain registry host[:port], e.g. docker.io, ghcr.io, localhost:5000
 * @param path   repository path, e.g. library/ubuntu
 * @param tag    tag or null (only when a digest is given)
 * @param digest digest or null
 */
public record Reference(String domain, String path, String tag, Digest digest) {
    public static final String DOCKER_HUB = "docker.io";

    private static final String ALNUM = "[a-z0-9]+";
    private static final String SEP = "(?:[._]|__|[-]+)";
    private static final Pattern PATH_COMPONENT = Pattern.compile(ALNUM + "(?:" + SEP + ALNUM + ")*");
    private static final Pattern DOMAIN = Pattern.compile(
            "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
                    + "(?::[0-9]+)?|\\[[a-fA-F0-9:]+\\](?::[0-9]+)?");
    private static final Pattern TAG = Pattern.compile("[\\w][\\w.-]{0,127}");
    private static final int MAX_NAME = 255;

    public static Reference parse(String s) {
        if (s == null || s.isEmpty()) throw invalid(s, "it is empty");
        String rest = s;
        Digest digest = null;
        int at = rest.indexOf('@');
        if (at >= 0) {
            try {
                digest = Digest.parse(rest.substring(at + 1));
            } catch (SkiffException e) {
                throw invalid(s, "the digest after '@' is not ALGORITHM:HEX (sha256 with 64 lowercase hex digits)");
            }
            rest = rest.substring(0, at);
        }
        String tag = null;
        int slash = rest.lastIndexOf('/');
        int colon = rest.lastIndexOf(':');
        if (colon > slash) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
            if (!TAG.matcher(tag).matches())
                throw invalid(s, "the tag '" + tag + "' must be 1-128 characters of letters, digits, '_', '.', '-', not starting with '.' or '-'");
        }
        String domain;
        String path;
        int i = rest.indexOf('/');
        String first = i < 0 ? rest : rest.substring(0, i);
        if (i >= 0 && (first.contains(".") || first.contains(":") || first.equals("localhost") || !first.equals(first.toLowerCase()))) {
            domain = first;
            path = rest.substring(i + 1);
        } else {
            domain = DOCKER_HUB;
            path = rest;
        }
        if (domain.equals("index.docker.io")) domain = DOCKER_HUB;
        if (!DOMAIN.matcher(domain).matches()) throw invalid(s, "'" + domain + "' is not a valid registry host[:port]");
        if (domain.equals(DOCKER_HUB) && !path.contains("/")) path = "library/" + path;
        if (path.isEmpty()) throw invalid(s, "the repository name is empty");
        if (!path.equals(path.toLowerCase())) throw invalid(s, "repository names must be lowercase");
        for (String c : path.split("/", -1)) {
            if (!PATH_COMPONENT.matcher(c).matches())
                throw invalid(s, "'" + c + "' is not a valid repository name component (lowercase letters, digits, and . _ - between them)");
        }
        if (domain.length() + 1 + path.length() > MAX_NAME) throw invalid(s, "the name is longer than " + MAX_NAME + " characters");
        if (tag == null && digest == null) tag = "latest";
        return new Reference(domain, path, tag, digest);
    }

    private static SkiffException invalid(String s, String why) {
        return new SkiffException(ExitCode.IMAGE, "invalid image reference '" + s + "': " + why
                + " (examples: ubuntu, ubuntu:22.04, ghcr.io/org/img:tag, host:5000/a/b@sha256:...)");
    }

    /** domain/path, e.g. docker.io/library/ubuntu. */
    public String name() {
        return domain + "/" + path;
    }

    /** The name as Docker prints it: docker.io/library/ubuntu → ubuntu, docker.io/org/x → org/x. */
    public String familiarName() {
        if (!domain.equals(DOCKER_HUB)) return name();
        return path.startsWith("library/") && path.indexOf('/', 8) < 0 ? path.substring(8) : path;
    }

    /** The tag if any, else the digest: what to ask the registry's manifests endpoint for. */
    public String manifestReference() {
        return digest != null ? digest.toString() : tag;
    }

    /** Full normalised form: the store's image name (index.json ref.name annotation). */
    @Override
    public String toString() {
        return name() + (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
    }
}
