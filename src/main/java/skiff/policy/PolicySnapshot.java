package skiff.policy;

import skiff.policy.hooks.HookDirs;
import skiff.policy.site.ConfigLoader;
import skiff.policy.site.FileStamps;
import skiff.policy.site.SiteConfig;
import skiff.util.Dirs;
import skiff.util.RecordText;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The site policy as the full path of skiff run read and trusted it, for the warm path (cli.RunRecord keeps it,
 * cli.WarmRun uses it): the parsed configuration (site.toml, site.d, the user's config.toml) and hooks.d files, the
 * warnings reading them gave, and the {@link FileStamps} of every file and directory they came from. The warm path
 * runs inside a user namespace where root's files cannot be told from another user's, and must not load Jackson; it
 * uses this instead of reading the files, after checking every stamp still holds.
 *
 * <p>The snapshot lives in the user's own store (STORAGE/run-records, written 0600 in a 0700 directory; WarmRun
 * refuses a record that another user owns or could write). That is enough: what {@link skiff.policy.site.TrustedFiles}
 * guards against is OTHER users planting policy, and they cannot write there. The invoking user can edit the snapshot,
 * but gains nothing they do not have already: they control their own process (a copy of skiff, unshare(1)), so the
 * site's policy was never a boundary against them, only the site's defaults and rules for well-behaved runs.
 *
 * @param siteDirEnv   SKIFF_SITE_DIR when the snapshot was taken ("" when unset): another value is another policy
 * @param userConfig   the user's config.toml path when the snapshot was taken (XDG_CONFIG_HOME, HOME decide it)
 * @param stamps       the files and directories read, listed or looked for, stamped before they were read
 * @param config       the parsed configuration
 * @param hooks        the hooks.d files trusted and parsed
 * @param hookWarnings what loading the hooks.d files warned about (a warm start repeats it, as a full one would)
 */
public record PolicySnapshot(String siteDirEnv, String userConfig, List<FileStamps.Stamp> stamps,
                             ConfigLoader.Loaded config, List<HookDirs.Loaded> hooks, List<String> hookWarnings) {

    /** The stamps of the configuration files {@link ConfigLoader#load} reads for {@code env}: taken before it reads them. */
    static FileStamps configStamps(Map<String, String> env) {
        FileStamps w = new FileStamps();
        String override = env.get("SKIFF_SITE_DIR");
        if (override != null && !override.isEmpty()) w.file(Path.of(override));
        Path siteDir = ConfigLoader.siteDir(env, m -> {});
        w.file(siteDir.resolve("site.toml"));
        w.dir(siteDir.resolve("site.d"));
        w.file(userConfigFile(env));
        return w;
    }

    /** Adds the stamps of the site's hooks.d and CDI directories and their files (taken before they are read). */
    static void policyDirStamps(FileStamps w, SiteConfig site) {
        for (String d : site.hooks().dirs()) w.dir(Path.of(d));
        for (String d : site.cdi().specDirs()) w.dir(Path.of(d));
    }

    static Path userConfigFile(Map<String, String> env) {
        return Dirs.userConfig(env).resolve("config.toml");
    }

    static String siteDirEnv(Map<String, String> env) {
        String v = env.get("SKIFF_SITE_DIR");
        return v == null ? "" : v;
    }

    /** Why this snapshot is not the policy a full run with {@code env} would read now, or null when it is. */
    public String mismatch(Map<String, String> env) {
        if (!siteDirEnv.equals(siteDirEnv(env))) return "SKIFF_SITE_DIR is not what it was when the policy was read";
        if (!userConfig.equals(userConfigFile(env).toString())) return "the user configuration file is now " + userConfigFile(env);
        return FileStamps.mismatch(stamps);
    }

    /** The files the full path trusted (TrustedFiles): a warm start vouches for them once {@link #mismatch} is null. */
    public List<Path> trusted() {
        List<Path> out = new ArrayList<>();
        for (FileStamps.Stamp s : stamps) if (s.trusted() && !s.follow()) out.add(Path.of(s.path()));
        return out;
    }

    /** Appends the snapshot as strings (RecordText; cli.RunRecord frames them). */
    public void write(List<String> out) {
        RecordText.write(this, out);
    }

    /** The snapshot {@link #write} wrote; IllegalArgumentException or NoSuchElementException when it is not one. */
    public static PolicySnapshot read(Iterator<String> in) {
        return (PolicySnapshot) RecordText.read(in, PolicySnapshot.class);
    }
}
