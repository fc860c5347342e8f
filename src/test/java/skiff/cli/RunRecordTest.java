package skiff.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.policy.Policy;
import skiff.policy.PolicySnapshot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The run record: what run needs from an image, read back as written; the lines bin/skiff reads come first. */
class RunRecordTest {
    @TempDir
    Path dir;

    static final Digest D = Digest.parse("sha256:" + "ab".repeat(32));

    /** The policy as this host's full path would record it, with a user config.toml of our own. */
    PolicySnapshot policy() throws IOException {
        Path cfg = Files.createDirectories(dir.resolve("cfg/skiff"));
        Files.writeString(cfg.resolve("config.toml"), "[run]\nenv = { set = { A = \"line1\\nline2\" } }\n");
        return Policy.loadRecorded(Map.of("XDG_CONFIG_HOME", dir.resolve("cfg").toString(), "HOME", dir.toString()),
                new Policy.Host(null, dir, () -> "", w -> {})).snapshot();
    }

    @Test
    void roundTripKeepsNullsEmptiesAndNewlines() throws IOException {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("a", "1");
        labels.put("b", "");
        ImageConfig.Config c = new ImageConfig.Config("1000:1000", null, List.of("PATH=/bin", "X=line1\nline2"),
                null, List.of(), null, "/w", labels, null);
        PolicySnapshot p = policy();
        RunRecord r = new RunRecord("docker.io/library/bb:latest", false, D, dir.resolve("dir/x"), "stamp 1", c,
                skiff.image.Descriptor.of("application/vnd.oci.image.index.v1+json", D, 123), p);
        RunRecord.write(dir, "localhost:5000/a/bb:1", r);
        Path f = dir.resolve("run-records/localhost:5000+a+bb:1");
        List<String> head = Files.readString(f).lines().limit(5).toList();
        assertEquals(List.of(RunRecord.TAG, D.hex(), dir.resolve("dir/x").toString(), "",
                dir.resolve("cfg/skiff/config.toml").toString()), head);
        RunRecord back = RunRecord.read(f);
        assertEquals(r, back);
        assertEquals("line1\nline2", back.policy().config().user().run().env().set().get("A"));
        RunRecord none = new RunRecord("n", true, D, dir, "s", null, null, p);
        RunRecord.write(dir, "n", none);
        assertNull(RunRecord.read(dir.resolve("run-records/n")).config());
    }

    @Test
    void keysAreWhatTheShellFormsAndOthersAreNotWritten() throws IOException {
        assertEquals("a+b:1", RunRecord.key("a/b:1"));
        assertNull(RunRecord.key(".hidden"));
        assertNull(RunRecord.key("a b"));
        assertNull(RunRecord.key(""));
        RunRecord.write(dir, "a b", new RunRecord("n", false, D, dir, "s", null, null, policy()));
        RunRecord.write(dir, "nopolicy", new RunRecord("n", false, D, dir, "s", null, null, null));
        assertFalse(Files.exists(dir.resolve("run-records")));
        Files.createDirectories(dir.resolve("run-records"));
        Files.writeString(dir.resolve("run-records/x"), "something else\n");
        assertThrows(IOException.class, () -> RunRecord.read(dir.resolve("run-records/x")));
    }

    /** A record carries policy: only its user may have written it (a store shared with a group is not enough). */
    @Test
    void recordsAreWrittenPrivateAndBelievedOnlyFromTheirOwner() throws IOException {
        Files.createDirectories(dir.resolve("run-records"));
        Files.setPosixFilePermissions(dir.resolve("run-records"), PosixFilePermissions.fromString("rwxrwxr-x"));
        RunRecord.write(dir, "n", new RunRecord("n", false, D, dir, "s", null, null, policy()));
        Path f = dir.resolve("run-records/n");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f.getParent())));
        int me = (Integer) Files.getAttribute(f, "unix:uid");
        assertNull(RunRecord.ownedByUser(f, me));
        assertEquals(f.getParent() + " is owned by uid " + me, RunRecord.ownedByUser(f, me + 1));
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-rw----"));
        assertEquals(f + " is writable by others than its owner", RunRecord.ownedByUser(f, me));
    }
}
