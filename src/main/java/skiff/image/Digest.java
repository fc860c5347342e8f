package skiff.image;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A content digest {@code algorithm:hex} (image-spec descriptor.md). Only sha256 and sha512 are accepted:
 * the hex is validated strictly because it becomes a file name in the store.
 */
public record Digest(String algorithm, String hex) {
    private static final Pattern SHA256 = Pattern.compile("[a-f0-9]{64}");
    private static final Pattern SHA512 = Pattern.compile("[a-f0-9]{128}");

    public Digest {
        boolean ok = switch (algorithm) {
            case "sha256" -> SHA256.matcher(hex).matches();
            case "sha512" -> SHA512.matcher(hex).matches();
            default -> false;
        };
        if (!ok) throw new SkiffException(ExitCode.IMAGE, "invalid digest '" + algorithm + ":" + hex
                + "': expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>");
    }

    @JsonCreator
    public static Digest parse(String s) {
        int i = s == null ? -1 : s.indexOf(':');
        if (i <= 0) throw new SkiffException(ExitCode.IMAGE, "invalid digest '" + s + "': expected ALGORITHM:HEX");
        return new Digest(s.substring(0, i), s.substring(i + 1));
    }

    public static Digest sha256(byte[] data) {
        return new Digest("sha256", HexFormat.of().formatHex(newSha256().digest(data)));
    }

    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public MessageDigest newMessageDigest() {
        try {
            return MessageDigest.getInstance(algorithm.equals("sha256") ? "SHA-256" : "SHA-512");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The first 12 hex characters, as Docker shows image ids. */
    public String shortHex() {
        return hex.substring(0, 12);
    }

    @JsonValue
    @Override
    public String toString() {
        return algorithm + ":" + hex;
    }
}
