package skiff.sys;

/** A failed system call: what was attempted and the errno, with the C library's text for it. */
public final class SysException extends Exception {
    private final int errno;

    public SysException(String what, int errno) {
        super(what + ": " + Errno.text(errno));
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
