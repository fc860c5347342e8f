package skiff.squashfs;

import java.nio.file.Path;

public class Scratch {
    public static void main(String[] a) throws Exception {
        var c = SquashfsWriter.Compression.valueOf(a[2]);
        Integer level = a.length > 3 ? Integer.valueOf(a[3]) : null;
        long t = System.nanoTime();
        try (var w = new SquashfsWriter(Path.of(a[1]), new SquashfsWriter.Options(c, level, Runtime.getRuntime().availableProcessors(), System.err::println))) {
            TreeDriver.drive(Path.of(a[0]), w);
        }
        System.err.println("ms " + (System.nanoTime() - t) / 1_000_000);
    }
}
