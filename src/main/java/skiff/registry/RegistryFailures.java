package skiff.registry;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.net.ConnectException;
import java.net.URI;

/**
 * Every registry failure the user sees, and the one place where a kind of failure gets its exit code
 * (docs/errors.md): a missing or inaccessible image is the image's problem (3), everything else the registry's (4).
 */
final class RegistryFailures {
    private RegistryFailures() {}

    enum Kind {
        /** No answer at all: network, address, proxy. */
        UNREACHABLE,
        /** An answer skiff cannot use: an unexpected status, a malformed header, token or redirect, a digest mismatch. */
        BAD_ANSWER,
        /** Credentials were given and refused. */
        AUTH_FAILED,
        /** The registry has no such image (404, MANIFEST_UNKNOWN, NAME_UNKNOWN). */
        NOT_FOUND,
        /** Denied without credentials: the image does not exist or is private. */
        NO_ACCESS,
        /** Something that is not a container image skiff can run (schema 1, another artifact). */
        NOT_AN_IMAGE
    }

    static ExitCode exitCode(Kind kind) {
        return switch (kind) {
            case NOT_FOUND, NO_ACCESS, NOT_AN_IMAGE -> ExitCode.IMAGE;
            case UNREACHABLE, BAD_ANSWER, AUTH_FAILED -> ExitCode.REGISTRY;
        };
    }

    static SkiffException fail(Kind kind, String message) {
        return new SkiffException(exitCode(kind), message);
    }

    static SkiffException fail(Kind kind, String message, Throwable cause) {
        return new SkiffException(exitCode(kind), message, cause);
    }

    static SkiffException unexpected(URI base, RegistryError e, String what) {
        return fail(Kind.BAD_ANSWER, "registry " + base + " answered HTTP " + e.status() + " " + what + e.inParentheses());
    }

    static SkiffException notFound(String domain, String repo, String reference, RegistryError e) {
        String sep = reference.contains(":") ? "@" : ":";
        return fail(Kind.NOT_FOUND, "image " + domain + "/" + repo + sep + reference + " not found"
                + (e == null ? "" : e.inParentheses()) + ": check the name and tag");
    }

    /** A 401 that answering the challenge did not cure. */
    static SkiffException denied(URI base, String loginName, Credentials.UserPass up, RegistryError e, String scope) {
        if (up == null && scope != null)
            return fail(Kind.NO_ACCESS, "registry " + base + " denied access to " + scope.split(":")[1] + e.inParentheses()
                    + ": the image does not exist, or it is private and needs 'skiff login " + loginName + "'");
        return fail(Kind.AUTH_FAILED, "authentication to registry " + base + " failed"
                + (up != null ? " for user '" + up.user() + "'" : "") + e.inParentheses()
                + ": check the user name and password ('skiff login " + loginName + "')");
    }

    static SkiffException unreachable(URI base, int attempts, Exception last) {
        return fail(Kind.UNREACHABLE, "cannot reach registry " + base + " (" + describe(last) + ", "
                + attempts + (attempts == 1 ? " attempt" : " attempts") + "): check the network, the registry address, or a proxy"
                + ("https".equals(base.getScheme()) ? "; a plain-HTTP registry needs 'insecure = true' in config.toml" : ""), last);
    }

    static String describe(Exception e) {
        if (e == null) return "no answer";
        if (e instanceof ConnectException) return "connection refused";
        if (e instanceof java.net.SocketTimeoutException) return "timed out";
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m != null ? ": " + m : "");
    }
}
