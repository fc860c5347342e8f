package skiff.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** How to start stage 2: this JVM's java binary, flags for a short-lived process, and the skiff jar. */
final class Stage2Command {
    private Stage2Command() {}

    static List<String> java() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> a = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:-UsePerfData", "-Xss1m", "--enable-native-access=ALL-UNNAMED"));
        Path aot = Path.of(jar()).resolveSibling("skiff-stage2.aot");
        if (fresh(aot)) a.addAll(List.of("-XX:AOTCache=" + aot, "-Xlog:aot=off", "-Xlog:cds=off"));
        return a;
    }

    /**
     * Only a cache written after the jar: the JVM does not reliably reject a cache from an older build of the
     * same jar, and would then run the old classes.
     */
    static boolean fresh(Path aot) {
        try {
            return Files.isRegularFile(aot)
                    && Files.getLastModifiedTime(aot).compareTo(Files.getLastModifiedTime(Path.of(jar()))) >= 0;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    static String jar() {
        try {
            return Path.of(Stage2.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
