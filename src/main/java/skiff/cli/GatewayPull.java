package skiff.cli;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.gateway.client.GatewayClient;

import java.io.PrintStream;
import java.util.List;

/**
 * {@code skiff pull --gateway}: asks the gateway, shows its progress while it works, prints the published digest.
 * Nothing is downloaded here: the image is read from the shared directory by 'skiff run'.
 */
final class GatewayPull {
    private GatewayPull() {}

    static int run(List<String> urls, String ref, String platform, List<String> allowUsers, List<String> allowGroups,
                   boolean quiet, boolean tty, PrintStream out, PrintStream err) throws InterruptedException {
        GatewayClient c = new GatewayClient(urls, GatewayAuth.credentials());
        JsonNode r = c.requestPull(ref, platform, allowUsers, allowGroups);
        String id = r.path("id").asText();
        String last = "";
        while (true) {
            String state = r.path("state").asText();
            if (!quiet) {
                String line = state + progress(r);
                if (tty) {
                    err.print("\r\033[K" + ref + ": " + line);
                    err.flush();
                } else if (!state.equals(last)) {
                    err.println(ref + ": " + state);
                }
            }
            last = state;
            if (state.equals("READY") || state.equals("FAILED")) break;
            Thread.sleep(250);
            r = c.status(id);
        }
        if (tty && !quiet) err.println();
        if (last.equals("FAILED")) {
            JsonNode reason = r.path("reason");
            throw GatewayClient.error(c.answered(), reason.path("code").asText("failed"),
                    "the pull of " + ref + " failed: " + reason.path("message").asText() + " (request " + id + ")");
        }
        String digest = r.path("digest").asText();
        out.println(quiet ? digest : "Published " + r.path("reference").asText() + " as " + digest + " (" + r.path("path").asText() + ")");
        return 0;
    }

    private static String progress(JsonNode r) {
        long done = r.path("progress").path("bytes_done").asLong(), total = r.path("progress").path("bytes_total").asLong();
        return total > 0 && !r.path("state").asText().equals("READY") ? String.format(" %.1f/%.1f MB", done / 1e6, total / 1e6) : "";
    }
}
