package skiff.engine;

import skiff.sys.Fds;

/** What the command line needs to know about the terminal it draws on. */
public final class Terminal {
    private Terminal() {}

    /** The width of the terminal on {@code fd} (2 for stderr), or -1 when it is not one or cannot be asked. */
    public static int columns(int fd) {
        try {
            return Fds.terminalColumns(fd);
        } catch (RuntimeException | LinkageError e) {
            return -1; // no native access in this JVM: the caller falls back to $COLUMNS
        }
    }
}
