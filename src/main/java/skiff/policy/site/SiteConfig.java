package skiff.policy.site;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;
import java.util.Map;

/**
 * The site policy, merged from /etc/skiff/site.toml and /etc/skiff/site.d/*.toml. Every list left unset
 * by the site falls back to the documented default; a list set in several files is the concatenation
 * (site.toml first, then site.d in name order), so a drop-in adds to what the main file says.
 */
public record SiteConfig(
        Binds binds,
        Devices devices,
        Images images,
        Gpu gpu,
        Cdi cdi,
        HookDirs hooks,
        List<MountEntry> mounts,
        EnvEdits env,
        Map<String, Module> modules,
        Map<String, Profile> users,
        Map<String, Profile> groups,
        Run run,
        Gateway gateway) {

    public static final SiteConfig EMPTY = new SiteConfig(null, null, null, null, null, null, null, null, null, null, null, null, null);

    public Gateway gateway() { return gateway == null ? new Gateway(null, null) : gateway; }

    /**
     * The image gateway (docs/gateway.md): {@code url}, one URL or several separated by commas (tried in order), for
     * 'skiff pull' and 'skiff images --gateway'; {@code shared}, the gateway's shared directory as this node sees it,
     * where 'skiff run' finds published images (SHARED/images/index.tsv). The user's config.toml may set both too.
     */
    public record Gateway(String url, String shared) {}

    public Run run() { return run == null ? new Run(null, null, null) : run; }

    /**
     * Site defaults for skiff run that a user's config.toml [run] may override. {@code squashfs-mounter}: which
     * FUSE server mounts SquashFS images, "squashfuse" (default) or "skiff" (the built-in one). {@code engine}:
     * "auto" (default), "native" or "proot". {@code engine-notice} (site only): false silences the line auto
     * prints when it falls back to proot.
     */
    public record Run(@JsonProperty("squashfs-mounter") String squashfsMounter, String engine,
                      @JsonProperty("engine-notice") Boolean engineNotice) {}

    public Binds binds() { return binds == null ? new Binds(null, null, null, null) : binds; }
    public Devices devices() { return devices == null ? new Devices(null) : devices; }
    public Images images() { return images == null ? new Images(null, null) : images; }
    public Gpu gpu() { return gpu == null ? new Gpu(null, null, null, null) : gpu; }
    public Cdi cdi() { return cdi == null ? new Cdi(null) : cdi; }
    public HookDirs hooks() { return hooks == null ? new HookDirs(null) : hooks; }
    public List<MountEntry> mounts() { return mounts == null ? List.of() : mounts; }
    public EnvEdits env() { return env == null ? EnvEdits.NONE : env; }
    public Map<String, Module> modules() { return modules == null ? Map.of() : modules; }
    public Map<String, Profile> users() { return users == null ? Map.of() : users; }
    public Map<String, Profile> groups() { return groups == null ? Map.of() : groups; }

    /**
     * Which host paths users may bind, and where in the container. The defaults let users bind their
     * own data from anywhere while keeping kernel interfaces, device trees and credentials out, and
     * never letting a bind shadow the image's system directories or skiff's own.
     */
    public record Binds(List<String> allow, List<String> deny,
                        @JsonProperty("forbidden_destinations") List<String> forbiddenDestinations,
                        @JsonProperty("current_directory") Boolean currentDirectory) {
        public static final List<String> DEFAULT_ALLOW = List.of("/");
        public static final List<String> DEFAULT_DENY = List.of("/proc", "/sys", "/dev", "/boot", "/root",
                "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/etc/skiff",
                "/run/docker.sock", "/var/run/docker.sock");
        public static final List<String> DEFAULT_FORBIDDEN = List.of("/", "/etc", "/var", "/usr", "/bin", "/sbin",
                "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sys", "/dev", "/.skiff");

        public List<String> allow() { return allow == null ? DEFAULT_ALLOW : allow; }
        public List<String> deny() { return deny == null ? DEFAULT_DENY : deny; }
        public List<String> forbiddenDestinations() { return forbiddenDestinations == null ? DEFAULT_FORBIDDEN : forbiddenDestinations; }
        /** Bind the directory skiff run starts from at the same path (through the same checks as -v); default on. */
        public Boolean currentDirectory() { return currentDirectory == null || currentDirectory; }
    }

    /** Host device nodes users may pass with --device (globs: '*' within a path segment, '**' across). */
    public record Devices(List<String> allow) {
        public static final List<String> DEFAULT_ALLOW = List.of("/dev/null", "/dev/zero", "/dev/full",
                "/dev/random", "/dev/urandom", "/dev/tty", "/dev/fuse", "/dev/nvidia*", "/dev/nvidia-caps/*",
                "/dev/dri/*", "/dev/kfd", "/dev/infiniband/*");

        public List<String> allow() { return allow == null ? DEFAULT_ALLOW : allow; }
    }

    /** Which images may be pulled and run; globs on the repository name (no tag, no digest). */
    public record Images(List<String> allow, @JsonProperty("digest_pinned_only") Boolean digestPinnedOnly) {
        public static final List<String> DEFAULT_ALLOW = List.of("**");

        public List<String> allow() { return allow == null ? DEFAULT_ALLOW : allow; }
        public Boolean digestPinnedOnly() { return digestPinnedOnly != null && digestPinnedOnly; }
    }

    /** Where the NVIDIA driver is on this host. */
    public record Gpu(String liblist, @JsonProperty("bin_dirs") List<String> binDirs,
                      @JsonProperty("lib_dirs") List<String> libDirs, String ldconfig) {
        public static final List<String> DEFAULT_BIN_DIRS = List.of("/usr/local/nvidia/bin", "/usr/bin", "/usr/local/bin");
        public static final List<String> DEFAULT_LIB_DIRS = List.of("/usr/local/nvidia/lib64", "/usr/local/nvidia/lib");

        public List<String> binDirs() { return binDirs == null ? DEFAULT_BIN_DIRS : binDirs; }
        public List<String> libDirs() { return libDirs == null ? DEFAULT_LIB_DIRS : libDirs; }
        public String ldconfig() { return ldconfig == null ? "ldconfig" : ldconfig; }
    }

    /** Container Device Interface spec directories, lowest priority first. */
    public record Cdi(@JsonProperty("spec_dirs") List<String> specDirs) {
        public static final List<String> DEFAULT_DIRS = List.of("/etc/cdi", "/var/run/cdi");

        public List<String> specDirs() { return specDirs == null ? DEFAULT_DIRS : specDirs; }
    }

    /** OCI hooks.d directories, lowest precedence first (a file name in a later one masks an earlier one). */
    public record HookDirs(List<String> dirs) {
        public static final List<String> DEFAULT_DIRS = List.of("/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d");

        public List<String> dirs() { return dirs == null ? DEFAULT_DIRS : dirs; }
    }

    /** A bind mount the site (or a module) adds; {@code optional} ones are skipped where the source is absent. */
    public record MountEntry(String source, String destination, Boolean readonly, Boolean optional) {
        public Boolean readonly() { return readonly == null || readonly; }
        public Boolean optional() { return optional != null && optional; }
        public String destination() { return destination == null ? source : destination; }
    }

    /** Environment edits, applied in this order: unset, set, prepend, append (':'-separated lists). */
    public record EnvEdits(Map<String, String> set, Map<String, String> prepend, Map<String, String> append, List<String> unset) {
        public static final EnvEdits NONE = new EnvEdits(null, null, null, null);

        public Map<String, String> set() { return set == null ? Map.of() : set; }
        public Map<String, String> prepend() { return prepend == null ? Map.of() : prepend; }
        public Map<String, String> append() { return append == null ? Map.of() : append; }
        public List<String> unset() { return unset == null ? List.of() : unset; }

        @JsonIgnore
        public boolean isEmpty() {
            return set().isEmpty() && prepend().isEmpty() && append().isEmpty() && unset().isEmpty();
        }
    }

    /** An OCI hook as a module declares it (same fields as runtime-spec's hook, plus its stage). */
    public record ModuleHook(String stage, String path, List<String> args, List<String> env, Integer timeout) {}

    /**
     * A bundle users switch on with --module NAME (or always, with default = true). {@code devices} are
     * host device paths or globs, or CDI names; they are trusted (the site wrote them), so the device
     * allow-list does not apply, but they must still be device nodes.
     */
    public record Module(String description, @JsonProperty("default") Boolean isDefault, List<MountEntry> mounts,
                         EnvEdits env, List<String> devices, List<ModuleHook> hooks, Mpi mpi) {
        public String description() { return description == null ? "" : description; }
        public Boolean isDefault() { return isDefault != null && isDefault; }
        public List<MountEntry> mounts() { return mounts == null ? List.of() : mounts; }
        public EnvEdits env() { return env == null ? EnvEdits.NONE : env; }
        public List<String> devices() { return devices == null ? List.of() : devices; }
        public List<ModuleHook> hooks() { return hooks == null ? List.of() : hooks; }

        @JsonIgnore
        public boolean isMpi() { return mpi != null; }
    }

    /**
     * [modules.NAME.mpi]: the host MPI that replaces the image's (bind model). {@code libs} are the MPI
     * libraries, paired with the image's by linker name and version-checked; {@code dependency_libs} are
     * what they need that the image may lack. Each entry is an absolute host path or a library name looked
     * up in the host's ldconfig cache. {@code compatibility}: major (default), full or strict.
     */
    public record Mpi(List<String> libs, @JsonProperty("dependency_libs") List<String> dependencyLibs, String compatibility) {
        public List<String> libs() { return libs == null ? List.of() : libs; }
        public List<String> dependencyLibs() { return dependencyLibs == null ? List.of() : dependencyLibs; }
        public String compatibility() { return compatibility == null ? "major" : compatibility; }
    }

    /**
     * [users.NAME] / [groups.NAME]: additions for one user or the members of one group, on top of the
     * site-wide settings (they add; they never take away).
     */
    public record Profile(List<MountEntry> mounts, EnvEdits env, List<String> modules,
                          @JsonProperty("allow_binds") List<String> allowBinds,
                          @JsonProperty("allow_devices") List<String> allowDevices) {
        public List<MountEntry> mounts() { return mounts == null ? List.of() : mounts; }
        public EnvEdits env() { return env == null ? EnvEdits.NONE : env; }
        public List<String> modules() { return modules == null ? List.of() : modules; }
        public List<String> allowBinds() { return allowBinds == null ? List.of() : allowBinds; }
        public List<String> allowDevices() { return allowDevices == null ? List.of() : allowDevices; }
    }
}
