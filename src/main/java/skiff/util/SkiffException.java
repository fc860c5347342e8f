package skiff.util;

/**
 * A failure the user can act on. The message is one line: what failed, why, and what to do.
 * The CLI prints it as {@code skiff: MESSAGE} and exits with {@link #exitCode()}; the stack trace only
 * appears with --debug.
 */
public class SkiffException extends RuntimeException {
    private final ExitCode exitCode;

    public SkiffException(ExitCode exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public SkiffException(ExitCode exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public ExitCode exitCode() {
        return exitCode;
    }

    /**
     * A failure another process (e.g. a conversion 'skiff run' started) has already explained on stderr: the
     * CLI exits with its code and prints nothing more.
     */
    public static SkiffException reported(ExitCode exitCode) {
        return new Reported(exitCode);
    }

    /** Whether the message was already given to the user (see {@link #reported}). */
    public boolean alreadyReported() {
        return this instanceof Reported;
    }

    private static final class Reported extends SkiffException {
        Reported(ExitCode code) {
            super(code, "(reported above)");
        }
    }
}
