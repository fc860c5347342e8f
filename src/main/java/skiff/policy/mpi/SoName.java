package skiff.policy.mpi;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A shared library's file name split as the MPICH ABI rules read it: the linker name ({@code libmpich.so}) and the
 * numbers after it ({@code 12.2.2}: major, minor, patch). A name without ".so" is not a library: null.
 */
public record SoName(String linkerName, List<Integer> version) {

    public static SoName parse(String fileName) {
        int so = fileName.indexOf(".so");
        while (so > 0 && so + 3 < fileName.length() && fileName.charAt(so + 3) != '.') so = fileName.indexOf(".so", so + 1);
        if (so <= 0) return null;
        int end = so + 3;
        List<Integer> v = new ArrayList<>();
        for (String part : fileName.substring(end).split("\\.")) {
            if (part.isEmpty()) continue;
            if (!digits(part)) break;
            v.add(Integer.parseInt(part));
        }
        return new SoName(fileName.substring(0, end), List.copyOf(v));
    }

    private static boolean digits(String s) {
        if (s.length() > 9) return false;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
        return true;
    }

    public boolean hasMajor() {
        return !version.isEmpty();
    }

    public int major() {
        return version.isEmpty() ? -1 : version.getFirst();
    }

    /** The minor version; a name that stops at the major (libmpich.so.12) counts as minor 0. */
    public int minor() {
        return version.size() < 2 ? 0 : version.get(1);
    }

    /** The name a program's DT_NEEDED carries for this ABI: linker name and major. */
    public String soname() {
        return hasMajor() ? linkerName + "." + major() : linkerName;
    }

    /** "12.2.2", or "unversioned". */
    public String versionText() {
        return version.isEmpty() ? "unversioned" : version.stream().map(String::valueOf).collect(Collectors.joining("."));
    }
}
