package skiff.gateway;

/**
 * An error the API answers with: an HTTP status, a stable machine-readable code, one clear message. Every failure
 * the gateway can name has its own code (see docs/gateway.md), so clients never have to guess from a 404.
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String code;

    public ApiException(int status, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    static ApiException badRequest(String code, String message) {
        return new ApiException(400, code, message);
    }

    static ApiException notFound(String message) {
        return new ApiException(404, "not_found", message);
    }

    static ApiException forbidden(String message) {
        return new ApiException(403, "forbidden", message);
    }
}
