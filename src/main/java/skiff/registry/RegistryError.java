package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.util.Json;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * What a registry said went wrong: the HTTP status and the first entry of a distribution-spec error body
 * ({@code {"errors":[{"code":..., "message":...}]}}, spec.md "Error Codes"), typed by its code. {@link #detail()} is
 * the text skiff quotes to the user; {@link RegistryFailures} decides what each means and its exit code.
 */
record RegistryError(int status, Code code, String detail) {
    private static final int MAX_ERROR_BODY = 16 << 10;

    /** The distribution spec's error codes; {@link #OTHER} for a body without one or with one of a registry's own. */
    enum Code {
        BLOB_UNKNOWN, BLOB_UPLOAD_INVALID, BLOB_UPLOAD_UNKNOWN, DIGEST_INVALID, MANIFEST_BLOB_UNKNOWN, MANIFEST_INVALID,
        MANIFEST_UNKNOWN, NAME_INVALID, NAME_UNKNOWN, SIZE_INVALID, UNAUTHORIZED, DENIED, UNSUPPORTED, TOOMANYREQUESTS,
        OTHER;

        static Code of(String s) {
            try {
                return s == null || s.isEmpty() ? OTHER : valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                return OTHER;
            }
        }
    }

    /** Reads (at most 16 KiB of) the response's body and closes it. */
    static RegistryError of(Transport.Response resp) {
        return parse(resp.status(), body(resp));
    }

    static RegistryError parse(int status, String body) {
        if (body == null || body.isBlank()) return new RegistryError(status, Code.OTHER, "");
        try {
            JsonNode n = Json.MAPPER.readTree(body);
            JsonNode e = n.path("errors").path(0);
            if (e.isObject()) {
                String code = e.path("code").asText("");
                String msg = e.path("message").asText("");
                return new RegistryError(status, Code.of(code),
                        (code + (msg.isEmpty() ? "" : ": " + msg)).replaceAll("[\\r\\n\\p{Cntrl}]", " ").trim());
            }
            if (n.hasNonNull("details"))
                return new RegistryError(status, Code.OTHER, n.get("details").asText().replaceAll("\\p{Cntrl}", " "));
        } catch (IOException ignored) {
            // not JSON: nothing to quote
        }
        return new RegistryError(status, Code.OTHER, "");
    }

    /** " (detail)" for a message, or "" when the registry said nothing usable. */
    String inParentheses() {
        return detail.isEmpty() ? "" : " (" + detail + ")";
    }

    private static String body(Transport.Response resp) {
        try (InputStream in = resp.body()) {
            return new String(in.readNBytes(MAX_ERROR_BODY), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
