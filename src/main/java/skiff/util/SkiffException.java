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
}
