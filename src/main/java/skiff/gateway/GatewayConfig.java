package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The gateway's settings: a TOML file ({@code --config}), or defaults around {@code --listen} and {@code --shared}.
 *
 * @param host            address to listen on
 * @param port            TCP port (0: any free one, printed at start)
 * @param shared          the shared directory: {@code images/} (published files and the index) lives under it
 * @param database        JDBC URL of the state database (default: SQLite in {@code SHARED/.gateway/state.db})
 * @param databaseUser    for PostgreSQL
 * @param databasePassword for PostgreSQL
 * @param work            the gateway's private work directory (its OCI store); never read by compute nodes
 * @param workers         conversions run at once
 * @param admins          user names allowed to expire, collect garbage and delete any image
 * @param tagMaxAge       a tag resolved longer ago than this is resolved again at the registry on the next request
 * @param expireAfter     a READY image unused for this long expires
 * @param maxImageBytes   images whose layers add up to more are refused (0: no limit)
 * @param minFreeBytes    requests are refused with 507 while the shared directory has less free space than this
 * @param auth            "none" (every caller is the gateway's own user: a trial on one machine) or "munge"
 * @param maxActivePerUser new pulls a user may have in progress at once; more are answered 429 (joining a running one
 *                        is always allowed)
 * @param converter       where conversions run: in the worker threads ({@code workers = N}) or as Slurm jobs
 *                        ({@code workers = "slurm"}, at most {@code slurm_jobs} at once)
 */
public record GatewayConfig(String host, int port, Path shared, String database, String databaseUser,
                            String databasePassword, Path work, int workers, Set<String> admins, Duration tagMaxAge,
                            Duration expireAfter, long maxImageBytes, long minFreeBytes, String auth, int maxActivePerUser, Converter converter) {

    static final Set<String> KEYS = Set.of("listen", "shared", "database", "database_user", "database_password", "work",
            "workers", "admins", "tag_max_age_s", "expire_after_days", "max_image_bytes", "min_free_bytes", "auth",
            "max_active_per_user", "slurm_jobs", "slurm_options", "slurm_skiff");

    public GatewayConfig {
        if (workers < 1 || workers > 256) throw new SkiffException(ExitCode.USAGE, "workers must be 1 to 256, not " + workers);
        if (!auth.equals("none") && !auth.equals("munge"))
            throw new SkiffException(ExitCode.USAGE, "auth must be \"none\" or \"munge\", not \"" + auth + "\"");
        admins = Set.copyOf(admins);
    }

    /** Defaults for a trial: SQLite beside the images, two workers, the invoking user as the only admin. */
    public static GatewayConfig defaults(String listen, Path shared, String invokingUser) {
        HostPort hp = HostPort.parse(listen);
        Path abs = shared.toAbsolutePath().normalize();
        return new GatewayConfig(hp.host(), hp.port(), abs, "jdbc:sqlite:" + abs.resolve(".gateway/state.db"), null, null,
                abs.resolve(".gateway/work"), 2, Set.of(invokingUser), Duration.ofMinutes(5), Duration.ofDays(90), 0,
                64L << 20, "none", 20, new Converter.Local());
    }

    /** The TOML file; {@code listen} and {@code shared} given on the command line override it. */
    public static GatewayConfig load(Path file, String listenFlag, Path sharedFlag, String invokingUser) {
        JsonNode root;
        try {
            root = new TomlMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new SkiffException(ExitCode.USAGE, "cannot read gateway config " + file + ": " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject()) root = new TomlMapper().createObjectNode();
        for (var it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) throw bad(file, k, "is not a gateway setting (known: " + String.join(", ", new java.util.TreeSet<>(KEYS)) + ")");
        }
        String listen = listenFlag != null ? listenFlag : text(file, root, "listen", "127.0.0.1:8470");
        String sharedText = sharedFlag != null ? sharedFlag.toString() : text(file, root, "shared", null);
        if (sharedText == null) throw bad(file, "shared", "is required (the directory compute nodes read images from)");
        GatewayConfig d = defaults(listen, Path.of(sharedText), invokingUser);
        List<String> admins = new ArrayList<>();
        JsonNode a = root.get("admins");
        if (a != null) {
            if (!a.isArray()) throw bad(file, "admins", "must be a list of user names");
            for (JsonNode n : a) admins.add(n.asText());
        } else admins.addAll(d.admins());
        String work = text(file, root, "work", null);
        Path workDir = work != null ? Path.of(work).toAbsolutePath() : d.work();
        int workers = d.workers();
        Converter converter = new Converter.Local();
        JsonNode w = root.get("workers");
        if (w != null && w.isTextual()) {
            if (!w.asText().equals("slurm") && !w.asText().equals("local"))
                throw bad(file, "workers", "must be a number of threads, \"local\" or \"slurm\"");
            if (w.asText().equals("slurm")) {
                workers = (int) number(file, root, "slurm_jobs", 8);
                List<String> options = new ArrayList<>();
                JsonNode o = root.get("slurm_options");
                if (o != null) {
                    if (!o.isArray()) throw bad(file, "slurm_options", "must be a list of sbatch options");
                    for (JsonNode n : o) options.add(n.asText());
                }
                String skiff = text(file, root, "slurm_skiff", null);
                converter = new Converter.Slurm(skiff != null ? Path.of(skiff) : ownLauncher(), List.copyOf(options),
                        workDir.resolve("slurm"));
            }
        } else {
            workers = (int) number(file, root, "workers", d.workers());
        }
        return new GatewayConfig(d.host(), d.port(), d.shared(), text(file, root, "database", d.database()),
                text(file, root, "database_user", null), text(file, root, "database_password", null),
                workDir, workers,
                Set.copyOf(admins), Duration.ofSeconds(number(file, root, "tag_max_age_s", d.tagMaxAge().toSeconds())),
                Duration.ofDays(number(file, root, "expire_after_days", d.expireAfter().toDays())),
                number(file, root, "max_image_bytes", 0), number(file, root, "min_free_bytes", d.minFreeBytes()),
                text(file, root, "auth", "none"), (int) number(file, root, "max_active_per_user", d.maxActivePerUser()), converter);
    }

    public GatewayConfig withAuth(String a) {
        return new GatewayConfig(host, port, shared, database, databaseUser, databasePassword, work, workers, admins,
                tagMaxAge, expireAfter, maxImageBytes, minFreeBytes, a, maxActivePerUser, converter);
    }

    /** bin/skiff of this installation: beside the jar this class came from (target/ or lib/). */
    static Path ownLauncher() {
        try {
            Path jar = Path.of(GatewayConfig.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent().resolve("bin/skiff");
        } catch (java.net.URISyntaxException | RuntimeException e) {
            throw new SkiffException(ExitCode.USAGE, "cannot tell where bin/skiff is: set slurm_skiff in the gateway config");
        }
    }

    public Path images() {
        return shared.resolve("images");
    }

    /** HOST:PORT of --listen. */
    public record HostPort(String host, int port) {
        public static HostPort parse(String s) {
            int c = s.lastIndexOf(':');
            if (c <= 0) throw new SkiffException(ExitCode.USAGE, "--listen '" + s + "': expected HOST:PORT, e.g. 127.0.0.1:8470");
            try {
                int port = Integer.parseInt(s.substring(c + 1));
                if (port < 0 || port > 65535) throw new NumberFormatException();
                return new HostPort(s.substring(0, c), port);
            } catch (NumberFormatException e) {
                throw new SkiffException(ExitCode.USAGE, "--listen '" + s + "': the port must be a number from 0 to 65535");
            }
        }
    }

    private static String text(Path file, JsonNode root, String key, String dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isTextual()) throw bad(file, key, "must be a string");
        return n.asText();
    }

    private static long number(Path file, JsonNode root, String key, long dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isIntegralNumber() || n.asLong() < 0) throw bad(file, key, "must be a whole number >= 0");
        return n.asLong();
    }

    private static SkiffException bad(Path file, String key, String why) {
        return new SkiffException(ExitCode.USAGE, file + ": '" + key + "' " + why);
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
