package skiff.gateway;

import skiff.image.Digest;
import skiff.util.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;

/**
 * What compute nodes see, under {@code SHARED/images/}: for each image {@code ALGO-HEX.sqfs} (the root file system),
 * {@code ALGO-HEX.config.json} (the OCI image config, as the registry served it) and {@code ALGO-HEX.json} (gateway
 * metadata), HEX being the platform manifest's digest; and {@code index.tsv}, the names. Each file is written under a
 * {@code .tmp-} name in the same directory and renamed into place, the index last, so a reader never needs a lock and
 * never sees a half file: a name appears only once everything it points to is complete.
 *
 * <p>index.tsv: a first line {@code # skiff gateway index 1}, then one line per name,
 * {@code NAME<TAB>PLATFORM<TAB>DIGEST}, NAME the normalised reference (docker.io/library/alpine:3.20), PLATFORM
 * os/arch[/variant]. Split on tabs: no JSON parser is needed on the node (see client.SharedIndex).
 */
final class Publisher {
    static final String INDEX = "index.tsv";
    static final String HEADER = "# skiff gateway index 1";
    private final Path dir;

    Publisher(Path imagesDir) throws IOException {
        this.dir = imagesDir;
        Files.createDirectories(dir);
    }

    Path dir() {
        return dir;
    }

    static String base(Digest d) {
        return d.algorithm() + "-" + d.hex();
    }

    Path sqfs(Digest d) {
        return dir.resolve(base(d) + ".sqfs");
    }

    Path config(Digest d) {
        return dir.resolve(base(d) + ".config.json");
    }

    Path metadata(Digest d) {
        return dir.resolve(base(d) + ".json");
    }

    /** A fresh temporary in the images directory for a conversion (a {@code .tmp-} name: restart and GC remove them). */
    Path temporary(Digest d) throws IOException {
        Path p = AtomicFiles.createTemp(dir, ".tmp-" + base(d) + "-", ".sqfs");
        Files.delete(p); // the converter creates its own output; the name only reserves a unique path
        return p;
    }

    /**
     * Renames the converted file into place, then writes its config and metadata. {@code access} sets the files'
     * permissions before they get their final names: a private image is never readable by others, not even briefly.
     */
    void publish(Digest d, Path converted, byte[] config, byte[] metadata, Access access) throws IOException {
        access.apply(converted);
        AtomicFiles.commit(converted, sqfs(d));
        writeFile(config(d), config, access);
        writeFile(metadata(d), metadata, access);
    }

    private void writeFile(Path target, byte[] data, Access access) throws IOException {
        Path tmp = AtomicFiles.tempSibling(target);
        try {
            Files.write(tmp, data);
            access.apply(tmp);
            AtomicFiles.commit(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Rewrites index.tsv from these names (already filtered to READY images), atomically. */
    synchronized void writeIndex(List<Records.Name> names) throws IOException {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        for (Records.Name n : names) sb.append(n.name()).append('\t').append(n.platform()).append('\t').append(n.digest()).append('\n');
        byte[] data = sb.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(dir.resolve(INDEX), out -> out.write(data), PosixFilePermissions.fromString("rw-r--r--"));
    }

    /** Deletes an image's three files (a missing one is no error). */
    void remove(Digest d) throws IOException {
        Files.deleteIfExists(metadata(d));
        Files.deleteIfExists(config(d));
        Files.deleteIfExists(sqfs(d));
    }

    /**
     * Removes temporaries older than {@code olderThanMs} (0: all, at start, when no conversion can be running) and
     * image files whose digest {@code keep} does not hold. Returns the paths removed.
     */
    List<Path> collect(Set<String> keep, long olderThanMs) throws IOException {
        List<Path> removed = new java.util.ArrayList<>();
        long now = System.currentTimeMillis();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.equals(INDEX)) continue;
                if (n.startsWith(".tmp-")) {
                    if (olderThanMs == 0 || now - Files.getLastModifiedTime(p).toMillis() > olderThanMs) {
                        Files.deleteIfExists(p);
                        removed.add(p);
                    }
                    continue;
                }
                int dot = n.indexOf('.');
                String b = dot < 0 ? n : n.substring(0, dot);
                if (!keep.contains(b)) {
                    Files.deleteIfExists(p);
                    removed.add(p);
                }
            }
        }
        return removed;
    }

    /** File permissions of a published image: public (0644), or private to an owner uid and a group. */
    sealed interface Access {
        void apply(Path p) throws IOException;

        Access PUBLIC = new Public();
    }

    record Public() implements Access {
        @Override
        public void apply(Path p) throws IOException {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        }
    }

    /**
     * Readable only by the listed users and groups: a POSIX ACL (setfacl) on a 0640 file whose group is the
     * gateway's own, so skiff run (running as the user) is held back by the kernel, not by an advisory field.
     */
    record Restricted(List<String> users, List<String> groups) implements Access {
        @Override
        public void apply(Path p) throws IOException {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
            StringBuilder spec = new StringBuilder("m::r");
            for (String u : users) spec.append(",u:").append(u).append(":r");
            for (String g : groups) spec.append(",g:").append(g).append(":r");
            Process pr = new ProcessBuilder("setfacl", "-m", spec.toString(), p.toString()).redirectErrorStream(true).start();
            String out = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            try {
                if (pr.waitFor() != 0) throw new IOException("setfacl on " + p + " failed: " + out);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while setting the ACL of " + p);
            }
        }
    }
}
