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
    private static boolean first = true;

    static void mark(String what) {
        if (!ON) return;
        long now = System.nanoTime();
        // The first mark also gives the wall clock (epoch microseconds), so that bench/warm.sh can place the JVM's
        // own phases between the exec times strace records for the same run.
        String at = "";
        if (first) {
            java.time.Instant i = java.time.Instant.now();
            at = " at " + (i.getEpochSecond() * 1_000_000 + i.getNano() / 1_000);
            first = false;
        }
        System.err.println("skiff-trace: +" + (now - last) / 1_000_000 + " ms " + what + at);
        last = now;
    }
}
