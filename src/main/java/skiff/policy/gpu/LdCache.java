package skiff.policy.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The host's shared-library cache as {@code ldconfig -p} prints it, in its priority order. */
public final class LdCache {
    /** One cache entry: soname, the ABI flags in parentheses, and the library's path. */
    public record Entry(String soname, String flags, String path) {}

    private static final Pattern LINE = Pattern.compile("^\\s*(\\S+)\\s+\\(([^)]*)\\)\\s+=>\\s+(\\S.*?)\\s*$");

    private LdCache() {}

    public static List<Entry> parse(String ldconfigOutput) {
        List<Entry> out = new ArrayList<>();
        for (String line : ldconfigOutput.split("\n")) {
            Matcher m = LINE.matcher(line);
            if (m.matches()) out.add(new Entry(m.group(1), m.group(2), m.group(3)));
        }
        return out;
    }

    /**
     * The ABI tag ldconfig prints for this JVM's architecture; entries without it are another ABI
     * (e.g. 32-bit "libc6" next to "libc6,x86-64") and cannot be loaded by the container's programs.
     */
    public static String abiTag() {
        return switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86-64";
            case "aarch64" -> "AArch64";
            case "ppc64le" -> "64bit";
            default -> "";
        };
    }

    public static boolean sameAbi(Entry e, String tag) {
        return tag.isEmpty() || e.flags().contains(tag);
    }
}
