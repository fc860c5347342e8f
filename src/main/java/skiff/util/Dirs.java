package skiff.util;

import java.nio.file.Path;
import java.util.Map;

/** Where skiff keeps things, following the XDG base directory spec. */
public final class Dirs {
    private Dirs() {}

    /** --storage, else $SKIFF_STORAGE, else $XDG_DATA_HOME/skiff, else ~/.local/share/skiff. */
    public static Path storage(Path flag, Map<String, String> env) {
        if (flag != null) return flag.toAbsolutePath();
        String s = env.get("SKIFF_STORAGE");
        if (s != null && !s.isEmpty()) return Path.of(s).toAbsolutePath();
        String xdg = env.get("XDG_DATA_HOME");
        if (xdg != null && !xdg.isEmpty()) return Path.of(xdg, "skiff");
        return home(env).resolve(".local/share/skiff");
    }

    /** $XDG_CONFIG_HOME/skiff, else ~/.config/skiff. */
    public static Path userConfig(Map<String, String> env) {
        String xdg = env.get("XDG_CONFIG_HOME");
        if (xdg != null && !xdg.isEmpty()) return Path.of(xdg, "skiff");
        return home(env).resolve(".config/skiff");
    }

    public static Path home(Map<String, String> env) {
        String h = env.get("HOME");
        return Path.of(h != null && !h.isEmpty() ? h : System.getProperty("user.home"));
    }
}
