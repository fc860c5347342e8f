package skiff.gateway;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Establishes who calls, from a request's credential header (null when absent). */
sealed interface Authenticator permits Authenticator.None, Authenticator.Munge {
    String HEADER = "X-Skiff-Munge";

    /** The caller; a 401 {@link ApiException} when the credential is missing or not valid. */
    Caller authenticate(String credential);

    /** Who calls a read-only route: without a credential, an anonymous caller who sees public images only. */
    default Caller viewer(String credential) {
        return credential == null || credential.isBlank() ? ANONYMOUS : authenticate(credential);
    }

    Caller ANONYMOUS = new Caller("(anonymous)", -1, -1, false);

    /**
     * No authentication: every caller is the user running the gateway. For a trial on one machine (the default
     * without a config file); a site sets {@code auth = "munge"}.
     */
    record None(String user, int uid, int gid, Set<String> admins) implements Authenticator {
        @Override
        public Caller authenticate(String credential) {
            return new Caller(user, uid, gid, admins.contains(user));
        }

        @Override
        public Caller viewer(String credential) {
            return authenticate(credential);
        }
    }

    /**
     * munge, as on every Slurm cluster: the client runs {@code munge -n}, the gateway decodes the credential with
     * {@code unmunge}, which asks the local munged; same key on both sides means same cluster. munge refuses a
     * credential decoded twice (replayed) or older than its time to live (expired): both are 401, said so.
     *
     * @param socket munged's socket, or null for the default
     */
    record Munge(Set<String> admins, String socket) implements Authenticator {
        static final Pattern UID = Pattern.compile("(?m)^UID:\\s+(\\S+) \\((\\d+)\\)");
        static final Pattern GID = Pattern.compile("(?m)^GID:\\s+(\\S+) \\((\\d+)\\)");

        @Override
        public Caller authenticate(String credential) {
            if (credential == null || credential.isBlank())
                throw new ApiException(401, "credential_missing", "this gateway needs a munge credential in the " + HEADER
                        + " header (skiff sends one when munged runs on the client's host)");
            if (credential.length() > 4096 || !credential.startsWith("MUNGE:"))
                throw new ApiException(401, "credential_invalid", "the " + HEADER + " header is not a munge credential");
            String out;
            int rc;
            try {
                ProcessBuilder pb = socket == null ? new ProcessBuilder("unmunge", "-k", "STATUS,UID,GID", "-o", "/dev/null")
                        : new ProcessBuilder("unmunge", "-S", socket, "-k", "STATUS,UID,GID", "-o", "/dev/null");
                Process p = pb.redirectErrorStream(true).start();
                try (OutputStream in = p.getOutputStream()) {
                    in.write(credential.getBytes(StandardCharsets.US_ASCII));
                }
                out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new ApiException(503, "auth_unavailable", "unmunge did not answer within 10 s: is munged running on the gateway host?");
                }
                rc = p.exitValue();
            } catch (IOException e) {
                throw new ApiException(503, "auth_unavailable", "cannot run unmunge on the gateway host: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiException(503, "auth_unavailable", "interrupted while decoding the credential");
            }
            switch (rc) {
                case 0 -> { }
                case 15 -> throw new ApiException(401, "credential_expired", "the munge credential has expired (its time to live"
                        + " passed, or the clocks of the client and the gateway differ): make a new one");
                case 16 -> throw new ApiException(401, "credential_expired", "the munge credential was made in the future (rewound):"
                        + " the clocks of the client and the gateway differ");
                case 17 -> throw new ApiException(401, "credential_replayed", "the munge credential was already used: each request"
                        + " needs a fresh one");
                case 6 -> throw new ApiException(503, "auth_unavailable", "munged is not running on the gateway host: "
                        + GatewayService.oneLine(out));
                default -> throw new ApiException(401, "credential_invalid", "the munge credential was refused: "
                        + GatewayService.oneLine(out.lines().filter(l -> l.startsWith("STATUS:") || l.contains("Error")).findFirst().orElse(out)));
            }
            Matcher u = UID.matcher(out), g = GID.matcher(out);
            if (!u.find() || !g.find())
                throw new ApiException(401, "credential_invalid", "unmunge gave no UID and GID for the credential");
            String user = u.group(1);
            return new Caller(user, Integer.parseInt(u.group(2)), Integer.parseInt(g.group(2)), admins.contains(user));
        }
    }
}
