package skiff.spec;

import java.util.List;

/** runtime-spec config.md "mounts": a bind mount has type "bind" and options containing "bind"/"rbind". */
public record Mount(String destination, String type, String source, List<String> options) {

    public List<String> options() {
        return options == null ? List.of() : options;
    }

    public static Mount bind(String source, String destination, boolean readOnly) {
        return new Mount(destination, "bind", source,
                readOnly ? List.of("rbind", "ro", "nosuid", "nodev") : List.of("rbind", "nosuid", "nodev"));
    }

    public boolean isBind() {
        return "bind".equals(type) || options().contains("bind") || options().contains("rbind");
    }

    public boolean readOnly() {
        return options().contains("ro");
    }
}
