package skiff.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Digest;
import skiff.image.ImageConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The run record: what run needs from an image, read back as written; the lines bin/skiff reads come first. */
class RunRecordTest {
    @TempDir
    Path dir;

    static final Digest D = Digest.parse("sha256:" + "ab".repeat(32));

    @Test
    void roundTripKeepsNullsEmptiesAndNewlines() throws IOException {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("a", "1");
        labels.put("b", "");
        ImageConfig.Config c = new ImageConfig.Config("1000:1000", null, List.of("PATH=/bin", "X=line1\nline2"),
                null, List.of(), null, "/w", labels, null);
        RunRecord r = new RunRecord("docker.io/library/bb:latest", false, D, dir.resolve("dir/x"), "stamp 1", c,
                skiff.image.Descriptor.of("application/vnd.oci.image.index.v1+json", D, 123));
        RunRecord.write(dir, "localhost:5000/a/bb:1", r);
        Path f = dir.resolve("run-records/localhost:5000+a+bb:1");
        List<String> head = Files.readString(f).lines().limit(3).toList();
        assertEquals(List.of(RunRecord.TAG, D.hex(), dir.resolve("dir/x").toString()), head);
        assertEquals(r, RunRecord.read(f));
        RunRecord none = new RunRecord("n", true, D, dir, "s", null, null);
        RunRecord.write(dir, "n", none);
        assertNull(RunRecord.read(dir.resolve("run-records/n")).config());
    }

    @Test
    void keysAreWhatTheShellFormsAndOthersAreNotWritten() throws IOException {
        assertEquals("a+b:1", RunRecord.key("a/b:1"));
        assertNull(RunRecord.key(".hidden"));
        assertNull(RunRecord.key("a b"));
        assertNull(RunRecord.key(""));
        RunRecord.write(dir, "a b", new RunRecord("n", false, D, dir, "s", null, null));
        assertFalse(Files.exists(dir.resolve("run-records")));
        Files.createDirectories(dir.resolve("run-records"));
        Files.writeString(dir.resolve("run-records/x"), "something else\n");
        assertThrows(IOException.class, () -> RunRecord.read(dir.resolve("run-records/x")));
    }
}
