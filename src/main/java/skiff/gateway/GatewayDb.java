package skiff.gateway;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The state database through JDBC: SQLite (embedded, the default) or PostgreSQL (several gateways), one schema
 * migrated by Flyway from {@code skiff/gateway/db/migration}. Every method turns a database failure into a 503
 * {@link ApiException} with a clear message: the database being down is the client's business only as "retry".
 */
final class GatewayDb implements AutoCloseable {
    private final HikariDataSource ds;
    final boolean sqlite;

    GatewayDb(String url, String user, String password) {
        sqlite = url.startsWith("jdbc:sqlite:");
        if (sqlite) {
            Path file = Path.of(url.substring("jdbc:sqlite:".length()));
            try {
                if (file.getParent() != null) Files.createDirectories(file.getParent());
            } catch (java.io.IOException e) {
                throw new ApiException(503, "database_unavailable", "cannot create " + file.getParent() + ": " + e.getMessage());
            }
        }
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(url);
        if (user != null) hc.setUsername(user);
        if (password != null) hc.setPassword(password);
        hc.setPoolName("skiff-gateway");
        hc.setMaximumPoolSize(sqlite ? 8 : 16);
        // Fail fast when the database is away: a request waits at most this long for a connection, then gets 503.
        hc.setConnectionTimeout(3000);
        hc.setInitializationFailTimeout(-1);
        // SQLite: WAL lets lookups read while a worker writes; busy_timeout makes writers queue instead of failing.
        if (sqlite) hc.setConnectionInitSql("PRAGMA busy_timeout = 10000");
        ds = new HikariDataSource(hc);
    }

    /** Brings the schema to the newest version. */
    void migrate() {
        try {
            if (sqlite) try (Connection c = ds.getConnection(); var st = c.createStatement()) {
                st.execute("PRAGMA journal_mode = WAL");
            }
            Flyway.configure(GatewayDb.class.getClassLoader()).dataSource(ds)
                    .locations("classpath:skiff/gateway/db/migration").load().migrate();
        } catch (SQLException | RuntimeException e) {
            if (e instanceof ApiException a) throw a;
            throw unavailable(e);
        }
    }

    static ApiException unavailable(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
        return new ApiException(503, "database_unavailable", "the gateway's database is unavailable (" + m + "); retry later");
    }

    @FunctionalInterface
    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    <T> T with(Work<T> w) {
        try (Connection c = ds.getConnection()) {
            return w.run(c);
        } catch (SQLException e) {
            throw unavailable(e);
        }
    }

    /** Is the database answering? */
    boolean healthy() {
        try (Connection c = ds.getConnection(); var st = c.createStatement()) {
            st.execute("SELECT 1");
            return true;
        } catch (SQLException | RuntimeException e) {
            return false;
        }
    }

    // ---- requests

