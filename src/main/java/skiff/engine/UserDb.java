package skiff.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The container's /etc/passwd and /etc/group: the image's entries plus the invoking user's, so that id, whoami
 * and ls -l show names. In the user namespace only the user's own uid and primary gid are mapped, so only the
 * primary group is added; other groups show as the overflow gid (nogroup).
 */
public final class UserDb {
    private UserDb() {}

    private static final long MAX = 4L << 20; // an image's passwd larger than this is not a passwd

    public static String passwd(Path root, Identity id, boolean fakeroot) throws IOException {
        List<String> lines = read(root, "/etc/passwd");
        if (fakeroot) {
            if (lines.stream().noneMatch(l -> l.startsWith("root:"))) lines.add(0, "root:x:0:0:root:/root:/bin/sh");
        } else {
            String uid = Integer.toString(id.uid());
            lines.removeIf(l -> field(l, 2).equals(uid) || field(l, 0).equals(id.name()));
            lines.add(id.name() + ":x:" + id.uid() + ":" + id.gid() + ":" + id.gecos() + ":" + id.home() + ":"
                    + (id.shell().isEmpty() ? "/bin/sh" : id.shell()));
        }
        return String.join("\n", lines) + "\n";
    }

    public static String group(Path root, Identity id, boolean fakeroot) throws IOException {
        List<String> lines = read(root, "/etc/group");
        if (fakeroot) {
            if (lines.stream().noneMatch(l -> l.startsWith("root:"))) lines.add(0, "root:x:0:");
        } else {
            String gid = Integer.toString(id.gid());
            String name = id.groups().getOrDefault(id.gid(), id.name());
            lines.removeIf(l -> field(l, 2).equals(gid) || field(l, 0).equals(name));
            lines.add(name + ":x:" + id.gid() + ":" + id.name());
        }
        return String.join("\n", lines) + "\n";
    }

    private static List<String> read(Path root, String file) throws IOException {
        Path p = RootPath.resolve(root, file);
        if (!Files.isRegularFile(p) || Files.size(p) > MAX) return new ArrayList<>();
        List<String> out = new ArrayList<>();
        for (String l : Files.readAllLines(p, java.nio.charset.StandardCharsets.ISO_8859_1)) if (!l.isBlank()) out.add(l);
        return out;
    }

    private static String field(String line, int i) {
        String[] f = line.split(":", -1);
        return f.length > i ? f[i] : "";
    }
}
