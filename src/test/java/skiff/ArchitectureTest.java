package skiff;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.lang.constant.ClassDesc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data flows one way: reference → registry → store → layer → squashfs/rootfs → container → spec → policy → engine
 * → cli. A package may use only packages of a lower rank; equal ranks do not exist, so cycles cannot either.
 * Raw FFM (java.lang.foreign) lives in skiff.sys, below every stage: stages call its wrappers, never the linker.
 *
 * <p>The rules are checked on what the compiler wrote, the class files' constant pools (every class a class names:
 * supertypes, calls, field and method descriptors, generic signatures, annotations), not on source text, where a
 * fully qualified name in a comment counted and a star import hid a use. Constants the compiler inlines (a
 * {@code static final int} of another class) leave no trace in a class file and so escape the check. Resource files
 * are checked too: a {@code META-INF/services} file would let a low stage load a high stage's class by name.
 */
class ArchitectureTest {
    static final Map<String, Integer> RANK = Map.ofEntries(
            Map.entry("sys", -1),
            Map.entry("util", 0),
            Map.entry("image", 1),
            Map.entry("reference", 2),
            Map.entry("registry", 3),
            Map.entry("store", 4),
            Map.entry("layer", 5),
            Map.entry("squashfs", 6),
            Map.entry("rootfs", 7),
            Map.entry("container", 8),
            Map.entry("spec", 9),
            Map.entry("policy", 10),
            Map.entry("engine", 11),
            Map.entry("gateway", 12),
            Map.entry("cli", 13));

    static final Path CLASSES = Path.of("target/classes");
    /** A class named in a descriptor or signature: Lskiff/store/Store; or Lskiff/store/Store<... */
    static final Pattern DESCRIPTOR_USE = Pattern.compile("L(skiff/[a-z0-9_/]+)/[A-Za-z0-9_$]+[;<]");

    /** skiff.engine.fuse → engine; skiff.cli → cli. */
    static String stage(String pkg) {
        String rest = pkg.substring("skiff.".length());
        int dot = rest.indexOf('.');
        return dot < 0 ? rest : rest.substring(0, dot);
    }

    /** The package of an internal class name (skiff/engine/Stage2$1 → skiff.engine), or null for the default one. */
    static String packageOf(String internalName) {
        int slash = internalName.lastIndexOf('/');
        return slash < 0 ? null : internalName.substring(0, slash).replace('/', '.');
    }

    /** Every package a class file refers to, from its constant pool. */
    static Set<String> referencedPackages(ClassModel cm) {
        Set<String> used = new TreeSet<>();
        for (PoolEntry e : cm.constantPool()) {
            if (e instanceof ClassEntry c) {
                String name = c.asInternalName();
                if (name.startsWith("[")) {
                    Matcher m = DESCRIPTOR_USE.matcher(name);
                    while (m.find()) used.add(m.group(1).replace('/', '.'));
                    if (name.contains("java/lang/foreign/")) used.add("java.lang.foreign");
                } else if (packageOf(name) != null) {
                    used.add(packageOf(name));
                }
            } else if (e instanceof Utf8Entry u) {
                String s = u.stringValue();
                Matcher m = DESCRIPTOR_USE.matcher(s);
                while (m.find()) used.add(m.group(1).replace('/', '.'));
                if (s.contains("Ljava/lang/foreign/")) used.add("java.lang.foreign");
            }
        }
        return used;
    }

    record Compiled(Path file, String pkg, Set<String> uses) {}

