package skiff.engine;

import com.sun.security.auth.module.UnixSystem;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The invoking user as the host knows them: uid, primary gid, name, home, and the names of their groups. */
public record Identity(int uid, int gid, String name, String home, String gecos, String shell,
                       Map<Integer, String> groups) {

    public static Identity current(Map<String, String> env) {
        UnixSystem u = new UnixSystem();
        return of((int) u.getUid(), (int) u.getGid(), u.getUsername(), u.getGroups(), env);
    }

    /**
     * As {@link #current}, with the ids the host gave: the warm path of skiff run starts in a user namespace, where
     * getgroups(2) shows every supplementary group unmapped (65534); bin/skiff read them from /proc/self/status
     * before entering it.
     */
    public static Identity of(int uid, int gid, long[] supplementary, Map<String, String> env) {
        return of(uid, gid, new UnixSystem().getUsername(), supplementary, env);
    }

    private static Identity of(int uid, int gid, String name, long[] supplementary, Map<String, String> env) {
        String home = env.getOrDefault("HOME", System.getProperty("user.home"));
        String gecos = "";
        String shell = "/bin/sh";
        try {
            for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
                String[] f = line.split(":", -1);
                if (f.length >= 7 && f[2].equals(Integer.toString(uid))) {
                    if (name == null) name = f[0];
                    gecos = f[4];
                    shell = f[6];
                    break;
                }
            }
        } catch (IOException ignored) {
            // NSS-only sites (LDAP, sssd): the JDK's getpwuid name is all we have
        }
        if (name == null) name = "user" + uid;
        Map<Integer, String> groups = new LinkedHashMap<>();
        List<Long> gids = new ArrayList<>();
        gids.add((long) gid);
        if (supplementary != null) for (long g : supplementary) if (!gids.contains(g)) gids.add(g);
        Map<String, String> byGid = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/etc/group"))) {
                String[] f = line.split(":", -1);
                if (f.length >= 3) byGid.putIfAbsent(f[2], f[0]);
            }
        } catch (IOException ignored) {
            // group names stay numeric
        }
        for (long g : gids) groups.put((int) g, byGid.getOrDefault(Long.toString(g), name.equals("root") ? "root" : "group" + g));
        if (gid == uid && !byGid.containsKey(Integer.toString(gid))) groups.put(gid, name);
        return new Identity(uid, gid, name, home, gecos, shell, groups);
    }

    public List<String> groupNames() {
        return List.copyOf(groups.values());
    }
}
