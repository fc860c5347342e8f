package skiff.rootfs;

import skiff.image.Digest;
import skiff.layer.Progress;

import java.nio.file.Path;

/**
 * Watches the conversions of this process (see {@link Rootfs#watchWith}), so the command line can say what is
 * happening during what may be minutes of work.
 */
public interface ConversionWatcher {
    /** Another process, {@code pid} (-1 when unknown), is converting {@code manifest}; this one now waits for it. */
    default void waiting(Digest manifest, long pid) {}

    /** This process starts converting {@code manifest}, whose layers are {@code layerBytes} bytes (compressed). */
    default Progress started(Digest manifest, Rootfs.Format format, long layerBytes) {
        return Progress.NONE;
    }

    /**
     * The conversion this process started or waited for is over: {@code result} is there, or null when it
     * failed (its error is reported separately).
     */
    default void ended(Digest manifest, Path result) {}

    ConversionWatcher NONE = new ConversionWatcher() {};
}
