package skiff.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.site.ConfigLoader;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SiteConfigTest {
    @TempDir
    Path tmp;

    @Test
    void theEngineIsTheUsersElseTheSitesAndOnlyTheSiteSilencesTheNotice() {
        Fixture none = new Fixture(tmp.resolve("none"));
        assertEquals(null, none.policy().engine(), "unset: auto");
        assertTrue(none.policy().engineNotice());
        Fixture site = new Fixture(tmp.resolve("site")).siteToml("[run]\nengine = \"proot\"\nengine-notice = false\n");
        assertEquals("proot", site.policy().engine());
        assertEquals("site.toml [run] engine", site.policy().engineSource());
        assertFalse(site.policy().engineNotice());
        Fixture user = new Fixture(tmp.resolve("user")).siteToml("[run]\nengine = \"proot\"\n")
                .userToml("[run]\nengine = \"native\"\nengine-notice = false\n");
        Policy p = user.policy();
        assertEquals("native", p.engine());
        assertEquals("config.toml [run] engine", p.engineSource());
        assertTrue(p.engineNotice(), "a user cannot silence what the site wants said");
        assertTrue(user.warnings.stream().anyMatch(w -> w.contains("engine-notice")), user.warnings.toString());
    }

    @Test
    void dropInsAddToListsOverrideScalarsAndEveryValueNamesItsFile() {
        Fixture f = new Fixture(tmp).siteToml("""
                [binds]
                deny = ["/proc"]
                [images]
                digest_pinned_only = true
                """);
        Path dropIn = f.write("site/site.d/50-more.toml", """
                [binds]
                deny = ["/scratch/secret"]
                [images]
                digest_pinned_only = false
                """);
        ConfigLoader.Loaded c = f.policy().config();
        assertEquals(List.of("/proc", "/scratch/secret"), c.site().binds().deny());
        assertFalse(c.site().images().digestPinnedOnly());
        assertEquals(f.site.resolve("site.toml").toString(), c.source("binds.deny[0]"));
        assertEquals(dropIn.toString(), c.source("binds.deny[1]"));
        assertEquals(dropIn.toString(), c.source("images.digest_pinned_only"));
        assertEquals("default", c.source("binds.allow[0]"));
        assertEquals(List.of("/"), c.site().binds().allow());
    }

    @Test
    void groupWritableSiteFileIsIgnoredWithAWarningNamingIt() throws Exception {
        Fixture f = new Fixture(tmp);
        Path bad = f.write("site/site.d/90-open.toml", "[binds]\nallow = [\"/\"]\ndeny = []\n");
        Files.setPosixFilePermissions(bad, PosixFilePermissions.fromString("rw-rw-r--"));
        Policy p = f.policy();
        assertEquals(skiff.policy.site.SiteConfig.Binds.DEFAULT_DENY, p.site().binds().deny());
        assertEquals(1, f.warnings.stream().filter(w -> w.contains(bad.toString()) && w.contains("group-writable")).count(), f.warnings.toString());
        assertTrue(f.warnings.stream().allMatch(w -> !w.contains("\n")));
    }

    @Test
    void siteFileOwnedByAUserIsIgnored() throws Exception {
        Fixture f = new Fixture(tmp);
        Path bad = f.write("site/site.d/91-user.toml", "[images]\nallow = [\"evil.example/**\"]\n");
        Files.setAttribute(bad, "unix:uid", 1500);
        Policy p = f.policy();
        assertEquals(List.of("**"), p.site().images().allow());
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains(bad.toString()) && w.contains("not root")), f.warnings.toString());
    }

    @Test
    void siteDirOverrideIsHonouredOnlyWhenTrusted() throws Exception {
        Fixture f = new Fixture(tmp).siteToml("[images]\nallow = [\"docker.io/library/*\"]\n");
        assertEquals(List.of("docker.io/library/*"), f.policy().site().images().allow());
        Files.setPosixFilePermissions(f.site, PosixFilePermissions.fromString("rwxrwxrwx"));
        ConfigLoader.Loaded c = f.policy().config();
        assertEquals(ConfigLoader.DEFAULT_SITE_DIR, c.siteDir());
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("SKIFF_SITE_DIR") && w.contains("group-writable")), f.warnings.toString());
    }

    @Test
    void unparsableSiteFileIsFatal() {
        Fixture f = new Fixture(tmp).siteToml("[binds\nallow = ");
        SkiffException e = assertThrows(SkiffException.class, f::policy);
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains("site.toml"), e.getMessage());
    }

    @Test
    void userConfigCannotWidenTheSitePolicy() {
        Fixture f = new Fixture(tmp).siteToml("[binds]\nallow = [\"" + tmp.resolve("data") + "\"]\n");
        Fixture.mkdir(tmp.resolve("data"));
        Fixture.mkdir(tmp.resolve("elsewhere"));
        f.userToml("""
                [binds]
                allow = ["/"]
                [registries."docker.io"]
                mirror = "x"
                [run]
                mounts = [{ source = "%s", destination = "/elsewhere" }]
                """.formatted(tmp.resolve("elsewhere")));
        Policy p = f.policy();
        assertEquals(List.of(tmp.resolve("data").toString()), p.site().binds().allow());
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("[binds] is ignored")), f.warnings.toString());
        assertTrue(f.warnings.stream().noneMatch(w -> w.contains("registries")), f.warnings.toString());
        SkiffException e = assertThrows(SkiffException.class, () -> p.apply(Fixture.base(), Fixture.request()));
        assertEquals(ExitCode.POLICY, e.exitCode());
        assertTrue(e.getMessage().contains("elsewhere"), e.getMessage());
    }

    @Test
    void userConfigDefaultsApplyAndAreAttributed() {
        Fixture.mkdir(tmp.resolve("data"));
        Fixture f = new Fixture(tmp).siteToml("""
                [modules.tools]
                description = "site tools"
                env = { set = { TOOLS = "1" } }
                """).userToml("""
                [run]
                modules = ["tools", "nosuch"]
                mounts = [{ source = "%s", destination = "/data", readonly = false }]
                """.formatted(tmp.resolve("data")));
        Policy p = f.policy();
        var s = p.apply(Fixture.base(), Fixture.request());
        assertEquals("1", Fixture.env(s).get("TOOLS"));
        assertEquals("/data", s.mounts().getFirst().destination());
        assertFalse(s.mounts().getFirst().readOnly());
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("nosuch")), f.warnings.toString());
        assertTrue(p.config().source("user.run.modules[0]").endsWith("config.toml"));
    }

    @Test
    void misspelledSettingIsReportedNotSilentlyIgnored() {
        Fixture f = new Fixture(tmp).siteToml("[binds]\nalow = [\"/home\"]\n");
        f.policy();
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("unknown setting 'alow'")), f.warnings.toString());
    }

    @Test
    void aSiteDirUnderAGroupWritableDirectoryIsNotTrusted() throws Exception {
        Path open = Fixture.mkdir(tmp.resolve("open"));
        Fixture f = new Fixture(open).siteToml("[images]\nallow = [\"evil.example/**\"]\n");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxr-x"));
        assertEquals(List.of("**"), f.policy().site().images().allow());
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("is in " + open) && w.contains("group-writable")), f.warnings.toString());
    }
}
