package skiff.gateway;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A user's groups on the gateway host ({@code id -Gn USER}: NSS, so LDAP/SSSD groups too), cached for a minute:
 * group-limited images are checked against them, as the file system checks the same groups on the nodes.
 */
final class Groups {
    private record Entry(List<String> groups, long atMs) {}

    private final ConcurrentHashMap<String, Entry> cache = new ConcurrentHashMap<>();

    List<String> of(String user) {
        Entry e = cache.get(user);
        long now = System.currentTimeMillis();
        if (e != null && now - e.atMs() < 60_000) return e.groups();
        List<String> g = List.of();
        try {
            Process p = new ProcessBuilder("id", "-Gn", "--", user).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) g = Arrays.asList(out.split("\\s+"));
        } catch (IOException e1) {
            // unknown groups: the user sees public images and their own
        } catch (InterruptedException e1) {
            Thread.currentThread().interrupt();
        }
        cache.put(user, new Entry(g, now));
        return g;
    }
}
