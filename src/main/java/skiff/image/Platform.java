package skiff.image;

import com.fasterxml.jackson.annotation.JsonProperty;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.List;

/** image-spec image-index.md "platform". */
public record Platform(
        String architecture,
        String os,
        @JsonProperty("os.version") String osVersion,
        @JsonProperty("os.features") List<String> osFeatures,
        String variant) {

    public static Platform of(String os, String architecture, String variant) {
        return new Platform(architecture, os, null, null, variant);
    }

    /** OS/ARCH[/VARIANT], as docker --platform. */
    public static Platform parse(String s) {
        String[] p = s.split("/", -1);
        if (p.length < 2 || p.length > 3 || p[0].isEmpty() || p[1].isEmpty() || (p.length == 3 && p[2].isEmpty()))
            throw new SkiffException(ExitCode.USAGE, "invalid platform '" + s + "': expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8");
        return of(p[0], p[1], p.length == 3 ? p[2] : null);
    }

    /** The platform this JVM runs on, in Go's GOARCH vocabulary that images use. */
    public static Platform host() {
        String arch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "amd64";
            case "aarch64", "arm64" -> "arm64";
            case "ppc64le" -> "ppc64le";
            case "s390x" -> "s390x";
            case "riscv64" -> "riscv64";
            default -> System.getProperty("os.arch");
        };
        return of("linux", arch, arch.equals("arm64") ? "v8" : null);
    }

    /** Whether an index entry's platform satisfies this wanted platform (variant only compared when wanted). */
    public boolean matches(Platform candidate) {
        if (candidate == null) return false;
        if (!os.equals(candidate.os()) || !architecture.equals(candidate.architecture())) return false;
        if (variant == null) return true;
        String cv = candidate.variant();
        // arm64 images often omit the (implied) v8 variant.
        if (cv == null) return architecture.equals("arm64") && variant.equals("v8");
        return variant.equals(cv);
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant != null ? "/" + variant : "");
    }
}
