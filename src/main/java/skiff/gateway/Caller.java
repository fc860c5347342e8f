package skiff.gateway;

/** Who made a request, as the authenticator established it. */
public record Caller(String user, int uid, int gid, boolean admin) {}
