package skiff.cli;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.store.Puller;
import skiff.util.Warnings;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Pull progress on a terminal: one line per blob and a total, redrawn in place four times a second.
 * Hand-written rather than a progress-bar library: it is some 100 lines, needs nothing on the class path
 * of other commands (so {@code skiff run} start-up is untouched), and draws several bars at once, which
 * the usual single-bar libraries do not.
 */
final class PullProgress implements Puller.Listener, AutoCloseable {
    private static final int MAX_LINES = 12;

    private final PrintStream out;
    private final Map<Digest, Item> items = new LinkedHashMap<>();
    private final long start = System.nanoTime();
    private final Thread painter;
    private int drawn;
    private volatile boolean stop;
    private String name;

    private static final class Item {
        final long size;
        long bytes;
        long resumedFrom = -1;
        String state = "waiting";

        Item(long size) {
            this.size = size;
        }
    }

    PullProgress(PrintStream out, String name) {
        this.out = out;
        this.name = name;
        this.painter = Thread.ofPlatform().daemon().name("skiff-progress").start(() -> {
            while (!stop) {
                paint();
                try {
                    Thread.sleep(250);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    @Override
    public synchronized void resolved(String name, Digest manifest, List<Descriptor> blobs) {
        this.name = name;
        for (Descriptor d : blobs) items.putIfAbsent(d.digest(), new Item(d.size()));
    }

    @Override
    public synchronized void blobStarted(Descriptor d) {
        item(d).state = "downloading";
    }

    @Override
    public synchronized void blobProgress(Descriptor d, long bytes) {
        Item i = item(d);
        if (i.resumedFrom < 0) i.resumedFrom = bytes;
        i.bytes = bytes;
    }

    @Override
    public synchronized void blobDone(Descriptor d, boolean downloaded) {
        Item i = item(d);
        i.bytes = i.size;
        i.state = downloaded ? "done" : "present";
    }

    @Override
    public synchronized void warning(String message) {
        clear();
        out.println(Warnings.line(message));
    }

    private Item item(Descriptor d) {
        return items.computeIfAbsent(d.digest(), k -> new Item(d.size()));
    }

    void finish() {
        stop = true;
        painter.interrupt();
        paint();
    }

    @Override
    public void close() {
        stop = true;
        painter.interrupt();
    }

    private void clear() {
        if (drawn > 0) out.print("\033[" + drawn + "A\033[J");
        drawn = 0;
    }

    private synchronized void paint() {
        double secs = Math.max((System.nanoTime() - start) / 1e9, 1e-3);
        StringBuilder sb = new StringBuilder();
        long total = 0;
        long done = 0;
        long fetched = 0;
        int lines = 0;
        for (var e : items.entrySet()) {
            Item i = e.getValue();
            total += i.size;
            done += i.bytes;
            if (i.resumedFrom >= 0) fetched += i.bytes - i.resumedFrom;
            if (lines < MAX_LINES) {
                sb.append(String.format(Locale.ROOT, "  %s  %-11s %s %s / %s%n", e.getKey().shortHex(), i.state,
                        bar(i.bytes, i.size, 20), size(i.bytes), size(i.size)));
                lines++;
            }
        }
        if (items.isEmpty()) sb.append("resolving ").append(name).append(" ...").append(System.lineSeparator());
        else sb.append(String.format(Locale.ROOT, "%s  %s %s / %s  %s/s%n", name, bar(done, total, 20), size(done), size(total),
                size((long) (fetched / secs))));
        lines++;
        // Move up over the previous frame and clear to the end of the screen, then draw the new one.
        clear();
        out.print(sb);
        out.flush();
        drawn = lines;
    }

    private static String bar(long done, long total, int width) {
        int fill = total <= 0 ? width : (int) Math.min(width, done * width / total);
        return "[" + "=".repeat(fill) + " ".repeat(width - fill) + "]";
    }

    static String size(long b) {
        if (b < 1024) return b + " B";
        if (b < 1024 * 1024) return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
        if (b < 1024L * 1024 * 1024) return String.format(Locale.ROOT, "%.1f MiB", b / 1048576.0);
        return String.format(Locale.ROOT, "%.2f GiB", b / 1073741824.0);
    }
}
