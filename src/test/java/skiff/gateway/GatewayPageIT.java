package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;
import skiff.testing.RegistryFixture;
import skiff.testing.SlowProxy;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web page in a real headless Chromium (Debian's chromium, driven by Debian's chromedriver through Selenium):
 * with the page open, a pull requested through the API shows up in the work queue with a progress bar, then the
 * image appears READY with its name, digest, size and owner, all without a reload (a marker set in the page's
 * window before the request is still there at the end); clicking the request opens its log. The pull goes through
 * a throttled proxy so that a small image stays in progress for a few seconds. Leaves a screenshot in
 * target/gateway-page.png (copied to docs/gateway-page.png).
 */
class GatewayPageIT {
    static final Duration WAIT = Duration.ofSeconds(90); // a slow, shared machine: generous, the waits end early

    static WebDriver chromium(Path profile) {
        // The driver and browser paths are given, so Selenium Manager is never asked to find (download) either.
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File("/usr/bin/chromedriver")).usingAnyFreePort().build();
        ChromeOptions o = new ChromeOptions().setBinary("/usr/bin/chromium").addArguments("--headless", "--no-sandbox",
                "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--window-size=1100,700",
                "--user-data-dir=" + profile);
        return new ChromeDriver(service, o);
    }

    /** The page's size(): 1000-based units, one decimal above bytes. */
    static String size(long b) {
        String[] u = {"B", "kB", "MB", "GB", "TB"};
        double v = b;
        int i = 0;
        while (v >= 1000 && i < u.length - 1) {
            v /= 1000;
            i++;
        }
        return (i == 0 ? Long.toString(b) : String.format(Locale.ROOT, "%.1f", v)) + u[i];
    }

    static List<String> cells(WebElement row) {
        return row.findElements(By.tagName("td")).stream().map(WebElement::getText).toList();
    }

    @Test
    void aPullRequestedWhileThePageIsOpenShowsProgressThenTheImageAndItsLogWithoutReloading() throws Exception {
        Path work = Files.createTempDirectory("skiff-gatewaypage");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (RegistryFixture registry = RegistryFixture.plain(work.resolve("registry"));
             SlowProxy slow = new SlowProxy(registry.port(), 60_000)) {
            // 300 kB of random bytes at 60 kB/s: about 5 s of pulling, several of the page's 1 s refreshes.
            registry.push(GatewayIT.randomImage(work.resolve("a"), "latest", 1, 300_000, 41).skopeoRef(), "team/app:2.1");
            String ref = slow.host() + "/team/app:2.1";
            try (GatewayFixture gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"))) {
                String missing = slow.host() + "/team/missing:1";
                gw.await(gw.pull(missing).json().get("id").asText());

                WebDriver page = chromium(work.resolve("profile"));
                try {
                    WebDriverWait wait = new WebDriverWait(page, WAIT, Duration.ofMillis(100));
                    page.get(gw.url() + "/");
                    wait.until(d -> d.findElement(By.id("status")).getText().startsWith("0 images, 1 requests shown"));
                    WebElement failed = page.findElement(By.cssSelector("tr.req td.FAILED"));
                    assertTrue(failed.getText().matches("FAILED: .*team/missing.*"), failed.getText());
                    JavascriptExecutor js = (JavascriptExecutor) page;
                    js.executeScript("window.skiffMarker = 'set before the request'");

                    String id = gw.pull(ref).json().get("id").asText();
                    By row = By.cssSelector("tr.req[data-id='" + id + "']");
                    // In the queue, in progress: a bar and "done / total" bytes of the 300 kB.
                    String progress = wait.until(d -> {
                        List<WebElement> r = d.findElements(row);
                        if (r.isEmpty() || r.getFirst().findElements(By.cssSelector(".bar span")).isEmpty()) return null;
                        return cells(r.getFirst()).get(2);
                    });
                    assertTrue(progress.matches("[0-9.]+k?B / 30[0-9.]+kB.*"), progress);
                    assertEquals(ref, cells(page.findElement(row)).get(0));

                    // Then READY in the images table, as the API has it.
                    By imageRow = By.xpath("//tbody[@id='images']/tr[td[1]='" + ref + "'][td[4]='READY']");
                    WebElement image = wait.until(d -> d.findElements(imageRow).stream().findFirst().orElse(null));
                    JsonNode api = gw.get("/api/v1/images").json().get("images").get(0);
                    String digest = api.get("digest").asText();
                    List<String> c = cells(image);
                    assertEquals(digest.substring(0, 19), c.get(1));
                    assertEquals(digest, image.findElements(By.tagName("td")).get(1).getAttribute("title"));
                    assertEquals(size(api.get("size").asLong()), c.get(2));
                    assertEquals(api.get("owner").asText(), c.get(4));
                    assertTrue(c.get(5).matches("\\d+ s ago"), c.get(5));
                    wait.until(d -> cells(d.findElement(row)).get(1).equals("READY"));

                    // One request's log, opened by a click.
                    page.findElement(row).click();
                    wait.until(d -> d.findElement(By.id("logid")).getText().equals(id)
                            && d.findElement(By.id("log")).getText().contains("READY: " + digest));
                    String log = page.findElement(By.id("log")).getText();
                    assertTrue(log.contains("pulling " + ref), log);

                    // Never reloaded: the window the marker was set in is the one that saw all of the above.
                    assertEquals("set before the request", js.executeScript("return window.skiffMarker"));

                    Path png = Path.of("target/gateway-page.png").toAbsolutePath();
                    Files.copy(((ChromeDriver) page).getScreenshotAs(OutputType.FILE).toPath(), png, StandardCopyOption.REPLACE_EXISTING);
                    assertTrue(Files.size(png) > 10_000);
                } finally {
                    page.quit();
                }
            }
        }
    }
}
