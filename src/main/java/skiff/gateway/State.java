package skiff.gateway;

/** A pull request's lifecycle. READY and FAILED end a request; EXPIRED marks an image no longer published. */
public enum State {
    PENDING, PULLING, CONVERTING, PUBLISHING, READY, FAILED, EXPIRED;

    public boolean terminal() {
        return this == READY || this == FAILED || this == EXPIRED;
    }
}
