package skiff.gateway;

import java.util.List;

/** The rows of the gateway's database, as values. */
final class Records {
    private Records() {}

    /** A pull request; {@code log} holds one line per event. */
    record PullRequest(String id, String reference, String platform, String owner, State state, String digest,
                       String reasonCode, String reason, long createdMs, long updatedMs, long bytesDone, long bytesTotal,
                       String log) {}

    /**
     * A published (or expired) image file.
     *
     * @param allowedUsers  empty: public; else only these users (and the groups) may read the file
     */
    record Image(String digest, String platform, long sizeBytes, String owner, long createdMs, long lastUsedMs,
                 State status, List<String> allowedUsers, List<String> allowedGroups) {
        boolean isPrivate() {
            return !allowedUsers.isEmpty() || !allowedGroups.isEmpty();
        }
    }

    /** What a name meant when it was last resolved. */
    record Name(String name, String platform, String digest, String repoDigest, long resolvedMs) {}
}
