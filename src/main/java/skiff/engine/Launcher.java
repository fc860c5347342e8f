package skiff.engine;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Path;

/**
 * How the container is made. NATIVE: unprivileged user and mount namespaces (unshare, stage 2, pivot_root).
 * PROOT: proot(1), which fakes the root directory and binds by tracing the payload's system calls: no namespace
 * and no privilege, for hosts that allow no user namespace, at the price of ptrace on every system call.
 */
public enum Launcher {
    NATIVE, PROOT;

    /** The {@code --engine} / {@code [run] engine} values. */
    public static final String AUTO = "auto";

    /**
     * @param launcher the engine this run uses
     * @param why      why, for doctor and messages
     * @param fellBack auto chose proot because user namespaces are unavailable (the one case that prints a notice)
     */
    public record Choice(Launcher launcher, String why, boolean fellBack) {}

    public String flag() {
        return name().toLowerCase();
    }

    /**
     * Resolves a setting ("auto", "native" or "proot"; null means auto). {@code source} names where it came from
     * ("--engine", "[run] engine"), for messages. Auto and native probe for user namespaces (see {@link Userns});
     * native and the fallback check the tools they need, so a run fails here with one line rather than later.
     */
    public static Choice choose(String setting, String source, Path runtimeDir) {
        String s = setting == null ? AUTO : setting.strip();
        ExitCode bad = source.startsWith("--") ? ExitCode.USAGE : ExitCode.POLICY;
        return switch (s) {
            case "proot" -> {
                HostTools.find("proot");
                yield new Choice(PROOT, "chosen by " + source + " = proot", false);
            }
            case "native" -> {
                Userns.Verdict v = Userns.probe(runtimeDir);
                if (!v.available())
                    throw new SkiffException(ExitCode.HOST, source + " native: user namespaces are unavailable here: "
                            + v.reason() + "; use --engine proot (or auto), or see 'skiff doctor' for the fix");
                yield new Choice(NATIVE, "chosen by " + source + " = native; user namespaces are available", false);
            }
            case AUTO -> {
                Userns.Verdict v = Userns.probe(runtimeDir);
                if (v.available()) yield new Choice(NATIVE, "user namespaces are available", false);
                try {
                    HostTools.find("proot");
                } catch (SkiffException e) {
                    throw new SkiffException(ExitCode.HOST, "user namespaces are unavailable here (" + v.reason()
                            + ") and proot, the engine that needs none, is not installed: install proot, or see 'skiff doctor'");
                }
                yield new Choice(PROOT, "user namespaces are unavailable: " + v.reason(), true);
            }
            default -> throw new SkiffException(bad, source + " '" + s + "' is not an engine: use auto, native or proot");
        };
    }
}
