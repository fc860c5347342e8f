package skiff.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * A TCP proxy on loopback that passes what the target sends back at a limited rate: it makes a pull of a small
 * image last long enough (seconds) for a watcher to see it in progress, without a large image to build.
 */
public final class SlowProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int target;
    private final int bytesPerSecond;

    public SlowProxy(int targetPort, int bytesPerSecond) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.target = targetPort;
        this.bytesPerSecond = bytesPerSecond;
        Thread.ofVirtual().start(this::accept);
    }

    /** 127.0.0.1:PORT */
    public String host() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
                Thread.ofVirtual().start(() -> pipe(client, upstream, 0));
                Thread.ofVirtual().start(() -> pipe(upstream, client, bytesPerSecond));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void pipe(Socket from, Socket to, int rate) {
        // Small chunks when throttled, so the rate is even rather than one burst a second.
        byte[] buf = new byte[rate > 0 ? 4096 : 65536];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                out.flush();
                if (rate > 0) Thread.sleep(n * 1000L / rate);
            }
        } catch (IOException | InterruptedException e) {
            // one side closed: close both below
        } finally {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // already closed
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
