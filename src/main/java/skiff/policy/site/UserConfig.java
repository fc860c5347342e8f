package skiff.policy.site;

import java.util.List;

/**
 * The [run] table of the user's ~/.config/skiff/config.toml: personal defaults. Everything here passes
 * the same checks as the command line (binds through the bind policy, devices through the device
 * allow-list); the user file cannot set site tables such as [binds] (they are ignored with a warning).
 */
public record UserConfig(Run run, SiteConfig.Gateway gateway) {
    public static final UserConfig EMPTY = new UserConfig(null, null);

    public SiteConfig.Gateway gateway() {
        return gateway == null ? new SiteConfig.Gateway(null, null) : gateway;
    }

    public Run run() {
        return run == null ? new Run(null, null, null, null, null, null) : run;
    }

    public record Run(List<String> modules, List<SiteConfig.MountEntry> mounts, List<String> devices,
                      SiteConfig.EnvEdits env,
                      @com.fasterxml.jackson.annotation.JsonProperty("squashfs-mounter") String squashfsMounter,
                      String engine) {
        public List<String> modules() { return modules == null ? List.of() : modules; }
        public List<SiteConfig.MountEntry> mounts() { return mounts == null ? List.of() : mounts; }
        public List<String> devices() { return devices == null ? List.of() : devices; }
        public SiteConfig.EnvEdits env() { return env == null ? SiteConfig.EnvEdits.NONE : env; }
    }
}
