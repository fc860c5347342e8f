package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import skiff.image.Digest;
import skiff.reference.Reference;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.store.StoredImage;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "images", aliases = "ls", mixinStandardHelpOptions = true,
        description = "List the images in the store.")
public final class ImagesCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--digests", description = "Show the repository digest (what the image was pulled by).")
    boolean digests;

    @Option(names = {"-q", "--quiet"}, description = "Only show image ids.")
    boolean quiet;

    @Option(names = "--format", paramLabel = "table|json", defaultValue = "table",
            description = "Output format: table (default) or json (an array with full values).")
    String format;

    @Option(names = "--gateway", arity = "0..1", paramLabel = "URL", fallbackValue = "", split = ",",
            description = "List the image gateway's images instead (URL default: [gateway] url of config.toml or site.toml).")
    List<String> gateway;

    @Option(names = "--mine", description = "With --gateway: only the images I requested.")
    boolean mine;

    /** One row; also the JSON shape of --format json. */
    public record Row(String name, String repository, String tag, String id, String digest, String repoDigest,
                      String created, long size, List<String> formats) {}

    @Override
    public Integer call() throws Exception {
        if (!format.equals("table") && !format.equals("json"))
            throw new SkiffException(ExitCode.USAGE, "unknown --format '" + format + "': use table or json");
        if (gateway != null) return gatewayImages();
        Store store = main.store();
        List<String> broken = new ArrayList<>();
        List<Row> rows = new ArrayList<>();
        for (StoredImage i : StoredImage.all(store, broken)) rows.add(row(store, i));
        rows.sort(Comparator.comparing(Row::created, Comparator.nullsFirst(Comparator.<String>naturalOrder())).reversed()
                .thenComparing(Row::repository).thenComparing(Row::tag));
        PrintWriter out = new PrintWriter(System.out, false, java.nio.charset.StandardCharsets.UTF_8);
        if (format.equals("json")) {
            out.println(Json.pretty(rows));
        } else if (quiet) {
            java.util.LinkedHashSet<String> ids = new java.util.LinkedHashSet<>();
            for (Row r : rows) ids.add(Digest.parse(r.id()).shortHex());
            ids.forEach(out::println);
        } else {
            table(out, rows, Instant.now());
        }
        out.flush();
        for (String b : broken) Warnings.print("cannot read image " + b);
        return 0;
    }

    /** The gateway's images: NAME, DIGEST, SIZE, STATUS, OWNER, LAST USED (JSON: the API's records). */
    private int gatewayImages() {
        List<String> urls = gateway.stream().filter(u -> !u.isBlank()).toList();
        if (urls.isEmpty()) urls = skiff.policy.Policy.load(main.env()).gatewayUrls();
        var images = new skiff.gateway.client.GatewayClient(urls, GatewayAuth.credentials()).images(mine).path("images");
        PrintWriter out = new PrintWriter(System.out, false, java.nio.charset.StandardCharsets.UTF_8);
        if (format.equals("json")) {
            out.println(Json.pretty(images));
        } else if (quiet) {
            for (var i : images) out.println(i.path("digest").asText());
        } else {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"NAME", "DIGEST", "SIZE", "STATUS", "OWNER", "LAST USED"});
            Instant now = Instant.now();
            for (var i : images) {
                String digest = Digest.parse(i.path("digest").asText()).shortHex();
                String size = humanSize(i.path("size").asLong());
                String used = since(i.path("last_used").asText(), now);
                List<String> names = new ArrayList<>();
                for (var n : i.path("names")) names.add(Reference.parse(n.asText()).familiarName()
                        + (Reference.parse(n.asText()).tag() != null ? ":" + Reference.parse(n.asText()).tag() : ""));
                if (names.isEmpty()) names.add("<none>");
                for (String n : names) rows.add(new String[] {n, digest, size, i.path("status").asText(), i.path("owner").asText(), used});
            }
            int[] w = new int[6];
            for (String[] r : rows) for (int k = 0; k < 6; k++) w[k] = Math.max(w[k], r[k].length());
            for (String[] r : rows) {
                StringBuilder sb = new StringBuilder();
                for (int k = 0; k < 6; k++) {
                    sb.append(r[k]);
                    if (k < 5) sb.append(" ".repeat(w[k] - r[k].length() + 3));
                }
                out.println(sb.toString().stripTrailing());
            }
        }
        out.flush();
        return 0;
    }

    static Row row(Store store, StoredImage i) {
        String repository = "<none>";
        String tag = "<none>";
        var ref = i.reference();
        if (ref.isPresent()) {
            Reference r = ref.get();
            repository = r.familiarName();
            if (r.tag() != null) tag = r.tag();
        } else if (i.name() != null) {
            repository = i.name();
        }
        String created = i.config().created();
        return new Row(i.name(), repository, tag, i.configDigest().toString(), i.manifestDigest().toString(),
                i.repoDigest().toString(), created, i.size(), formats(store, i.manifestDigest()));
    }

    /** The converted root filesystems present for this image (the FORMATS column). */
    static List<String> formats(Store store, Digest manifest) {
        var present = Rootfs.formatsPresent(store, manifest);
        List<String> f = new ArrayList<>();
        for (Rootfs.Format fmt : Rootfs.Format.values())
            if (present.contains(fmt)) f.add(fmt.name().toLowerCase(Locale.ROOT));
        return f;
    }

    private void table(PrintWriter out, List<Row> rows, Instant now) {
        List<String[]> cells = new ArrayList<>();
        cells.add(digests ? new String[] {"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE", "FORMATS"}
                : new String[] {"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "FORMATS"});
        for (Row r : rows) {
            String id = Digest.parse(r.id()).shortHex();
            String created = since(r.created(), now);
            String size = humanSize(r.size());
            String fmts = r.formats().isEmpty() ? "-" : String.join(",", r.formats());
            cells.add(digests ? new String[] {r.repository(), r.tag(), r.repoDigest(), id, created, size, fmts}
                    : new String[] {r.repository(), r.tag(), id, created, size, fmts});
        }
        int[] width = new int[cells.getFirst().length];
        for (String[] c : cells) for (int k = 0; k < c.length; k++) width[k] = Math.max(width[k], c[k].length());
        for (String[] c : cells) {
            StringBuilder line = new StringBuilder();
            for (int k = 0; k < c.length; k++) {
                line.append(c[k]);
                if (k < c.length - 1) line.append(" ".repeat(width[k] - c[k].length() + 3));
            }
            out.println(line.toString().stripTrailing());
        }
    }

    /** "3 days ago", as Docker words it (go-units HumanDuration); "N/A" when the config has no date. */
    static String since(String created, Instant now) {
        if (created == null || created.isEmpty()) return "N/A";
        Instant t;
        try {
            t = OffsetDateTime.parse(created).toInstant();
        } catch (DateTimeParseException e) {
            return "N/A";
        }
        Duration d = Duration.between(t, now);
        if (d.isNegative()) return "Less than a second ago";
        return humanDuration(d) + " ago";
    }

    static String humanDuration(Duration d) {
        long s = d.toSeconds();
        if (s < 1) return "Less than a second";
        if (s == 1) return "1 second";
        if (s < 60) return s + " seconds";
        long m = d.toMinutes();
        if (m == 1) return "About a minute";
        if (m < 60) return m + " minutes";
        long h = Math.round(d.toSeconds() / 3600.0);
        if (h == 1) return "About an hour";
        if (h < 48) return h + " hours";
        if (h < 24 * 7 * 2) return h / 24 + " days";
        if (h < 24 * 30 * 2) return h / 24 / 7 + " weeks";
        if (h < 24 * 365 * 2) return h / 24 / 30 + " months";
        return h / 24 / 365 + " years";
    }

    /** Decimal units with 4 significant digits, as Docker prints sizes: 512B, 7.8MB, 1.234GB. */
    static String humanSize(long bytes) {
        String[] units = {"B", "kB", "MB", "GB", "TB", "PB"};
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        String n = new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
        return n + units[u];
    }
}
