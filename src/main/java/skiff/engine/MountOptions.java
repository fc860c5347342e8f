package skiff.engine;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.List;
import java.util.Map;

/**
 * The mount options of a spec's mounts, parsed from one table as crun parses them (libcrun's mount-flag table):
 * an option the engine does not know is an error naming it, instead of being dropped, so a site's or a CDI spec's
 * "nosymfollow" (say) can never be believed in force when it is not.
 */
final class MountOptions {
    private MountOptions() {}

    /** What one option does to the bind or mount the engine makes. */
    private enum Effect {
        READ_ONLY, READ_WRITE, NOSUID, SUID, NODEV, DEV, NOEXEC, EXEC, BIND, RBIND,
        /**
         * Accepted, nothing to do: propagation (stage 2 makes the whole tree private, and nothing may propagate back
         * to the host), atime (the image is read-only, binds keep the host's), and "defaults".
         */
        NONE
    }

    private static final Map<String, Effect> TABLE = Map.ofEntries(
            Map.entry("ro", Effect.READ_ONLY), Map.entry("rw", Effect.READ_WRITE),
            Map.entry("nosuid", Effect.NOSUID), Map.entry("suid", Effect.SUID),
            Map.entry("nodev", Effect.NODEV), Map.entry("dev", Effect.DEV),
            Map.entry("noexec", Effect.NOEXEC), Map.entry("exec", Effect.EXEC),
            Map.entry("bind", Effect.BIND), Map.entry("rbind", Effect.RBIND),
            Map.entry("private", Effect.NONE), Map.entry("rprivate", Effect.NONE),
            Map.entry("slave", Effect.NONE), Map.entry("rslave", Effect.NONE),
            Map.entry("shared", Effect.NONE), Map.entry("rshared", Effect.NONE),
            Map.entry("unbindable", Effect.NONE), Map.entry("runbindable", Effect.NONE),
            Map.entry("atime", Effect.NONE), Map.entry("noatime", Effect.NONE),
            Map.entry("relatime", Effect.NONE), Map.entry("norelatime", Effect.NONE),
            Map.entry("strictatime", Effect.NONE), Map.entry("nostrictatime", Effect.NONE),
            Map.entry("diratime", Effect.NONE), Map.entry("nodiratime", Effect.NONE),
            Map.entry("defaults", Effect.NONE));

    /** The parsed flags; a bind is recursive unless "bind" (not "rbind") is given, as runc and crun. */
    record Parsed(boolean readOnly, boolean recursive, boolean nosuid, boolean nodev, boolean noexec) {}

    /**
     * Every option is the kernel's or a runtime's: skiff's own facts about a mount (whose it is) travel typed in the
     * launch request ({@link LaunchRequest.Mount#origin}), never as an option string decoded here.
     *
     * @param where the mount's destination, for the message
     */
    static Parsed parse(List<String> options, String where) {
        boolean ro = false, rec = true, nosuid = false, nodev = false, noexec = false;
        for (String o : options) {
            Effect e = TABLE.get(o);
            if (e == null)
                throw new SkiffException(ExitCode.POLICY, "mount option '" + o + "' on " + where
                        + " is not one skiff's engine carries out: remove it from the mount (known: " + known() + ")");
            switch (e) {
                case READ_ONLY -> ro = true;
                case READ_WRITE -> ro = false;
                case NOSUID -> nosuid = true;
                case SUID -> nosuid = false;
                case NODEV -> nodev = true;
                case DEV -> nodev = false;
                case NOEXEC -> noexec = true;
                case EXEC -> noexec = false;
                case BIND -> rec = false;
                case RBIND -> rec = true;
                case NONE -> { }
            }
        }
        return new Parsed(ro, rec, nosuid, nodev, noexec);
    }

    private static String known() {
        return String.join(" ", new java.util.TreeSet<>(TABLE.keySet()));
    }
}
