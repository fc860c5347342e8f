package skiff.gateway;

import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gateway's libraries (Jetty, JDBC drivers, Flyway, HikariCP) reach 'skiff gateway' only: 'skiff run' starts on
 * every MPI rank, and its class path stays what it was without the gateway.
 */
class GatewayPackagingIT {
    static final List<String> GATEWAY_JARS = List.of("jetty-", "flyway-", "sqlite-jdbc", "postgresql-", "HikariCP", "slf4j");
    static final Path HOME = Cmd.skiffBin().getParent().getParent();

    static boolean isGatewayJar(String name) {
        return GATEWAY_JARS.stream().anyMatch(name::startsWith);
    }

    @Test
    void theJarManifestAndLibDirectoryHoldNoGatewayLibrary() throws IOException {
        String cp;
        try (JarFile jar = new JarFile(HOME.resolve("target/skiff.jar").toFile())) {
            cp = jar.getManifest().getMainAttributes().getValue("Class-Path");
        }
        for (String e : cp.split(" ")) assertFalse(isGatewayJar(e.substring(e.lastIndexOf('/') + 1)), "in skiff.jar's Class-Path: " + e);
        try (Stream<Path> s = Files.list(HOME.resolve("target/lib"))) {
            for (Path p : s.toList()) assertFalse(isGatewayJar(p.getFileName().toString()), "in target/lib: " + p);
        }
        try (Stream<Path> s = Files.list(HOME.resolve("target/gateway-lib"))) {
            List<String> names = s.map(p -> p.getFileName().toString()).toList();
            for (String want : List.of("jetty-server-", "flyway-core-", "sqlite-jdbc-", "postgresql-", "HikariCP-"))
                assertTrue(names.stream().anyMatch(n -> n.startsWith(want)), want + " missing from target/gateway-lib: " + names);
        }
    }

    /** The java command line bin/skiff execs for ARGS, from sh -x's trace. */
    static String javaCommandLine(String... args) {
        List<String> argv = new java.util.ArrayList<>(List.of("sh", "-x", Cmd.skiffBin().toString()));
        argv.addAll(List.of(args));
        Cmd.Result r = Cmd.of(argv).run();
        String exec = r.err().lines().filter(l -> l.startsWith("+ exec ")).reduce((a, b) -> b).orElse("");
        assertFalse(exec.isEmpty(), "no exec in the trace of bin/skiff " + String.join(" ", args) + ": " + r.err());
        return exec;
    }

    @Test
    void onlyTheGatewayCommandGetsTheGatewayLibraries() {
        for (String[] args : List.of(new String[] {"--version"}, new String[] {"run", "--rm", "alpine", "true"},
                new String[] {"pull", "alpine"}, new String[] {"images"})) {
            String exec = javaCommandLine(args);
            assertFalse(exec.contains("gateway-lib"), exec);
            assertTrue(exec.contains("-jar "), "the other commands still run the jar (manifest class path): " + exec);
        }
        assertTrue(javaCommandLine("gateway", "--help").contains("gateway-lib/*"));
        Cmd.Result v = Cmd.skiff(Path.of("/nonexistent"), "--version").run().ok();
        assertTrue(v.out().startsWith("skiff "), v.out());
        Cmd.Result h = Cmd.skiff(Path.of("/nonexistent"), "gateway", "serve", "--help").run().ok();
        assertTrue(h.out().contains("--shared"), h.out());
        assertEquals(0, h.exit());
    }
}
