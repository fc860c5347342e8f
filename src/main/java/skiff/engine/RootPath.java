package skiff.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Resolves a container path against the image root as the kernel would inside the container (symlinks absolute
 * to the image root, ".." clamped at it), so that an image's symlink can never point a mount outside the image.
 */
public final class RootPath {
    private RootPath() {}

    private static final int MAX_LINKS = 40; // as the kernel's ELOOP limit

    /** The host path of {@code containerPath} inside {@code root}; the last component may not exist. */
    public static Path resolve(Path root, String containerPath) throws IOException {
        Deque<String> todo = new ArrayDeque<>();
        push(todo, containerPath);
        Deque<String> done = new ArrayDeque<>();
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.pop();
            if (c.isEmpty() || c.equals(".")) continue;
            if (c.equals("..")) {
                if (!done.isEmpty()) done.removeLast();
                continue;
            }
            Path here = join(root, done).resolve(c);
            if (Files.isSymbolicLink(here)) {
                if (++links > MAX_LINKS) throw new IOException(containerPath + ": too many levels of symbolic links in the image");
                String target = Files.readSymbolicLink(here).toString();
                if (target.startsWith("/")) done.clear();
                push(todo, target);
            } else {
                done.addLast(c);
                if (!todo.isEmpty() && !Files.exists(here, LinkOption.NOFOLLOW_LINKS)) {
                    // A missing intermediate directory: the rest cannot contain symlinks; keep it literal.
                    while (!todo.isEmpty()) {
                        String r = todo.pop();
                        if (r.equals("..")) { if (!done.isEmpty()) done.removeLast(); }
                        else if (!r.isEmpty() && !r.equals(".")) done.addLast(r);
                    }
                }
            }
        }
        return join(root, done);
    }

    private static void push(Deque<String> todo, String path) {
        String[] parts = path.split("/");
        for (int i = parts.length - 1; i >= 0; i--) todo.push(parts[i]);
    }

    private static Path join(Path root, Deque<String> parts) {
        Path p = root;
        for (String s : parts) p = p.resolve(s);
        return p;
    }
}
