package skiff.policy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.site.TrustedFiles;
import skiff.spec.Spec;
import skiff.testing.Cmd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The policy the full path of skiff run records for the warm path: read back, it is the policy as read (same spec,
 * same warnings); it holds only while every file it came from is as it was (a touch, a chmod, a replacement, a new
 * hooks.d file, a config.toml created since, another SKIFF_SITE_DIR all undo it); a file another user owns stays
 * distrusted. Run as root (as the unit tests are here), so the fixture's files are root's.
 */
class PolicySnapshotTest {
    @TempDir
    Path tmp;

    @AfterEach
    void noVouching() {
        TrustedFiles.vouch(Set.of());
    }

    static String hook(String path) {
        return """
                {"version": "1.0.0", "hook": {"path": "%s"}, "when": {"always": true}, "stages": ["createRuntime"]}
                """.formatted(path);
    }

    Fixture fixture() {
        Fixture f = new Fixture(tmp);
        f.siteToml("[env]\nset = { SITE = \"1\" }\n[binds]\ndeny = [\"/secret\"]\n");
        f.userToml("[run]\nenv = { set = { MINE = \"2\" } }\n");
        f.write("hooks.d/10-a.json", hook("/h/a"));
        f.write("cdi/x.json", "{}");
        return f;
    }

    static Policy.Host host(List<String> warnings) {
        return new Policy.Host(Fixture.FAKE_PROBE, Path.of("/nonexistent"), () -> "", warnings::add);
    }

    static PolicySnapshot snapshot(Fixture f, Consumer<String> warn) {
        PolicySnapshot s = Policy.loadRecorded(f.env(), new Policy.Host(Fixture.FAKE_PROBE, f.dev, () -> "", warn)).snapshot();
        List<String> text = new ArrayList<>();
        s.write(text);
        PolicySnapshot back = PolicySnapshot.read(text.iterator());
        assertEquals(s, back);
        return back;
    }

    /** Past the file system's timestamp granularity (a clock tick), so that a change shows in ctime. */
    static void tick() throws InterruptedException {
        Thread.sleep(30);
    }

    @Test
    void readBackItIsThePolicyAsReadAndHoldsWhileNothingChanged() {
        Fixture f = fixture();
        List<String> fullWarnings = new ArrayList<>();
        Policy full = Policy.loadRecorded(f.env(), host(fullWarnings));
        PolicySnapshot s = snapshot(f, m -> {});
        assertNull(s.mismatch(f.env()));
        List<String> warmWarnings = new ArrayList<>();
        Policy warm = Policy.of(s, f.env(), host(warmWarnings));
        Spec a = full.apply(Fixture.base(), Fixture.request()), b = warm.apply(Fixture.base(), Fixture.request());
        assertEquals(a, b);
        assertEquals("1", Fixture.env(b).get("SITE"));
        assertEquals("2", Fixture.env(b).get("MINE"));
        assertEquals(List.of("/h/a"), b.hooks().createRuntime().stream().map(h -> h.path()).toList());
        assertEquals(List.of("/secret"), warm.site().binds().deny());
        assertTrue(s.trusted().contains(f.cdi.resolve("x.json")), s.trusted().toString());
        assertEquals(fullWarnings, warmWarnings);
    }

    @Test
    void aTouchAChmodOrAReplacementOfAPolicyFileUndoesIt() throws Exception {
        Fixture f = fixture();
        Path site = f.site.resolve("site.toml");
        PolicySnapshot s = snapshot(f, m -> {});
        tick();
        Files.setLastModifiedTime(site, Files.getLastModifiedTime(site)); // same mtime, new ctime
        assertTrue(String.valueOf(s.mismatch(f.env())).startsWith(site + " changed since it was checked"), s.mismatch(f.env()));

        s = snapshot(f, m -> {});
        tick();
        Files.setPosixFilePermissions(site, PosixFilePermissions.fromString("rw-rw-r--"));
        assertNotNull(s.mismatch(f.env()));

        s = snapshot(f, m -> {});
        Path other = Files.writeString(f.site.resolve(".new"), Files.readString(site));
        Files.move(other, site, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        assertNotNull(s.mismatch(f.env()), "a replaced file has another inode");
    }

    @Test
    void aFileAddedOrCreatedSinceAndAnotherSiteDirectoryUndoIt() throws Exception {
        Fixture f = fixture();
        PolicySnapshot s = snapshot(f, m -> {});
        tick();
        f.write("hooks.d/20-new.json", hook("/h/new"));
        assertTrue(String.valueOf(s.mismatch(f.env())).startsWith(f.hooks + " changed"), s.mismatch(f.env()));

        s = snapshot(f, m -> {});
        tick();
        f.write("cdi/y.yaml", "cdiVersion: 0.6.0\n");
        assertNotNull(s.mismatch(f.env()));

        Files.delete(f.home.resolve(".config/skiff/config.toml"));
        s = snapshot(f, m -> {});
        f.userToml("[run]\nengine = \"proot\"\n");
        assertTrue(String.valueOf(s.mismatch(f.env())).contains("config.toml changed since it was checked (absent, now inode"),
                s.mismatch(f.env()));

        s = snapshot(f, m -> {});
        Map<String, String> env = f.env();
        env.put("SKIFF_SITE_DIR", tmp.toString());
        assertEquals("SKIFF_SITE_DIR is not what it was when the policy was read", s.mismatch(env));
        env = f.env();
        env.put("XDG_CONFIG_HOME", tmp.resolve("elsewhere").toString());
        assertTrue(s.mismatch(env).startsWith("the user configuration file is now "), s.mismatch(env));
    }

    @Test
    void aFileAnotherUserOwnsStaysDistrustedAndItsWarningIsRepeated() throws IOException {
        Fixture f = fixture();
        Path theirs = f.write("hooks.d/30-theirs.json", hook("/h/theirs"));
        Path theirCdi = f.write("cdi/theirs.json", "{}");
        Cmd.of("chown", "1500", theirs.toString(), theirCdi.toString()).run().ok();
        List<String> warnings = new ArrayList<>();
        PolicySnapshot s = snapshot(f, warnings::add);
        assertFalse(s.trusted().contains(theirCdi), s.trusted().toString());
        assertFalse(s.trusted().contains(theirs), s.trusted().toString());
        assertEquals(List.of("/h/a"), s.hooks().stream().map(h -> h.config().hook().path()).toList());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("ignoring OCI hook " + theirs + ": it is owned by uid 1500")), warnings.toString());

        List<String> warm = new ArrayList<>();
        Spec b = Policy.of(s, f.env(), host(warm)).apply(Fixture.base(), Fixture.request());
        assertEquals(List.of("/h/a"), b.hooks().createRuntime().stream().map(h -> h.path()).toList());
        assertEquals(warnings, warm);

        // Vouching is for exactly the files the snapshot trusted.
        TrustedFiles.vouch(s.trusted());
        assertNull(TrustedFiles.distrust(f.cdi.resolve("x.json")));
        assertNotNull(TrustedFiles.distrust(theirCdi));
    }
}