    /**
     * Inserts a request for {@code instance}; false when another request for the same reference and platform is in
     * progress (the unique index), which the caller then joins.
     */
    boolean insert(Records.PullRequest r, String instance) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement("INSERT INTO requests (id, reference, platform, owner, state, digest,"
                    + " reason_code, reason, created_ms, updated_ms, bytes_done, bytes_total, log, instance) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) {
                p.setString(14, instance);
                p.setString(1, r.id());
                p.setString(2, r.reference());
                p.setString(3, r.platform());
                p.setString(4, r.owner());
                p.setString(5, r.state().name());
                p.setString(6, r.digest());
                p.setString(7, r.reasonCode());
                p.setString(8, r.reason());
                p.setLong(9, r.createdMs());
                p.setLong(10, r.updatedMs());
                p.setLong(11, r.bytesDone());
                p.setLong(12, r.bytesTotal());
                p.setString(13, r.log());
                p.executeUpdate();
                return true;
            } catch (SQLException e) {
                // 23505: PostgreSQL's unique violation; SQLite says SQLITE_CONSTRAINT_UNIQUE (error code 19 family)
                if ("23505".equals(e.getSQLState()) || e.getErrorCode() == 19 || String.valueOf(e.getMessage()).contains("UNIQUE constraint"))
                    return false;
                throw e;
            }
        });
    }

    /** The request in progress for a reference and platform, by whichever instance. */
    Optional<Records.PullRequest> activeFor(String reference, String platform) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement("SELECT * FROM requests WHERE reference = ? AND platform = ?"
                    + " AND state IN ('PENDING','PULLING','CONVERTING','PUBLISHING')")) {
                p.setString(1, reference);
                p.setString(2, platform);
                try (ResultSet rs = p.executeQuery()) {
                    return rs.next() ? Optional.of(request(rs)) : Optional.empty();
                }
            }
        });
    }

    /** Deletes finished requests last updated before {@code beforeMs}; returns how many. */
    int forgetRequests(long beforeMs) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement("DELETE FROM requests WHERE state IN ('READY','FAILED','EXPIRED')"
                    + " AND updated_ms < ?")) {
                p.setLong(1, beforeMs);
                return p.executeUpdate();
            }
        });
    }

    /** This instance is alive. */
    void heartbeat(String instance, String host, long now) {
        with(c -> {
            try (PreparedStatement p = c.prepareStatement("INSERT INTO instances (id, host, heartbeat_ms) VALUES (?,?,?)"
                    + " ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms")) {
                p.setString(1, instance);
                p.setString(2, host);
                p.setLong(3, now);
                return p.executeUpdate();
            }
        });
    }

    /** Instances whose heartbeat is newer than {@code sinceMs}, except those of {@code exceptHost} (null: none). */
    java.util.Set<String> liveInstances(long sinceMs, String exceptHost) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement("SELECT id FROM instances WHERE heartbeat_ms > ? AND host <> ?")) {
                p.setLong(1, sinceMs);
                p.setString(2, exceptHost == null ? "" : exceptHost);
                java.util.Set<String> out = new java.util.HashSet<>();
                try (ResultSet rs = p.executeQuery()) {
                    while (rs.next()) out.add(rs.getString(1));
                }
                return out;
            }
        });
    }

    /** Active requests whose instance is not alive, each claimed for {@code me} (compare-and-set: one claimant wins). */
    List<Records.PullRequest> claimOrphans(String me, java.util.Set<String> alive) {
        List<Records.PullRequest> claimed = new ArrayList<>();
        List<String[]> candidates = with(c -> {
            List<String[]> out = new ArrayList<>();
            try (PreparedStatement p = c.prepareStatement("SELECT id, instance FROM requests WHERE state IN"
                    + " ('PENDING','PULLING','CONVERTING','PUBLISHING') ORDER BY created_ms")) {
                try (ResultSet rs = p.executeQuery()) {
                    while (rs.next()) if (!alive.contains(rs.getString(2))) out.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
            return out;
        });
        for (String[] cand : candidates) {
            int n = with(c -> {
                try (PreparedStatement p = c.prepareStatement("UPDATE requests SET instance = ? WHERE id = ? AND instance = ?")) {
                    p.setString(1, me);
                    p.setString(2, cand[0]);
                    p.setString(3, cand[1]);
                    return p.executeUpdate();
                }
            });
            if (n == 1) request(cand[0]).ifPresent(claimed::add);
        }
        return claimed;
    }

    /**
     * Runs {@code w} holding the index lock row (PostgreSQL: the row lock until commit; SQLite: the write lock), so
     * that two instances never rename index files built from different views in the wrong order.
     */
    void withIndexLock(Work<Void> w) {
        with(c -> {
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("UPDATE index_lock SET version = version + 1 WHERE id = 1")) {
                p.executeUpdate();
                w.run(c);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
            return null;
        });
    }

    /** Writes the mutable columns of {@code r}. */
    void update(Records.PullRequest r) {
        with(c -> {
            try (PreparedStatement p = c.prepareStatement("UPDATE requests SET state = ?, digest = ?, reason_code = ?, reason = ?,"
                    + " updated_ms = ?, bytes_done = ?, bytes_total = ?, log = ? WHERE id = ?")) {
                p.setString(1, r.state().name());
                p.setString(2, r.digest());
                p.setString(3, r.reasonCode());
                p.setString(4, r.reason());
                p.setLong(5, r.updatedMs());
                p.setLong(6, r.bytesDone());
                p.setLong(7, r.bytesTotal());
                p.setString(8, r.log());
                p.setString(9, r.id());
                return p.executeUpdate();
            }
        });
    }

    /** Records the users and groups a request limits its image to. */
    void saveAcl(String id, List<String> users, List<String> groups) {
        with(c -> {
            try (PreparedStatement p = c.prepareStatement("UPDATE requests SET allowed_users = ?, allowed_groups = ? WHERE id = ?")) {
                p.setString(1, String.join(",", users));
                p.setString(2, String.join(",", groups));
                p.setString(3, id);
                return p.executeUpdate();
            }
        });
    }

    /** [users, groups] of a request. */
    List<List<String>> acl(String id) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement("SELECT allowed_users, allowed_groups FROM requests WHERE id = ?")) {
                p.setString(1, id);
                try (ResultSet rs = p.executeQuery()) {
                    if (!rs.next()) return List.of(List.<String>of(), List.<String>of());
                    return List.of(split(rs.getString(1)), split(rs.getString(2)));
                }
            }
        });
    }

    Optional<Records.PullRequest> request(String id) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement("SELECT * FROM requests WHERE id = ?")) {
                p.setString(1, id);
                try (ResultSet rs = p.executeQuery()) {
                    return rs.next() ? Optional.of(request(rs)) : Optional.empty();
                }
            }
        });
    }

    /** Requests not yet READY or FAILED: the work queue, oldest first. */
    List<Records.PullRequest> active() {
        return requests("SELECT * FROM requests WHERE state IN ('PENDING','PULLING','CONVERTING','PUBLISHING') ORDER BY created_ms", -1);
    }

    /** The most recent requests, newest first. */
    List<Records.PullRequest> recent(int limit) {
        return requests("SELECT * FROM requests ORDER BY created_ms DESC LIMIT ?", limit);
    }

    private List<Records.PullRequest> requests(String sql, int limit) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement(sql)) {
                if (limit >= 0) p.setInt(1, limit);
                List<Records.PullRequest> out = new ArrayList<>();
                try (ResultSet rs = p.executeQuery()) {
                    while (rs.next()) out.add(request(rs));
                }
                return out;
            }
        });
    }

    private static Records.PullRequest request(ResultSet rs) throws SQLException {
        return new Records.PullRequest(rs.getString("id"), rs.getString("reference"), rs.getString("platform"),
                rs.getString("owner"), State.valueOf(rs.getString("state")), rs.getString("digest"),
                rs.getString("reason_code"), rs.getString("reason"), rs.getLong("created_ms"), rs.getLong("updated_ms"),
                rs.getLong("bytes_done"), rs.getLong("bytes_total"), rs.getString("log"));
    }

    // ---- images

    void upsert(Records.Image i) {
        with(c -> {
            try (PreparedStatement p = c.prepareStatement("INSERT INTO images (digest, platform, size_bytes, owner, created_ms,"
                    + " last_used_ms, status, allowed_users, allowed_groups) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (digest) DO UPDATE"
                    + " SET platform = excluded.platform, size_bytes = excluded.size_bytes, owner = excluded.owner,"
                    + " created_ms = excluded.created_ms, last_used_ms = excluded.last_used_ms, status = excluded.status,"
                    + " allowed_users = excluded.allowed_users, allowed_groups = excluded.allowed_groups")) {
                p.setString(1, i.digest());
                p.setString(2, i.platform());
                p.setLong(3, i.sizeBytes());
                p.setString(4, i.owner());
                p.setLong(5, i.createdMs());
                p.setLong(6, i.lastUsedMs());
                p.setString(7, i.status().name());
                p.setString(8, String.join(",", i.allowedUsers()));
                p.setString(9, String.join(",", i.allowedGroups()));
                return p.executeUpdate();
            }
        });
    }

    Optional<Records.Image> image(String digest) {
        List<Records.Image> l = images("SELECT * FROM images WHERE digest = ?", digest);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.getFirst());
    }

    List<Records.Image> images() {
        return images("SELECT * FROM images ORDER BY created_ms", null);
    }

    private List<Records.Image> images(String sql, String arg) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement(sql)) {
                if (arg != null) p.setString(1, arg);
                List<Records.Image> out = new ArrayList<>();
                try (ResultSet rs = p.executeQuery()) {
                    while (rs.next()) out.add(new Records.Image(rs.getString("digest"), rs.getString("platform"),
                            rs.getLong("size_bytes"), rs.getString("owner"), rs.getLong("created_ms"), rs.getLong("last_used_ms"),
                            State.valueOf(rs.getString("status")), split(rs.getString("allowed_users")),
                            split(rs.getString("allowed_groups"))));
                }
                return out;
            }
        });
    }

    private static List<String> split(String s) {
        return s == null || s.isEmpty() ? List.of() : Arrays.asList(s.split(","));
    }

    void setStatus(String digest, State s) {
        with(c -> {
            try (PreparedStatement p = c.prepareStatement("UPDATE images SET status = ? WHERE digest = ?")) {
                p.setString(1, s.name());
                p.setString(2, digest);
                return p.executeUpdate();
            }
        });
    }

    /** Last use times gathered in memory, written in one batch (a lookup must not cost a write). */
    void touch(java.util.Map<String, Long> lastUse) {
        if (lastUse.isEmpty()) return;
        with(c -> {
            try (PreparedStatement p = c.prepareStatement("UPDATE images SET last_used_ms = ? WHERE digest = ? AND last_used_ms < ?")) {
                for (var e : lastUse.entrySet()) {
                    p.setLong(1, e.getValue());
                    p.setString(2, e.getKey());
                    p.setLong(3, e.getValue());
                    p.addBatch();
                }
                return p.executeBatch().length;
            }
        });
    }

    /** Removes an image and every name that points to it. */
    void deleteImage(String digest) {
        with(c -> {
            c.setAutoCommit(false);
            try (PreparedStatement a = c.prepareStatement("DELETE FROM names WHERE digest = ?");
                 PreparedStatement b = c.prepareStatement("DELETE FROM images WHERE digest = ?")) {
                a.setString(1, digest);
                a.executeUpdate();
                b.setString(1, digest);
                b.executeUpdate();
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
            return null;
        });
    }

    // ---- names

    void upsert(Records.Name n) {
        with(c -> {
            try (PreparedStatement p = c.prepareStatement("INSERT INTO names (name, platform, digest, repo_digest, resolved_ms)"
                    + " VALUES (?,?,?,?,?) ON CONFLICT (name, platform) DO UPDATE SET digest = excluded.digest,"
                    + " repo_digest = excluded.repo_digest, resolved_ms = excluded.resolved_ms")) {
                p.setString(1, n.name());
                p.setString(2, n.platform());
                p.setString(3, n.digest());
                p.setString(4, n.repoDigest());
                p.setLong(5, n.resolvedMs());
                return p.executeUpdate();
            }
        });
    }

    Optional<Records.Name> name(String name, String platform) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement("SELECT * FROM names WHERE name = ? AND platform = ?")) {
                p.setString(1, name);
                p.setString(2, platform);
                try (ResultSet rs = p.executeQuery()) {
                    return rs.next() ? Optional.of(name(rs)) : Optional.empty();
                }
            }
        });
    }

    List<Records.Name> names() {
        return names("SELECT * FROM names ORDER BY name, platform", null);
    }

    /** The names pointing to one digest (indexed: a lookup's cost does not grow with the catalogue). */
    List<Records.Name> namesOf(String digest) {
        return names("SELECT * FROM names WHERE digest = ? ORDER BY name, platform", digest);
    }

    private List<Records.Name> names(String sql, String arg) {
        return with(c -> {
            try (PreparedStatement p = c.prepareStatement(sql)) {
                if (arg != null) p.setString(1, arg);
                List<Records.Name> out = new ArrayList<>();
                try (ResultSet rs = p.executeQuery()) {
                    while (rs.next()) out.add(name(rs));
                }
                return out;
            }
        });
    }

    private static Records.Name name(ResultSet rs) throws SQLException {
        return new Records.Name(rs.getString("name"), rs.getString("platform"), rs.getString("digest"),
                rs.getString("repo_digest"), rs.getLong("resolved_ms"));
    }

    @Override
    public void close() {
        ds.close();
    }
}
