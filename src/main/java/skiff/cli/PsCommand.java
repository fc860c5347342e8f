package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import skiff.container.Containers;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "ps", mixinStandardHelpOptions = true, description = "List persistent containers.")
public final class PsCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-s", "--size"}, description = "Also show each root filesystem's size (walks every tree: slow on big ones).")
    boolean size;

    @Option(names = {"-q", "--quiet"}, description = "Print names only.")
    boolean quiet;

    @Option(names = "--format", paramLabel = "FORMAT", description = "table (default) or json.")
    String format = "table";

    @Override
    public Integer call() {
        try {
            return doCall();
        } catch (java.io.IOException e) {
            throw skiff.container.IoErrors.storage("cannot list containers", e);
        }
    }

    private Integer doCall() throws java.io.IOException {
        if (!format.equals("table") && !format.equals("json"))
            throw new SkiffException(ExitCode.USAGE, "unknown --format '" + format + "': use table or json");
        var all = Containers.open(main.storageDir()).list();
        if (quiet) {
            all.forEach(c -> System.out.println(c.metadata().name()));
            return 0;
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (var c : all) {
            var m = c.metadata();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", m.name());
            r.put("id", m.id());
            r.put("image", m.image());
            r.put("manifest", m.manifest() == null ? null : m.manifest().toString());
            r.put("created", m.created());
            r.put("rootfs", c.rootfs().toString());
            r.put("running", Containers.open(main.storageDir()).running(m.name()));
            if (size) r.put("size", Containers.size(c));
            rows.add(r);
        }
        if (format.equals("json")) {
            System.out.println(Json.pretty(rows));
            return 0;
        }
        String fmt = size ? "%-24s %-12s %-48s %-20s %-22s %s%n" : "%-24s %-12s %-48s %-20s %s%n";
        List<Object> head = new ArrayList<>(List.of("NAME", "ID", "IMAGE", "CREATED", "STATUS"));
        if (size) head.add("SIZE");
        System.out.printf(fmt, head.toArray());
        for (var r : rows) {
            String id = r.get("id") == null ? "" : ((String) r.get("id")).substring(0, Math.min(12, ((String) r.get("id")).length()));
            @SuppressWarnings("unchecked")
            List<Long> pids = (List<Long>) r.get("running");
            String status = pids.isEmpty() ? "stopped" : "running (pid " + pids.stream().map(String::valueOf)
                    .collect(java.util.stream.Collectors.joining(",")) + ")";
            List<Object> cols = new ArrayList<>(List.of(r.get("name"), id, nz(r.get("image")), nz(r.get("created")), status));
            if (size) cols.add(human((Long) r.get("size")));
            System.out.printf(fmt, cols.toArray());
        }
        return 0;
    }

    private static Object nz(Object o) {
        return o == null || o.toString().isEmpty() ? "-" : o;
    }

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format("%.1f %s", v, units[u]);
    }
}
