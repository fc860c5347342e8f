package skiff.cli;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.policy.PolicySnapshot;
import skiff.util.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the warm path of {@code skiff run} (bin/skiff, then {@link WarmRun}) needs from the store for one image
 * name, written by a run that resolved it the full way: instead of index.json, the manifest and the config parsed
 * as JSON on every start, one small file. STORAGE/run-records/KEY, KEY being the name as typed with '/' as '+'.
 *
 * <p>A few text lines first, which bin/skiff reads with the shell's own {@code read} (no process): the format
 * tag, the manifest hex (the shared mount's name), the directory rootfs path, SKIFF_SITE_DIR and the user's
 * config.toml path as they were (another value there is another policy: the full path). Then the rest as NUL-terminated
 * strings (LaunchPlan's encoding: NUL cannot occur in names, paths, arguments or environment entries).
 *
 * <p>Validity: bin/skiff takes the warm path only while index.json is not newer than the record (a pull, tag or
 * rmi since rewrites index.json); {@link WarmRun} checks index.json's exact stamp as well, as a same-second change
 * passes the shell's {@code -nt}.
 *
 * @param name       the canonical image name (policy's image rules match it)
 * @param digested   the name was given by digest
 * @param manifest   the platform manifest: its SquashFS mount is RUNTIME/mnt/HEX
 * @param dirRoot    where the directory rootfs of the image is (or would be)
 * @param indexStamp index.json's modification time (ns) and size when the name was resolved
 * @param config     the image config fields run uses (SpecBuilder: Entrypoint, Cmd, Env, WorkingDir; User, Labels)
 * @param indexed    what index.json gives the name (an image index or the manifest): a batch job pins it (JobPins);
 *                   null when unknown (then a run in a job takes the full path)
 * @param policy     the site policy as the full path read and trusted it, with the stamps of its files (the warm path
 *                   reads no policy file itself: see {@link PolicySnapshot} for why, and why the user's own store is
 *                   a fit place for it)
 */
record RunRecord(String name, boolean digested, Digest manifest, Path dirRoot, String indexStamp, ImageConfig.Config config,
                 Descriptor indexed, PolicySnapshot policy) {

    static final String TAG = "skiff-run-record 3";

    /** The record's file name for an image argument, or null when the shell could not form it the same way. */
    static String key(String image) {
        if (image.isEmpty() || image.length() > 255 || image.startsWith(".") || !image.matches("[A-Za-z0-9._:@/-]+"))
            return null;
        return image.replace('/', '+');
    }

    static final java.util.Set<java.nio.file.attribute.PosixFilePermission> PRIVATE_DIR =
            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------");
    static final java.util.Set<java.nio.file.attribute.PosixFilePermission> PRIVATE_FILE =
            java.nio.file.attribute.PosixFilePermissions.fromString("rw-------");

    /**
     * Null when {@code file} (a record) and its directory are owned by {@code uid} and nobody else can write them,
     * else why not: a record carries the site policy the warm path applies, so one that another user could have
     * written (a store shared with a group) is not believed. The file's own stamp need not be kept: nobody else can
     * swap it, and the user it belongs to gains nothing by editing it (see PolicySnapshot).
     */
    static String ownedByUser(Path file, int uid) {
        try {
            for (Path p : List.of(file.getParent(), file)) {
                Map<String, Object> a = Files.readAttributes(p, "unix:uid,mode", LinkOption.NOFOLLOW_LINKS);
                int owner = (Integer) a.get("uid"), mode = (Integer) a.get("mode");
                if (owner != uid) return p + " is owned by uid " + owner;
                if ((mode & 0022) != 0) return p + " is writable by others than its owner";
            }
            return null;
        } catch (IOException e) {
            return file + " cannot be checked (" + e.getMessage() + ")";
        }
    }

    static Path dir(Path storage) {
        return storage.resolve("run-records");
    }

    /** index.json's stamp as {@link #indexStamp}, or "" when it cannot be read. */
    static String stamp(Path index) {
        try {
            return Files.getLastModifiedTime(index, LinkOption.NOFOLLOW_LINKS).toInstant().toString() + " " + Files.size(index);
        } catch (IOException e) {
            return "";
        }
    }

    /** Writes the record for {@code image} (best effort: without it the next run takes the full path again). */
    static void write(Path storage, String image, RunRecord r) {
        String key = key(image);
        if (key == null || r.indexStamp().isEmpty() || r.policy == null) return;
        for (String line : List.of(r.dirRoot.toString(), r.policy.siteDirEnv(), r.policy.userConfig()))
            if (line.indexOf('\n') >= 0) return;
        List<String> t = new ArrayList<>(List.of(r.name, r.digested ? "1" : "0", r.indexStamp, r.manifest.toString()));
        if (r.indexed == null) t.add("-");
        else t.addAll(List.of(r.indexed.mediaType(), r.indexed.digest().toString(), Long.toString(r.indexed.size())));
        ImageConfig.Config c = r.config;
        t.add(c == null ? "0" : "1");
        if (c != null) {
            t.add(nullable(c.user()));
            t.add(nullable(c.workingDir()));
            t.add(nullable(c.stopSignal()));
            list(t, c.env());
            list(t, c.entrypoint());
            list(t, c.cmd());
            List<String> labels = null;
            if (c.labels() != null) {
                labels = new ArrayList<>();
                for (var e : c.labels().entrySet()) {
                    labels.add(e.getKey());
                    labels.add(e.getValue());
                }
            }
            list(t, labels);
        }
        try {
            r.policy.write(t);
        } catch (RuntimeException e) {
            return; // nothing the snapshot cannot hold is expected; without a record the next run is a full one
        }
        StringBuilder sb = new StringBuilder(TAG).append('\n').append(r.manifest.hex()).append('\n')
                .append(r.dirRoot).append('\n').append(r.policy.siteDirEnv()).append('\n')
                .append(r.policy.userConfig()).append('\n');
        for (String s : t) {
            if (s.indexOf('\0') >= 0) return;
            sb.append(s).append('\0');
        }
        try {
            // Only this user may write records: a record carries policy (see ownedByUser).
            Path d = Files.createDirectories(dir(storage));
            if (!Files.getPosixFilePermissions(d, LinkOption.NOFOLLOW_LINKS).equals(PRIVATE_DIR))
                Files.setPosixFilePermissions(d, PRIVATE_DIR);
            byte[] data = sb.toString().getBytes(StandardCharsets.UTF_8);
            AtomicFiles.write(d.resolve(key), out -> out.write(data), PRIVATE_FILE);
        } catch (IOException | RuntimeException e) {
            // no record: the next run resolves the image the full way again
        }
    }

    /** The record at {@code file}; IOException when missing or not one this build writes. */
    static RunRecord read(Path file) throws IOException {
        String s = Files.readString(file, StandardCharsets.UTF_8);
        String[] head = s.split("\n", 6);
        if (head.length < 6 || !head[0].equals(TAG)) throw new IOException(file + " is not a run record");
        List<String> parts = new ArrayList<>();
        String body = head[5];
        int from = 0;
        for (int i = body.indexOf('\0'); i >= 0; i = body.indexOf('\0', from)) {
            parts.add(body.substring(from, i));
            from = i + 1;
        }
        try {
            Iterator<String> it = parts.iterator();
            String name = it.next();
            boolean digested = it.next().equals("1");
            String stamp = it.next();
            Digest manifest = Digest.parse(it.next());
            if (!manifest.hex().equals(head[1])) throw new IllegalArgumentException("the manifest lines differ");
            String mt = it.next();
            Descriptor indexed = mt.equals("-") ? null : Descriptor.of(mt, Digest.parse(it.next()), Long.parseLong(it.next()));
            ImageConfig.Config cfg = null;
            if (it.next().equals("1")) {
                String user = nullable(it), wd = nullable(it), stop = nullable(it);
                List<String> env = list(it), ep = list(it), cmd = list(it), lab = list(it);
                Map<String, String> labels = null;
                if (lab != null) {
                    labels = new LinkedHashMap<>();
                    for (int i = 0; i + 1 < lab.size(); i += 2) labels.put(lab.get(i), lab.get(i + 1));
                }
                cfg = new ImageConfig.Config(user, null, env, ep, cmd, null, wd, labels, stop);
            }
            PolicySnapshot policy = PolicySnapshot.read(it);
            if (!policy.siteDirEnv().equals(head[3]) || !policy.userConfig().equals(head[4]))
                throw new IllegalArgumentException("the policy lines differ");
            if (it.hasNext()) throw new IllegalArgumentException("trailing data");
            return new RunRecord(name, digested, manifest, Path.of(head[2]), stamp, cfg, indexed, policy);
        } catch (RuntimeException e) {
            throw new IOException(file + " is not a valid run record: " + e);
        }
    }

    private static String nullable(String v) {
        return v == null ? "\u0001" : v;
    }

    private static String nullable(Iterator<String> it) {
        String v = it.next();
        return v.equals("\u0001") ? null : v;
    }

    private static void list(List<String> t, List<String> l) {
        if (l == null) {
            t.add("-");
            return;
        }
        t.add(Integer.toString(l.size()));
        t.addAll(l);
    }

    private static List<String> list(Iterator<String> it) {
        String n = it.next();
        if (n.equals("-")) return null;
        int k = Integer.parseInt(n);
        List<String> l = new ArrayList<>(k);
        for (int i = 0; i < k; i++) l.add(it.next());
        return l;
    }
}
