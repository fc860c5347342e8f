package skiff.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.policy.hooks.Stage;
import skiff.spec.Hooks;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** hooks.d injection by each 'when' condition and stage, masking, and the runner (stdin state, env, timeout, failure). */
class HooksTest {
    @TempDir
    Path tmp;

    static String hook(String path, String when, String stages) {
        return """
                {"version": "1.0.0", "hook": {"path": "%s", "args": ["x", "a1"], "env": ["K=V"], "timeout": 3},
                 "when": %s, "stages": %s}
                """.formatted(path, when, stages);
    }

    Spec apply(Fixture f, Spec base) {
        return f.policy().apply(base, new RunRequest(null, null, List.of(), List.of(), null, List.of(), Map.of(), 1000, 1000, "alice", List.of(), null));
    }

    @Test
    void eachConditionAndStageIsHonoured() throws Exception {
        Fixture f = new Fixture(tmp);
        f.write("hooks.d/01-always.json", hook("/h/always", "{\"always\": true}",
                "[\"prestart\", \"createRuntime\", \"createContainer\", \"startContainer\", \"poststart\", \"poststop\"]"));
        f.write("hooks.d/02-never.json", hook("/h/never", "{\"always\": false}", "[\"createRuntime\"]"));
        f.write("hooks.d/03-ann.json", hook("/h/ann", "{\"annotations\": {\"^com\\\\.example\\\\.gpu$\": \"^yes$\"}}", "[\"createRuntime\"]"));
        f.write("hooks.d/04-cmd.json", hook("/h/cmd", "{\"commands\": [\"^/usr/bin/python\", \"sh$\"]}", "[\"startContainer\"]"));
        f.write("hooks.d/05-binds.json", hook("/h/binds", "{\"hasBindMounts\": true}", "[\"poststart\"]"));
        f.write("hooks.d/06-and.json", hook("/h/and", "{\"always\": true, \"commands\": [\"^/nomatch$\"]}", "[\"createRuntime\"]"));
        f.write("hooks.d/07-bad.json", "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"relative\"}, \"when\": {\"always\": true}, \"stages\": [\"createRuntime\"]}");
        f.write("hooks.d/08-nowhen.json", "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/x\"}, \"when\": {}, \"stages\": [\"createRuntime\"]}");

        Spec plain = apply(f, Fixture.base().withProcess(Fixture.base().process().withArgs(List.of("/bin/true"))));
        for (Stage st : Stage.values()) assertEquals(List.of("/h/always"), paths(st, plain.hooks()), st.specName);

        Spec s = Fixture.base().withAnnotations(Map.of("com.example.gpu", "yes"))
                .withMounts(List.of(Mount.bind("/tmp", "/scratch", false)));
        Spec all = apply(f, s);
        assertEquals(List.of("/h/always", "/h/ann"), paths(Stage.CREATE_RUNTIME, all.hooks()));
        assertEquals(List.of("/h/always", "/h/cmd"), paths(Stage.START_CONTAINER, all.hooks()), "args[0] /bin/sh matches sh$");
        assertEquals(List.of("/h/always", "/h/binds"), paths(Stage.POSTSTART, all.hooks()));
        assertEquals(List.of("3", "a1", "K=V"), List.of(String.valueOf(Stage.CREATE_RUNTIME.of(all.hooks()).get(1).timeout()),
                Stage.CREATE_RUNTIME.of(all.hooks()).get(1).args().get(1), Stage.CREATE_RUNTIME.of(all.hooks()).get(1).env().getFirst()));
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("07-bad.json") && w.contains("absolute")), f.warnings.toString());
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains("08-nowhen.json") && w.contains("when")), f.warnings.toString());
    }

    @Test
    void laterDirectoryMasksTheSameFileName() {
        Fixture f = new Fixture(tmp);
        Path second = Fixture.mkdir(tmp.resolve("etc-hooks.d"));
        f.write("site/site.d/10-hooks.toml", "[hooks]\ndirs = [\"" + second + "\"]\n");
        f.write("hooks.d/10-x.json", hook("/h/low", "{\"always\": true}", "[\"createRuntime\"]"));
        f.write("etc-hooks.d/10-x.json", hook("/h/high", "{\"always\": true}", "[\"createRuntime\"]"));
        assertEquals(List.of("/h/high"), paths(Stage.CREATE_RUNTIME, apply(f, Fixture.base()).hooks()));
    }

    @Test
    void hookFileAUserCouldWriteIsIgnored() throws Exception {
        Fixture f = new Fixture(tmp);
        Path h = f.write("hooks.d/20-user.json", hook("/h/user", "{\"always\": true}", "[\"createRuntime\"]"));
        Files.setAttribute(h, "unix:uid", 1500);
        assertEquals(List.of(), paths(Stage.CREATE_RUNTIME, apply(f, Fixture.base()).hooks()));
        assertTrue(f.warnings.stream().anyMatch(w -> w.contains(h.toString()) && w.contains("not root")), f.warnings.toString());
    }

    static List<String> paths(Stage st, Hooks h) {
        return st.of(h).stream().map(Hooks.Hook::path).toList();
    }

    Path script(String name, String body) throws Exception {
        Path p = Files.writeString(tmp.resolve(name), "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }
}