    static List<Compiled> classes() throws IOException {
        assertTrue(Files.isDirectory(CLASSES.resolve("skiff")), "compile first: " + CLASSES + " has no skiff classes");
        List<Compiled> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(CLASSES.resolve("skiff"))) {
            for (Path p : s.filter(f -> f.toString().endsWith(".class")).toList()) {
                ClassModel cm = ClassFile.of().parse(Files.readAllBytes(p));
                out.add(new Compiled(p, packageOf(cm.thisClass().asInternalName()), referencedPackages(cm)));
            }
        }
        assertTrue(out.size() > 100, "only " + out.size() + " classes found");
        return out;
    }

    /** Violations of the one-way rule and the FFM rule in one class. */
    static List<String> violations(Compiled c) {
        List<String> v = new ArrayList<>();
        String own = stage(c.pkg());
        for (String used : c.uses()) {
            if (used.equals("java.lang.foreign") && !own.equals("sys"))
                v.add(c.file() + ": " + c.pkg() + " uses java.lang.foreign outside skiff.sys");
            if (!used.startsWith("skiff.")) continue;
            String target = stage(used);
            if (target.equals(own) || !RANK.containsKey(target) || !RANK.containsKey(own)) continue;
            if (RANK.get(target) >= RANK.get(own)) v.add(c.file() + ": " + own + " uses " + target);
        }
        return v;
    }

    /**
     * The warm path of skiff run (bin/skiff, then one JVM: cli.WarmRun) refers to no picocli or Jackson class in the
     * classes it is made of: their start-up cost is what the path avoids (RunIT checks the classes a warm start
     * actually loads; this catches a direct reference at build time).
     */
    @Test
    void theWarmPathsOwnClassesReferNoPicocliOrJackson() throws IOException {
        List<String> warm = List.of("skiff/cli/WarmRun", "skiff/cli/RunRecord", "skiff/cli/RunFastPath",
                "skiff/engine/Stage2", "skiff/engine/MountTree", "skiff/engine/PidInit", "skiff/engine/MountOptions",
                "skiff/engine/LaunchPlan", "skiff/engine/SharedMount", "skiff/engine/Underlay", "skiff/engine/StageHooks",
                "skiff/cli/LaunchRequests", "skiff/engine/LaunchRequest", "skiff/engine/StandardMounts", "skiff/engine/RunDir",
                "skiff/policy/PolicySnapshot", "skiff/policy/site/FileStamps", "skiff/policy/site/TrustedFiles", "skiff/util/RecordText");
        List<String> bad = new ArrayList<>();
        for (String c : warm) {
            Path f = CLASSES.resolve(c + ".class");
            assertTrue(Files.isRegularFile(f), f + " missing");
            for (String used : referencedPackages(ClassFile.of().parse(Files.readAllBytes(f))))
                if (used.startsWith("picocli") || used.startsWith("com.fasterxml")) bad.add(c + " -> " + used);
        }
        assertEquals(List.of(), bad);
        // the check sees such a reference where there is one: the CLI's picocli entry point
        assertTrue(referencedPackages(ClassFile.of().parse(Files.readAllBytes(CLASSES.resolve("skiff/cli/Main.class"))))
                .contains("picocli"));
    }

    @Test
    void everyPackageIsAKnownStage() throws IOException {
        Set<String> unknown = new TreeSet<>();
        for (Compiled c : classes()) {
            assertTrue(c.pkg() != null && c.pkg().startsWith("skiff."), c.file() + " is outside the skiff package");
            if (!RANK.containsKey(stage(c.pkg()))) unknown.add(c.pkg());
        }
        assertEquals(Set.of(), unknown, "packages outside the data flow; add them to RANK deliberately");
    }

    @Test
    void dependenciesPointOnlyUpstreamAndForeignFunctionsStayInSys() throws IOException {
        List<String> violations = new ArrayList<>();
        for (Compiled c : classes()) violations.addAll(violations(c));
        assertEquals(List.of(), violations);
    }

    /**
     * The engine only executes the launch request the CLI built (issue #12, as ch-run): it may use the spec, and
     * nothing of images, stores, root filesystems, containers or policy, whose steps (mounting or converting the root
     * filesystem, applying policy) the CLI does before. The one exception: skiff.engine.fuse is the SquashFS mount's
     * server process, which reads the image file it serves (skiff.squashfs) — the mount is the engine's to make.
     */
    static final Set<String> NOT_FOR_THE_ENGINE = Set.of("image", "reference", "registry", "store", "layer", "squashfs",
            "rootfs", "container", "policy");

    static List<String> engineViolations(Compiled c) {
        List<String> v = new ArrayList<>();
        if (c.pkg() == null || !stage(c.pkg()).equals("engine")) return v;
        for (String used : c.uses()) {
            if (!used.startsWith("skiff.") || !NOT_FOR_THE_ENGINE.contains(stage(used))) continue;
            if (c.pkg().equals("skiff.engine.fuse") && stage(used).equals("squashfs")) continue;
            v.add(c.file() + ": the engine uses " + used + " (the CLI builds the launch request; see LaunchRequest)");
        }
        return v;
    }

    @Test
    void theEngineOnlyExecutesALaunchRequest() throws IOException {
        List<String> violations = new ArrayList<>();
        for (Compiled c : classes()) violations.addAll(engineViolations(c));
        assertEquals(List.of(), violations);
        // the rule sees such a use where there is one: an engine class naming the store and policy
        byte[] bytes = ClassFile.of().build(ClassDesc.of("skiff.engine.Backwards"), cb -> cb
                .withField("store", ClassDesc.of("skiff.store.Store"), ClassFile.ACC_PRIVATE)
                .withField("policy", ClassDesc.of("skiff.policy.Policy"), ClassFile.ACC_PRIVATE));
        ClassModel cm = ClassFile.of().parse(bytes);
        assertEquals(2, engineViolations(new Compiled(Path.of("Backwards.class"), "skiff.engine", referencedPackages(cm))).size());
    }

    @Test
    void gatewayLibrariesAreUsedOnlyByTheGatewayServer() throws IOException {
        // Jetty, JDBC, Flyway and HikariCP are on the class path of 'skiff gateway' alone (bin/skiff, target/gateway-lib):
        // a class of any other package (skiff.gateway.client included, which the CLI loads) naming them would fail there.
        List<String> found = new ArrayList<>();
        for (Compiled c : classes()) {
            if (c.pkg().equals("skiff.gateway")) continue;
            for (String used : c.uses())
                if (used.startsWith("org.eclipse.jetty") || used.startsWith("org.flywaydb") || used.startsWith("com.zaxxer")
                        || used.startsWith("org.sqlite") || used.startsWith("org.postgresql") || used.startsWith("java.sql"))
                    found.add(c.file() + " uses " + used);
        }
        assertEquals(List.of(), found);
    }

    @Test
    void noClassIsLoadedThroughAServiceFile() throws IOException {
        // The FFM bindings once reached the SquashFS writer from the engine through ServiceLoader: a dependency that
        // no import shows. Services files and ServiceLoader itself would bring that channel back.
        List<String> found = new ArrayList<>();
        for (Path root : List.of(Path.of("src/main/resources"), CLASSES)) {
            Path services = root.resolve("META-INF/services");
            if (Files.exists(services)) {
                try (Stream<Path> s = Files.list(services)) {
                    s.forEach(p -> found.add(p.toString()));
                }
            }
        }
        for (Compiled c : classes())
            if (c.uses().contains("java.util") && usesServiceLoader(c.file())) found.add(c.file() + " uses ServiceLoader");
        assertEquals(List.of(), found);
    }

    @Test
    void onlyEnvReadsTheProcessEnvironment() throws IOException {
        // Everything else takes the environment as a Map handed down from skiff.util.Env (tests pass their own).
        List<String> readers = new ArrayList<>();
        for (Compiled c : classes()) {
            ClassModel cm = ClassFile.of().parse(Files.readAllBytes(c.file()));
            if (cm.thisClass().asInternalName().equals("skiff/util/Env")) continue;
            for (PoolEntry e : cm.constantPool())
                if (e instanceof java.lang.classfile.constantpool.MethodRefEntry m && m.owner().asInternalName().equals("java/lang/System")
                        && m.name().equalsString("getenv")) readers.add(cm.thisClass().asInternalName());
        }
        assertEquals(List.of(), readers);
    }

    @Test
    void onlyWarningsSpellsTheWarningPrefix() throws IOException {
        // One format for warnings (util.Warnings); a literal prefix elsewhere would drift from it.
        List<String> spelled = new ArrayList<>();
        for (Compiled c : classes()) {
            ClassModel cm = ClassFile.of().parse(Files.readAllBytes(c.file()));
            if (cm.thisClass().asInternalName().equals("skiff/util/Warnings")) continue;
            for (PoolEntry e : cm.constantPool())
                if (e instanceof Utf8Entry u && u.stringValue().contains("skiff: warning:")) spelled.add(cm.thisClass().asInternalName());
        }
        assertEquals(List.of(), spelled);
    }

    @Test
    void resourcesBelongToAStage() throws IOException {
        // A resource under skiff/<stage>/ is read by that stage; one directly under skiff/ by whoever names it.
        List<String> stray = new ArrayList<>();
        Path res = Path.of("src/main/resources");
        try (Stream<Path> s = Files.walk(res)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                Path rel = res.relativize(p);
                boolean ok = rel.getNameCount() >= 2 && rel.getName(0).toString().equals("skiff")
                        && (rel.getNameCount() == 2 || RANK.containsKey(rel.getName(1).toString()));
                if (!ok) stray.add(rel.toString());
            }
        }
        assertEquals(List.of(), stray);
    }

    @Test
    void theArchitectureDocListsEveryPackage() throws IOException {
        String doc = Files.readString(Path.of("docs/architecture.md"));
        Set<String> missing = new TreeSet<>();
        for (Compiled c : classes()) if (!doc.contains("`" + c.pkg() + "`")) missing.add(c.pkg());
        assertEquals(Set.of(), missing, "docs/architecture.md names each package as `skiff.x`");
    }

    @Test
    void theRuleDetectsABackwardsDependency() {
        // Guards the guard: a store class whose only trace of the engine is a field's type and a method signature.
        byte[] bytes = ClassFile.of().build(ClassDesc.of("skiff.store.Backwards"), cb -> cb
                .withField("launcher", ClassDesc.of("skiff.engine.Launcher"), ClassFile.ACC_PRIVATE)
                .withField("arena", ClassDesc.of("java.lang.foreign.Arena"), ClassFile.ACC_PRIVATE));
        ClassModel cm = ClassFile.of().parse(bytes);
        List<String> v = violations(new Compiled(Path.of("Backwards.class"), "skiff.store", referencedPackages(cm)));
        assertEquals(List.of("Backwards.class: skiff.store uses java.lang.foreign outside skiff.sys",
                "Backwards.class: store uses engine"), v);
    }

    private static boolean usesServiceLoader(Path classFile) throws IOException {
        ClassModel cm = ClassFile.of().parse(Files.readAllBytes(classFile));
        for (PoolEntry e : cm.constantPool())
            if (e instanceof ClassEntry ce && ce.asInternalName().equals("java/util/ServiceLoader")) return true;
        return false;
    }
}
