package skiff.gateway;

import java.util.Set;

/** Establishes who calls: from a request's credential header (null when absent). */
sealed interface Authenticator permits Authenticator.None {
    String HEADER = "X-Skiff-Munge";

    Caller authenticate(String credential);

    /**
     * No authentication: every caller is the user running the gateway. For a trial on one machine (the default
     * without a config file); a site sets {@code auth = "munge"}.
     */
    record None(String user, int uid, int gid, Set<String> admins) implements Authenticator {
        @Override
        public Caller authenticate(String credential) {
            return new Caller(user, uid, gid, admins.contains(user));
        }
    }
}
