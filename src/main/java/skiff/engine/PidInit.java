package skiff.engine;

import skiff.sys.Errno;
import skiff.sys.Processes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The minimal init of --pid: starts the payload, forwards signals to it, reaps orphans, exits with its status. */
final class PidInit {
    private PidInit() {}

    /**
     * Loads what ProcessBuilder needs while the JDK's files are still reachable: after pivot_root its first
     * use would look up a System.Logger backend in the runtime image and fail.
     */
    static void warmUp() {
        System.getLogger("java.lang.ProcessBuilder").isLoggable(System.Logger.Level.DEBUG);
        if (Files.isExecutable(Path.of("/bin/true"))) {
            try {
                new ProcessBuilder("/bin/true").start().waitFor();
            } catch (IOException e) {
                // only a warm-up
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static int run(String exe, List<String> args, List<String> env) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(args);
        cmd.set(0, exe);
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        pb.environment().clear();
        for (String e : env) {
            int eq = e.indexOf('=');
            if (eq > 0) pb.environment().put(e.substring(0, eq), e.substring(eq + 1));
        }
        Process p = pb.start();
        long pid = p.pid();
        for (String sig : List.of("TERM", "INT", "HUP", "USR1", "USR2", "CONT", "WINCH")) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> Processes.kill(pid, s.getNumber()));
            } catch (IllegalArgumentException used) {
                // the JVM reserves this one on this platform: it is not forwarded
            }
        }
        // Two reapers race for the payload: this loop (which must also reap orphans) and the JDK's. When this
        // loop wins, the JDK's waitpid fails with ECHILD and reports status 0: then the status recorded here
        // is the true one (RunIT's SIGTERM forwarding saw exit 0 instead of 44 under load).
        Thread waiter = Thread.ofPlatform().daemon().start(() -> {
            try {
                int s = p.waitFor();
                // (bounded, and short when the loop finds no child left: then the JDK's 0 is the real one)
                for (int i = 0; s == 0 && reaped < 0 && !noChildren && i < 200; i++) Thread.sleep(1);
                Stage2.halt(reaped >= 0 ? reaped : s);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        while (true) {
            int[] r = Processes.waitAny();
            if (r[0] == pid) return reaped = decode(r[1]);
            if (r[0] == -Errno.ECHILD) {
                noChildren = true;
                break;
            }
        }
        try {
            waiter.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return Stage2.LAUNCH;
    }

    /** The payload's exit status once this init's own loop has reaped it, else -1. */
    private static volatile int reaped = -1;
    private static volatile boolean noChildren;

    private static int decode(int status) {
        int sig = status & 0x7f;
        return sig == 0 ? (status >> 8) & 0xff : 128 + sig;
    }
}
