package skiff.spec;

import java.util.List;

/** runtime-spec config.md "process". Env entries are KEY=VALUE in order; later entries win. */
public record Process(
        boolean terminal,
        User user,
        List<String> args,
        List<String> env,
        String cwd,
        boolean noNewPrivileges) {

    public List<String> env() {
        return env == null ? List.of() : env;
    }

    public Process withArgs(List<String> a) {
        return new Process(terminal, user, a, env, cwd, noNewPrivileges);
    }

    public Process withEnv(List<String> e) {
        return new Process(terminal, user, args, e, cwd, noNewPrivileges);
    }

    public Process withCwd(String c) {
        return new Process(terminal, user, args, env, c, noNewPrivileges);
    }

    public record User(int uid, int gid, List<Integer> additionalGids, String username) {}
}
