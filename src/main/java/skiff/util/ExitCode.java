package skiff.util;

/**
 * Every exit status skiff itself can return. Documented in README.md ("Exit codes"); keep both in step.
 * {@code skiff run} returns the payload's own status, and reserves {@link #LAUNCH} (125, as Docker) for
 * any failure before the payload starts, so that a launch failure never looks like the payload's exit.
 */
public enum ExitCode {
    OK(0),
    /** Unexpected internal error (a bug): the message asks to re-run with --debug and report it. */
    INTERNAL(1),
    /** Bad command line: unknown option, missing argument, malformed value. */
    USAGE(2),
    /** The image or container named does not exist, or its reference is invalid, or no platform matches. */
    IMAGE(3),
    /** The registry refused or failed: authentication, network, bad answer, digest mismatch. */
    REGISTRY(4),
    /** Local storage or file-system problem: store corrupt, no space, permission, bad archive. */
    STORAGE(5),
    /** Denied by site policy or invalid configuration. */
    POLICY(6),
    /** The host lacks something skiff needs (user namespaces, util-linux, FUSE, GPU driver, the site's MPI libraries). */
    HOST(7),
    /** {@code skiff run}: the container could not be started; the payload never ran. */
    LAUNCH(125),
    /** {@code skiff run}: the command exists in the container but cannot be executed. */
    NOT_EXECUTABLE(126),
    /** {@code skiff run}: the command was not found in the container. */
    NOT_FOUND(127);

    public final int code;

    ExitCode(int code) {
        this.code = code;
    }
}
