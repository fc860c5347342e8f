package skiff.rootfs;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.layer.LayerSource;
import skiff.store.Puller;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

/**
 * The conversion that follows a pull, overlapped with it: a {@link Puller.Listener} that starts converting as soon
 * as the pull knows the layers, each layer being read once its blob has arrived and been verified, so the
 * decompression and tree building of the first layers run while the later ones download. The result is renamed
 * into the cache only once the whole pull has succeeded ({@link #finish}); a pull that fails ({@link #abort}, or
 * the JVM shutting down on Ctrl-C) stops the conversion, whose temporary output is deleted, and publishes nothing.
 * Events are passed on to {@code display}.
 */
public final class PullConversion implements Puller.Listener {
    private final Store store;
    private final ConvertSettings settings;
    private final Consumer<String> warnings;
    private final Puller.Listener display;
    private final Map<Digest, CompletableFuture<Void>> arrived = new ConcurrentHashMap<>();
    /** Completed when the pull succeeded (the image is named): the result may be published. */
    private final CompletableFuture<Void> pulled = new CompletableFuture<>();
    private final CompletableFuture<Path> result = new CompletableFuture<>();
    private final Thread onShutdown = new Thread(this::stopForShutdown, "skiff-convert-stop");
    private volatile Thread worker;

    /** {@code settings.format()} must not be null ("none": no conversion, so no listener either). */
    public PullConversion(Store store, ConvertSettings settings, Consumer<String> warnings, Puller.Listener display) {
        if (settings.format() == null) throw new IllegalArgumentException("no format to convert to");
        this.store = store;
        this.settings = settings;
        this.warnings = warnings;
        this.display = display == null ? Puller.Listener.NONE : display;
    }

    @Override
    public void resolved(String name, Digest manifest, List<Descriptor> blobs) {
        display.resolved(name, manifest, blobs);
    }

    @Override
    public void layers(Digest storedManifest, List<Descriptor> layers) {
        display.layers(storedManifest, layers);
        if (worker != null) return;
        for (Descriptor d : layers) arrived.computeIfAbsent(d.digest(), k -> new CompletableFuture<>());
        List<LayerSource> sources = layers.stream().map(this::arriving).toList();
        long bytes = layers.stream().mapToLong(d -> Math.max(0, d.size())).sum();
        Runtime.getRuntime().addShutdownHook(onShutdown);
        // A daemon: an error path of the command that skips finish/abort must not keep the JVM waiting for layers;
        // the shutdown hook still stops it and waits for its temporary output to be removed.
        worker = Thread.ofPlatform().daemon().name("skiff-convert").start(() -> {
            try {
                result.complete(Rootfs.ensureArriving(store, storedManifest, sources, bytes, settings.format(), settings, warnings,
                        this::awaitPulled));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
    }

    @Override
    public void blobStarted(Descriptor d) {
        display.blobStarted(d);
    }

    @Override
    public void blobProgress(Descriptor d, long bytes) {
        display.blobProgress(d, bytes);
    }

    @Override
    public void blobDone(Descriptor d, boolean downloaded) {
        display.blobDone(d, downloaded);
        CompletableFuture<Void> f = arrived.get(d.digest());
        if (f != null) f.complete(null);
    }

    @Override
    public void warning(String message) {
        display.warning(message);
    }

    /**
     * The pull succeeded and named {@code manifest}: lets the conversion publish, waits for it and returns the
     * converted path. Converts the stored image the usual way if the pull never announced its layers.
     */
    public Path finish(Digest manifest) {
        pulled.complete(null);
        if (worker == null) return Rootfs.ensure(store, manifest, settings.format(), settings, warnings);
        try {
            return join();
        } finally {
            removeHook();
        }
    }

    /** The pull failed: stops the conversion and waits until its temporary output is gone. Its own error is dropped. */
    public void abort(Throwable why) {
        fail(why);
        Thread w = worker;
        if (w != null) {
            try {
                result.join();
            } catch (RuntimeException ignored) {
                // the pull's error is the one to report
            }
            removeHook();
        }
    }

    private void fail(Throwable why) {
        pulled.completeExceptionally(why);
        for (CompletableFuture<Void> f : arrived.values()) f.completeExceptionally(why);
        Thread w = worker;
        if (w != null) w.interrupt(); // a reader blocked in a queue, or the wait for another process's lock
    }

    /** Ctrl-C: the conversion deletes its temporary output before the JVM exits (bounded: a hook must not hang). */
    private void stopForShutdown() {
        if (result.isDone()) return;
        fail(new SkiffException(ExitCode.REGISTRY, "interrupted"));
        Thread w = worker;
        try {
            if (w != null) w.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void removeHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(onShutdown);
        } catch (IllegalStateException e) {
            // shutting down already
        }
    }

    private Path join() {
        while (true) {
            try {
                return result.get();
            } catch (InterruptedException e) {
                // Ctrl-C ends the JVM through the shutdown hook; nothing else interrupts this thread
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) throw r;
                if (e.getCause() instanceof Error err) throw err;
                throw new SkiffException(ExitCode.STORAGE, "cannot convert the image: " + e.getCause().getMessage(), e.getCause());
            }
        }
    }

    /** Throws unless the pull succeeded; waits for it to end (the last layers may arrive before the image is named). */
    private void awaitPulled() {
        try {
            pulled.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SkiffException(ExitCode.REGISTRY, "interrupted");
        } catch (ExecutionException e) {
            throw new SkiffException(ExitCode.REGISTRY, "the pull failed: nothing converted", e.getCause());
        }
    }

    /** The layer {@code d}, whose opening waits until the pull has verified and stored its blob. */
    private LayerSource arriving(Descriptor d) {
        CompletableFuture<Void> ready = arrived.get(d.digest());
        return new LayerSource(d.digest().toString(), MediaTypes.layerCompression(d.mediaType()), () -> {
            try {
                ready.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for layer " + d.digest());
            } catch (ExecutionException e) {
                throw new IOException("layer " + d.digest() + " did not arrive: " + e.getCause().getMessage(), e.getCause());
            }
            return store.openBlob(d.digest());
        });
    }
}
