package skiff.util;

/**
 * The one format of a warning: a single line on stderr, {@code skiff: warning: WHAT}, never fatal. Code that
 * collects warnings (policy, configuration, pull listeners) passes whole lines built by {@link #line} to whoever
 * prints them, so a test can compare what the user will read.
 */
public final class Warnings {
    private Warnings() {}

    public static final String PREFIX = "skiff: warning: ";

    /** The line the user reads for {@code message}. */
    public static String line(String message) {
        return PREFIX + message;
    }

    /** Prints {@code message} as a warning line on stderr. */
    public static void print(String message) {
        System.err.println(line(message));
    }
}
