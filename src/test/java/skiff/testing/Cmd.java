package skiff.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a real command, as the tests' user or as the unprivileged test user, and captures what it did. */
public final class Cmd {
    /** The ordinary user ci/setup.sh creates; the unprivileged path is exercised as this user. */
    public static final String TEST_USER = "skiffuser";

    public record Result(int exit, String out, String err) {
        public Result ok() {
            if (exit != 0) throw new AssertionError("exit " + exit + "\nstdout: " + out + "\nstderr: " + err);
            return this;
        }

        @Override
        public String toString() {
            return "exit=" + exit + " out=" + out + " err=" + err;
        }
    }

    private final List<String> argv = new ArrayList<>();
    private final Map<String, String> env = new HashMap<>();
    private Path dir;
    private byte[] stdin;
    private Duration timeout = Duration.ofMinutes(5);

    private Cmd(List<String> argv) {
        this.argv.addAll(argv);
    }

    public static Cmd of(String... argv) {
        return new Cmd(List.of(argv));
    }

    public static Cmd of(List<String> argv) {
        return new Cmd(argv);
    }

    /** The project's bin/skiff. */
    public static Path skiffBin() {
        return Path.of(System.getProperty("skiff.home", ".")).toAbsolutePath().resolve("bin/skiff");
    }

    /** bin/skiff ARGS as the current user, with the given storage directory. */
    public static Cmd skiff(Path storage, String... args) {
        List<String> a = new ArrayList<>();
        a.add(skiffBin().toString());
        a.addAll(List.of(args));
        return new Cmd(a).env("SKIFF_STORAGE", storage.toString());
    }

    /** Wraps this command to run as {@link #TEST_USER} through runuser (tests run as root). */
    public Cmd asTestUser() {
        List<String> a = new ArrayList<>(List.of("runuser", "-u", TEST_USER, "--", "env"));
        env.forEach((k, v) -> a.add(k + "=" + v));
        a.addAll(argv);
        Cmd c = new Cmd(a);
        c.dir = dir;
        c.stdin = stdin;
        c.timeout = timeout;
        c.env.put("HOME", "/home/" + TEST_USER);
        c.env.put("USER", TEST_USER);
        c.env.put("LOGNAME", TEST_USER);
        return c;
    }

    public Cmd env(String k, String v) {
        env.put(k, v);
        return this;
    }

    public Cmd dir(Path d) {
        dir = d;
        return this;
    }

    public Cmd stdin(byte[] data) {
        stdin = data;
        return this;
    }

    public Cmd timeout(Duration t) {
        timeout = t;
        return this;
    }

    public Process start() {
        ProcessBuilder pb = new ProcessBuilder(argv);
        pb.environment().putAll(env);
        if (dir != null) pb.directory(dir.toFile());
        if (stdin == null) pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        try {
            return pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Result run() {
        Process p = start();
        try {
            var out = drain(p.getInputStream());
            var err = drain(p.getErrorStream());
            if (stdin != null) {
                try (var o = p.getOutputStream()) {
                    o.write(stdin);
                }
            }
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new AssertionError("timed out after " + timeout + ": " + argv);
            }
            out.join();
            err.join();
            return new Result(p.exitValue(), out.text(), err.text());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static final class Drain extends Thread {
        private final InputStream in;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        Drain(InputStream in) {
            this.in = in;
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                in.transferTo(buf);
            } catch (IOException ignored) {
                // process killed
            }
        }

        String text() {
            return buf.toString(StandardCharsets.UTF_8);
        }
    }

    private static Drain drain(InputStream in) {
        Drain d = new Drain(in);
        d.start();
        return d;
    }
}
