package skiff.gateway;

import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.RegistryFixture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web page in a real headless Chromium (Debian's): its script fetches the API and fills the images table, the
 * request list and a request's log. Also leaves a screenshot in target/gateway-page.png (docs/gateway-page.png).
 */
class GatewayPageIT {
    static Cmd chromium(Path profile, String... args) {
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("chromium", "--headless", "--no-sandbox",
                "--disable-gpu", "--user-data-dir=" + profile, "--virtual-time-budget=5000"));
        a.addAll(java.util.List.of(args));
        return Cmd.of(a).timeout(Duration.ofSeconds(90));
    }

    @Test
    void thePageShowsImagesRequestsAndALogWithoutReloading() throws Exception {
        Path work = Files.createTempDirectory("skiff-gatewaypage");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (RegistryFixture registry = RegistryFixture.plain(work.resolve("registry"))) {
            registry.push(GatewayIT.randomImage(work.resolve("a"), "latest", 1, 30_000, 41).skopeoRef(), "team/app:2.1");
            String ref = registry.host() + "/team/app:2.1";
            try (GatewayFixture gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"))) {
                String id = gw.pull(ref).json().get("id").asText();
                String digest = gw.await(id).get("digest").asText();
                gw.await(gw.pull(registry.host() + "/team/missing:1").json().get("id").asText());

                String dom = chromium(work.resolve("profile"), "--dump-dom", gw.url() + "/#request=" + id).run().ok().out();
                assertTrue(dom.contains("<tr class=\"image\"><td>" + ref + "</td><td title=\"" + digest + "\">" + digest.substring(0, 19) + "</td>"), dom);
                assertTrue(dom.matches("(?s).*<td class=\"READY\">READY</td>.*"), dom);
                assertTrue(dom.matches("(?s).*<td class=\"FAILED\">FAILED: .*team/missing.*"), dom);
                assertTrue(dom.contains("1 images, "), dom);
                assertTrue(dom.matches("(?s).*<pre id=\"log\">.*pulling " + java.util.regex.Pattern.quote(ref) + ".*READY: " + digest + ".*</pre>.*"), dom);

                Path png = Path.of("target/gateway-page.png").toAbsolutePath();
                chromium(work.resolve("profile"), "--hide-scrollbars", "--window-size=1100,650", "--screenshot=" + png,
                        gw.url() + "/#request=" + id).run().ok();
                assertTrue(Files.size(png) > 10_000);
            }
        }
    }
}
