package skiff.gateway;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code skiff gateway serve}: the database migrated, interrupted work recovered, then Jetty listening. The only
 * entry point from the command line; it runs with target/gateway-lib on the class path (bin/skiff), which no
 * other command has.
 */
public final class GatewayServer implements AutoCloseable {
    private final GatewayDb db;
    private final GatewayService svc;
    private final Server server;
    private final ServerConnector connector;

    private GatewayServer(GatewayConfig cfg, Map<String, String> env) throws Exception {
        db = new GatewayDb(cfg.database(), cfg.databaseUser(), cfg.databasePassword());
        try {
            db.migrate();
        } catch (ApiException e) {
            db.close();
            throw new SkiffException(ExitCode.STORAGE, "cannot open the gateway database " + cfg.database() + ": " + e.getMessage());
        }
        svc = new GatewayService(cfg, db, env);
        svc.recover();
        String user = System.getProperty("user.name");
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        int gid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:gid");
        Authenticator auth = switch (cfg.auth()) {
            case "munge" -> new Authenticator.Munge(cfg.admins(), null);
            default -> new Authenticator.None(user, uid, gid, cfg.admins());
        };
        QueuedThreadPool pool = new QueuedThreadPool(200, 8);
        pool.setName("gateway-http");
        server = new Server(pool);
        connector = new ServerConnector(server);
        connector.setHost(cfg.host());
        connector.setPort(cfg.port());
        server.addConnector(connector);
        server.setHandler(new Api(svc, auth));
        try {
            server.start();
        } catch (IOException e) {
            close();
            throw new SkiffException(ExitCode.USAGE, "cannot listen on " + cfg.host() + ":" + cfg.port() + ": " + e.getMessage());
        }
    }

    public static GatewayServer start(GatewayConfig cfg, Map<String, String> env) throws Exception {
        return new GatewayServer(cfg, env);
    }

    public int port() {
        return connector.getLocalPort();
    }

    /** Runs until the process is stopped (SIGTERM: Jetty stops, workers are interrupted, their requests resume at the next start). */
    public static int serve(String configFile, String listen, Path shared, String auth, Map<String, String> env, PrintStream out) throws Exception {
        String user = System.getProperty("user.name");
        GatewayConfig cfg;
        if (configFile != null) cfg = GatewayConfig.load(Path.of(configFile), listen, shared, user);
        else if (shared == null) throw new SkiffException(ExitCode.USAGE, "give --config FILE, or --shared DIR (and --listen HOST:PORT)");
        else cfg = GatewayConfig.defaults(listen != null ? listen : "127.0.0.1:8470", shared, user);
        if (auth != null) cfg = cfg.withAuth(auth);
        GatewayServer s = start(cfg, env);
        Runtime.getRuntime().addShutdownHook(new Thread(s::close));
        out.println("skiff gateway: listening on http://" + cfg.host() + ":" + s.port() + Api.PREFIX + ", publishing into " + cfg.images()
                + (cfg.auth().equals("none") ? " (no authentication: every caller acts as " + user + ")" : ", callers authenticated by munge"));
        out.flush();
        s.server.join();
        return 0;
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception ignored) {
            // stopping anyway
        }
        svc.close();
        db.close();
    }
}
