package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code skiff gateway}: the image gateway service. Its fields hold only JDK types, so picocli can model this
 * command without the gateway's libraries, which only {@code skiff gateway} has on its class path (bin/skiff).
 */
@Command(name = "gateway", mixinStandardHelpOptions = true, description = {
        "The image gateway: one service pulls and converts each image once and publishes it on",
        "the shared file system, where 'skiff run' on every node finds it (see docs/gateway.md)."},
        subcommands = GatewayCommand.Serve.class)
public final class GatewayCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.err);
        return skiff.util.ExitCode.USAGE.code;
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, description = {
            "Run the gateway service until stopped.",
            "Without --config: SQLite state in DIR/.gateway, two workers, you as the admin."})
    static final class Serve implements Callable<Integer> {
        @ParentCommand
        GatewayCommand parent;

        @Option(names = "--config", paramLabel = "FILE", description = "TOML settings (see docs/gateway.md).")
        String config;

        @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Address to listen on (default 127.0.0.1:8470; port 0: any).")
        String listen;

        @Option(names = "--shared", paramLabel = "DIR", description = "Shared directory the images are published into (DIR/images).")
        Path shared;

        @Option(names = "--auth", paramLabel = "none|munge", description = "How callers are identified (default: the config's, else none: everyone acts as you).")
        String auth;

        @Override
        public Integer call() throws Exception {
            try {
                Class.forName("org.eclipse.jetty.server.Server");
            } catch (ClassNotFoundException e) {
                throw new skiff.util.SkiffException(skiff.util.ExitCode.HOST, "the gateway's libraries are not on the class path:"
                        + " start it through bin/skiff, which adds target/gateway-lib (build it with 'mvn package')");
            }
            return skiff.gateway.GatewayServer.serve(config, listen, shared, auth, parent.main.env(), System.out);
        }
    }
}
