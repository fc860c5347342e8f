package skiff.policy.mpi;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

/**
 * The MPICH ABI rules a site demands between the host's library and the image's (same linker name): the major
 * version always matches; {@code FULL} also wants the host's minor at least the image's (else only a warning: a
 * program using functions the older host library lacks fails when it calls them); {@code STRICT} wants the
 * minor equal.
 */
public enum Compatibility {
    MAJOR, FULL, STRICT;

    public static Compatibility of(String module, String value) {
        return switch (value) {
            case "major" -> MAJOR;
            case "full" -> FULL;
            case "strict" -> STRICT;
            default -> throw new SkiffException(ExitCode.POLICY, "module " + module + ": mpi compatibility = '" + value
                    + "' is not one of major, full, strict; ask the administrator to fix the site configuration");
        };
    }
}
