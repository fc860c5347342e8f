package skiff.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Processes as /proc shows them, for records that name a pid and must not be fooled by its reuse. */
public final class Procs {
    private Procs() {}

    /** Field 22 of /proc/PID/stat (start time in clock ticks since boot); null when there is no such process. */
    public static String startTime(long pid) {
        try {
            String st = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
            String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
            return f.length > 19 ? f[19] : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Whether {@code pid} runs and is the process that started at {@code startTime}, not a later one. */
    public static boolean alive(long pid, String startTime) {
        String now = startTime(pid);
        return now != null && now.equals(startTime);
    }

    /** Whether {@code pid} exists and has not exited (a zombie waiting for its parent counts as exited). */
    public static boolean running(long pid) {
        try {
            String st = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = st.charAt(st.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
