package skiff.spec;

import java.util.List;

/** runtime-spec config.md "hooks", by lifecycle stage. */
public record Hooks(
        List<Hook> prestart,
        List<Hook> createRuntime,
        List<Hook> createContainer,
        List<Hook> startContainer,
        List<Hook> poststart,
        List<Hook> poststop) {

    public static final Hooks NONE = new Hooks(null, null, null, null, null, null);

    public record Hook(String path, List<String> args, List<String> env, Integer timeout) {}
}
