package skiff.cli;

import skiff.image.Digest;
import skiff.layer.Progress;
import skiff.rootfs.ConversionWatcher;
import skiff.rootfs.Rootfs;
import skiff.util.Warnings;
import skiff.util.Env;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * Conversion progress on a terminal: one line, redrawn in place at most ten times a second, then one final
 * line with the result. The phase, entries and bytes against their totals, rate and time left: pass 1 only
 * knows the compressed layer sizes (the manifest's), so it counts compressed input; the write phase knows
 * the tree's entries and content bytes. The width is asked of the terminal before every redraw (one ioctl),
 * so a resized window is followed without a signal handler, and the line is shortened to fit, least useful
 * parts first. Drawn only on a terminal: {@link #install} decides.
 */
final class ConvertProgress implements ConversionWatcher, Progress {
    static final long FRAME_NANOS = 100_000_000L;

    private final PrintStream out;
    private final String label;
    private final IntSupplier columns;
    private final LongSupplier clock;
    private final boolean paintThread;

    private final AtomicLong read = new AtomicLong();
    private final AtomicLong entries = new AtomicLong();
    private final AtomicLong content = new AtomicLong();
    private volatile long plannedEntries = -1, plannedBytes = -1;
    private volatile Phase phase;
    private volatile String format = "";
    private volatile long layerBytes;
    private volatile long holder = Long.MIN_VALUE; // the pid waited for; MIN_VALUE while not waiting
    private volatile long start, phaseStart, phaseBase;
    private Thread painter;
    /** Not drawing yet: see {@link #install(String, boolean, boolean)}. */
    private volatile boolean held;
    /** Frames are drawn (a terminal); otherwise only the final line is printed. */
    private final boolean live;
    private boolean drawn;
    private String last;

    private ConvertProgress(PrintStream out, String label, IntSupplier columns, LongSupplier clock, boolean paintThread) {
        this(out, label, columns, clock, paintThread, true);
    }

    private ConvertProgress(PrintStream out, String label, IntSupplier columns, LongSupplier clock, boolean paintThread,
                            boolean live) {
        this.live = live;
        this.out = out;
        this.label = label;
        this.columns = columns;
        this.clock = clock;
        this.paintThread = paintThread;
    }

    /** A display with its own redraw thread, on stderr's terminal. */
    static ConvertProgress onStderr(String label) {
        return new ConvertProgress(System.err, label, ConvertProgress::stderrColumns, System::nanoTime, true);
    }

    /** For tests: redrawn only by {@link #paint()}, with the given width and clock. */
    static ConvertProgress forTest(PrintStream out, String label, IntSupplier columns, LongSupplier clock) {
        return new ConvertProgress(out, label, columns, clock, false);
    }

    /**
     * Shows this process's conversions of {@code label} unless {@code quiet}. When stderr is not a terminal nothing is
     * drawn: a log or pipe gets no frame and no control character, only the final line, so a batch job's log still
     * says that (and how long) the image was converted.
     */
    static ConvertProgress install(String label, boolean quiet) {
        return install(label, quiet, false);
    }

    /**
     * As {@link #install(String, boolean)}; {@code held}: nothing is drawn until {@link #release()} (a conversion
     * overlapping a download whose own display is still on the terminal), though the counts run from the start.
     */
    static ConvertProgress install(String label, boolean quiet, boolean held) {
        if (quiet) return null;
        ConvertProgress p = PullCommand.stderrIsTerminal() ? onStderr(label)
                : new ConvertProgress(System.err, label, () -> 80, System::nanoTime, false, false);
        p.held = held;
        Rootfs.watchWith(p);
        return p;
    }

    /** Starts drawing a display installed held, if its conversion is running. */
    void release() {
        synchronized (this) {
            if (!held) return;
            held = false;
        }
        if (phase != null || holder != Long.MIN_VALUE) startPainting();
    }

    /** Prints a warning, making room on the display {@code p} when there is one. */
    static void warn(ConvertProgress p, String message) {
        String line = Warnings.line(message);
        if (p != null) p.println(line);
        else System.err.println(line);
    }

    static int stderrColumns() {
        int c = skiff.engine.Terminal.columns(2);
        if (c > 0) return c;
        try {
            String env = Env.get("COLUMNS");
            if (env != null && Integer.parseInt(env.strip()) > 0) return Integer.parseInt(env.strip());
        } catch (NumberFormatException e) {
            // not a number: the default
        }
        return 80;
    }

    // ---------------------------------------------------------------- ConversionWatcher

    @Override
    public void waiting(Digest manifest, long pid) {
        holder = pid;
        start = clock.getAsLong();
        startPainting();
    }

    @Override
    public Progress started(Digest manifest, Rootfs.Format f, long layerBytes) {
        this.format = f.name().toLowerCase(Locale.ROOT);
        this.layerBytes = layerBytes;
        read.set(0);
        entries.set(0);
        content.set(0);
        plannedEntries = plannedBytes = -1;
        holder = Long.MIN_VALUE;
        start = clock.getAsLong();
        phase(Phase.READING);
        startPainting();
        return this;
    }

    @Override
    public void ended(Digest manifest, Path result) {
        stopPainting();
        synchronized (this) {
            clear();
            if (result != null) out.println(finalLine());
            out.flush();
        }
        phase = null;
        holder = Long.MIN_VALUE;
    }

    // ---------------------------------------------------------------- Progress

    @Override
    public void phase(Phase p) {
        phaseStart = clock.getAsLong();
        phaseBase = p == Phase.WRITING ? content.get() : read.get();
        phase = p;
    }

    @Override
    public void read(long n) {
        read.addAndGet(n);
    }

    @Override
    public void restarted() {
        read.set(0);
        entries.set(0);
        content.set(0);
        phase(Phase.READING);
    }

    @Override
    public void planned(long entries, long contentBytes) {
        plannedBytes = contentBytes;
        plannedEntries = entries;
    }

    @Override
    public void entry() {
        entries.incrementAndGet();
    }

    @Override
    public void content(long n) {
        content.addAndGet(n);
    }

    // ---------------------------------------------------------------- drawing

    private synchronized void startPainting() {
        if (!paintThread || painter != null || held) return;
        paint(); // the first frame at once, however short the work
        painter = Thread.ofPlatform().daemon().name("skiff-convert-progress").start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                paint();
                try {
                    Thread.sleep(FRAME_NANOS / 1_000_000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    private void stopPainting() {
        Thread t = painter;
        painter = null;
        if (t == null) return;
        t.interrupt();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A warning or other line while the display is up: the progress line makes room and comes back at the next frame. */
    synchronized void println(String line) {
        clear();
        out.println(line);
        out.flush();
    }

    synchronized void paint() {
        if (!live) return;
        String line = line(Math.max(columns.getAsInt(), 1) - 1); // not the last column: some terminals wrap there
        if (line == null || drawn && line.equals(last)) return;
        out.print("\r" + line + "\033[K");
        out.flush();
        drawn = true;
        last = line;
    }

    private void clear() {
        if (drawn) out.print("\r\033[K");
        drawn = false;
    }

    /**
     * The progress line for a terminal {@code width} columns wide, or null when there is nothing to show. When
     * it does not fit, the image's name loses its registry and repository path first (the phase and numbers
     * matter more), then the line is cut.
     */
    String line(int width) {
        String full = line(width, label);
        int slash = label.lastIndexOf('/');
        if (full == null || full.length() < width || slash < 0 || !full.endsWith("...")) return full;
        return line(width, label.substring(slash + 1));
    }

    private String line(int width, String label) {
        long now = clock.getAsLong();
        long h = holder;
        if (h != Long.MIN_VALUE) {
            String who = h > 0 ? "process " + h : "another process";
            return fit(width, label + ": waiting for " + who + ", which is converting this image", " (" + secs(now - start) + ")");
        }
        Phase p = phase;
        if (p == null) return null;
        String head = label + " -> " + format;
        return switch (p) {
            case READING -> {
                long done = read.get();
                yield fit(width, head + "  reading layers  " + size(done) + " / " + size(layerBytes),
                        "  " + bar(done, layerBytes), rate(done, now), left(done, layerBytes, now));
            }
            case WRITING -> {
                long e = entries.get(), b = content.get(), pe = plannedEntries, pb = plannedBytes;
                String counts = pe < 0 ? String.format(Locale.ROOT, "%,d entries", e)
                        : String.format(Locale.ROOT, "%,d / %,d entries  %s / %s", e, pe, size(b), size(pb));
                yield fit(width, head + "  writing  " + counts, pb < 0 ? "" : "  " + bar(b, pb), rate(b, now),
                        pb < 0 ? "" : left(b, pb, now));
            }
            case FINISHING -> fit(width, head + "  finishing  " + String.format(Locale.ROOT, "%,d entries  %s", entries.get(),
                    size(content.get())), "  (" + secs(now - start) + ")");
        };
    }

    String finalLine() {
        long now = clock.getAsLong();
        if (phase == null) {
            long h = holder;
            return label + ": converted by " + (h > 0 ? "process " + h : "another process") + " (waited " + secs(now - start) + ")";
        }
        return String.format(Locale.ROOT, "%s: converted to %s in %s: %,d entries, %s", label, format, secs(now - start),
                entries.get(), size(content.get()));
    }

    /**
     * {@code main} followed by as many of {@code extras} as fit, in order (each extra is dropped whole), the
     * whole cut to {@code width} characters when even {@code main} does not fit.
     */
    static String fit(int width, String main, String... extras) {
        StringBuilder sb = new StringBuilder(main);
        for (String x : extras) {
            if (x.isEmpty()) continue;
            if (sb.length() + x.length() <= width) sb.append(x);
            else break;
        }
        if (sb.length() > width) {
            if (width <= 3) return sb.substring(0, Math.max(width, 0));
            return sb.substring(0, width - 3) + "...";
        }
        return sb.toString();
    }

    private String rate(long done, long now) {
        double s = (now - phaseStart) / 1e9;
        long d = done - phaseBase;
        return s < 0.5 || d <= 0 ? "" : "  " + size((long) (d / s)) + "/s";
    }

    private String left(long done, long total, long now) {
        double s = (now - phaseStart) / 1e9;
        long d = done - phaseBase;
        if (s < 1 || d <= 0 || total <= done) return "";
        return "  " + secs((long) ((total - done) * (s / d) * 1e9)) + " left";
    }

    private static String bar(long done, long total) {
        int w = 20;
        int fill = total <= 0 ? w : (int) Math.min(w, Math.max(0, done) * w / total);
        return "[" + "=".repeat(fill) + " ".repeat(w - fill) + "]";
    }

    static String secs(long nanos) {
        long s = Math.max(0, nanos) / 1_000_000_000L;
        if (s < 60) return String.format(Locale.ROOT, "%.1f s", Math.max(0, nanos) / 1e9);
        if (s < 3600) return String.format(Locale.ROOT, "%d min %02d s", s / 60, s % 60);
        return String.format(Locale.ROOT, "%d h %02d min", s / 3600, s % 3600 / 60);
    }

    static String size(long b) {
        return PullProgress.size(Math.max(0, b));
    }
}
