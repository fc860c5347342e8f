package skiff.policy.hooks;

import java.util.List;
import java.util.Map;

/** One hooks.d JSON file, version 1.0.0 of the format podman and CRI-O read (oci-hooks(5)). */
public record HookFile(String version, Hook hook, When when, List<String> stages) {

    public record Hook(String path, List<String> args, List<String> env, Integer timeout) {}

    /**
     * Injection conditions; all those present must hold. {@code always} and {@code hasBindMounts} set to
     * false never hold (as in podman's 1.0.0 matcher). annotations: some annotation's key and value
     * match a key regex and its value regex; commands: process.args[0] matches one of the regexes.
     */
    public record When(Boolean always, Map<String, String> annotations, List<String> commands, Boolean hasBindMounts) {
        public boolean isEmpty() {
            return always == null && (annotations == null || annotations.isEmpty())
                    && (commands == null || commands.isEmpty()) && hasBindMounts == null;
        }
    }
}
