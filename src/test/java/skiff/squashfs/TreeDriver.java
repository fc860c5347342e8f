package skiff.squashfs;

import skiff.layer.TreeSink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Test-side flattener stand-in: emits a directory tree on disk to a TreeSink in the contract's order. */
final class TreeDriver {
    private TreeDriver() {}

    static void drive(Path root, TreeSink sink) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = new ArrayList<>(s.sorted().toList());
        }
        List<Path> dirs = new ArrayList<>(), others = new ArrayList<>(), links = new ArrayList<>();
        Map<Object, String> seenInodes = new HashMap<>();
        Map<Path, String> linkTargets = new HashMap<>();
        for (Path p : all) {
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) dirs.add(p);
            else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && (int) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS) > 1) {
                Object key = Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
                String first = seenInodes.putIfAbsent(key, rel(root, p));
                if (first == null) others.add(p);
                else {
                    links.add(p);
                    linkTargets.put(p, first);
                }
            } else others.add(p);
        }
        for (Path d : dirs) sink.directory(rel(root, d), meta(d));
        for (Path p : others) {
            String r = rel(root, p);
            Map<String, Object> a = Files.readAttributes(p, "unix:mode,rdev,size", LinkOption.NOFOLLOW_LINKS);
            int mode = (int) a.get("mode");
            int type = mode & 0170000;
            switch (type) {
                case 0100000 -> {
                    try (InputStream in = Files.newInputStream(p)) {
                        sink.file(r, meta(p), (long) a.get("size"), in);
                    }
                }
                case 0120000 -> sink.symlink(r, meta(p), Files.readSymbolicLink(p).toString());
                default -> {
                    long rdev = (long) a.get("rdev");
                    int major = (int) (((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffL));
                    int minor = (int) ((rdev & 0xff) | ((rdev >> 12) & ~0xffL));
                    TreeSink.SpecialType t = switch (type) {
                        case 0020000 -> TreeSink.SpecialType.CHAR_DEVICE;
                        case 0060000 -> TreeSink.SpecialType.BLOCK_DEVICE;
                        case 0010000 -> TreeSink.SpecialType.FIFO;
                        default -> TreeSink.SpecialType.SOCKET;
                    };
                    sink.special(r, meta(p), t, major, minor);
                }
            }
        }
        for (Path p : links) sink.hardlink(rel(root, p), linkTargets.get(p));
        sink.finish();
    }

    static String rel(Path root, Path p) {
        return root.relativize(p).toString().replace('\\', '/');
    }

    static TreeSink.Metadata meta(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
        Map<String, byte[]> x = new TreeMap<>();
        // Java opens the file to read xattrs: a FIFO would block, so only regular files and directories.
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
            if (v != null) {
                try {
                    for (String n : v.list()) {
                        ByteBuffer b = ByteBuffer.allocate(v.size(n));
                        v.read(n, b);
                        x.put("user." + n, b.array());
                    }
                } catch (IOException ignored) {
                    // FIFOs/devices: no user xattrs
                }
            }
        }
        long mtime = ((java.nio.file.attribute.FileTime) a.get("lastModifiedTime")).toMillis() / 1000;
        return new TreeSink.Metadata((int) a.get("mode") & 07777, (int) a.get("uid"), (int) a.get("gid"), mtime, x);
    }
}
