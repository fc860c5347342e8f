package skiff.cli;

import java.util.function.Supplier;

/** The credential the CLI sends the gateway: none yet (a gateway started with auth = "none" needs none). */
final class GatewayAuth {
    private GatewayAuth() {}

    static Supplier<String> credentials() {
        return null;
    }
}
