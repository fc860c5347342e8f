package skiff.gateway;

import skiff.testing.Cmd;
import skiff.testing.RegistryFixture;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** A throw-away PostgreSQL server (Debian's) on a free loopback port, run as the postgres user, trust auth. */
final class PostgresFixture implements AutoCloseable {
    final Path dir;
    final int port;
    private final Path bin;

    private PostgresFixture(Path dir, int port, Path bin) {
        this.dir = dir;
        this.port = port;
        this.bin = bin;
    }

    static PostgresFixture start(Path parent) throws IOException {
        Path bin;
        try (Stream<Path> s = Files.list(Path.of("/usr/lib/postgresql"))) {
            bin = s.sorted().reduce((a, b) -> b).orElseThrow().resolve("bin");
        }
        Path dir = parent.resolve("pg");
        Files.createDirectories(dir);
        Cmd.of("chown", "postgres:", dir.toString()).run().ok();
        Cmd.of("runuser", "-u", "postgres", "--", bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(),
                "-A", "trust", "-U", "skiff").run().ok();
        PostgresFixture f = new PostgresFixture(dir, RegistryFixture.freePort(), bin);
        f.startServer();
        Cmd.of("runuser", "-u", "postgres", "--", bin.resolve("createdb").toString(), "-h", "127.0.0.1", "-p",
                String.valueOf(f.port), "-U", "skiff", "skiff").run().ok();
        return f;
    }

    String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/skiff";
    }

    void startServer() {
        Cmd.of("runuser", "-u", "postgres", "--", bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(),
                "-l", dir.resolve("log").toString(), "-w", "-o",
                "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1", "start").run().ok();
    }

    void stopServer() {
        Cmd.of("runuser", "-u", "postgres", "--", bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(),
                "-m", "immediate", "-w", "stop").run().ok();
    }

    @Override
    public void close() {
        Cmd.of("runuser", "-u", "postgres", "--", bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(),
                "-m", "immediate", "-w", "stop").run();
    }
}
