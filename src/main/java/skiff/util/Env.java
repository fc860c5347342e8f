package skiff.util;

import java.util.Map;

/**
 * The one place that reads the process environment. Everything else takes a {@code Map<String, String>} handed
 * down from here (tests pass their own), so what a command sees of the environment is visible at its entry point.
 */
public final class Env {
    private Env() {}

    /** The environment skiff was started with (unmodifiable). */
    public static Map<String, String> process() {
        return System.getenv();
    }

    /** One variable of the process environment, or null. */
    public static String get(String name) {
        return System.getenv(name);
    }

    /** True when {@code name} is set to exactly {@code value}. */
    public static boolean is(String name, String value) {
        return value.equals(System.getenv(name));
    }
}
