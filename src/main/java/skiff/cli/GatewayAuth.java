package skiff.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The credential the CLI sends the gateway: a fresh munge credential per request ({@code munge -n}: munge refuses
 * one decoded twice), or none where munge cannot make one (a gateway with auth = "none" needs none; one with munge
 * then answers 401 and says why).
 */
final class GatewayAuth {
    private GatewayAuth() {}

    static Supplier<String> credentials() {
        return GatewayAuth::munge;
    }

    private static String munge() {
        try {
            Process p = new ProcessBuilder("munge", "-n").redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            return p.exitValue() == 0 && out.startsWith("MUNGE:") ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
