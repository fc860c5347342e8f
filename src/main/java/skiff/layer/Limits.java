package skiff.layer;

/**
 * Bounds on what one image may cost to flatten, against hostile or broken layers (decompression bombs,
 * absurd entry counts). Exceeding one is an error (exit 5) naming the limit.
 *
 * @param maxEntries          tree nodes created over all layers, implicit parent directories included
 * @param maxPathBytes        longest path (UTF-8 bytes), as Linux's PATH_MAX
 * @param maxUncompressedBytes total uncompressed tar bytes read over all layers in one pass
 * @param maxRatio            uncompressed/compressed ratio a layer may reach once past {@link #RATIO_FLOOR}
 */
public record Limits(long maxEntries, int maxPathBytes, long maxUncompressedBytes, double maxRatio) {
    /** Below this many uncompressed bytes a layer's ratio is not judged: tiny layers compress absurdly well. */
    public static final long RATIO_FLOOR = 64L << 20;

    /** Symbolic links followed to place one entry, as the kernel's ELOOP limit: a loop ends here. */
    public static final int MAX_LINK_HOPS = 40;

    /**
     * Path components walked to place one entry, its links' targets included: 40 links of 4095-byte
     * targets would otherwise cost 80,000 steps per entry, for every entry of a hostile image.
     */
    public static final int MAX_RESOLVE_STEPS = 4096;

    public static Limits defaults() {
        return new Limits(10_000_000L, 4096, 256L << 30, 1000.0);
    }

    public Limits withMaxEntries(long n) {
        return new Limits(n, maxPathBytes, maxUncompressedBytes, maxRatio);
    }

    public Limits withMaxUncompressedBytes(long n) {
        return new Limits(maxEntries, maxPathBytes, n, maxRatio);
    }

    public Limits withMaxRatio(double r) {
        return new Limits(maxEntries, maxPathBytes, maxUncompressedBytes, r);
    }
}
