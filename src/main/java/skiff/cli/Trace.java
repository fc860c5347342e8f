package skiff.cli;

import skiff.util.Env;

/**
 * SKIFF_TRACE=1: milliseconds between named points of a command, on stderr, to see
 * where start-up time goes (bench/RESULTS.md, section startup). Costs one getenv when off.
 */
final class Trace {
    private Trace() {}

    private static final boolean ON = Env.is("SKIFF_TRACE", "1");
    private static long last = System.nanoTime();

    static void mark(String what) {
        if (!ON) return;
        long now = System.nanoTime();
        System.err.println("skiff-trace: +" + (now - last) / 1_000_000 + " ms " + what);
        last = now;
    }
}
