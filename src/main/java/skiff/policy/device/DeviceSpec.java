package skiff.policy.device;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

/**
 * One {@code --device HOSTPATH[:CONTAINERPATH][:PERMS]} (PERMS: any of r, w, m). A value whose first
 * segment has the CDI form {@code vendor.tld/class=name} is a CDI request instead ({@link #isCdi}).
 */
public record DeviceSpec(String hostPath, String containerPath, String permissions) {

    public static boolean isCdi(String value) {
        return !value.startsWith("/") && value.contains("=") && value.substring(0, value.indexOf('=')).contains("/");
    }

    public static DeviceSpec parse(String value) {
        String[] parts = value.split(":", -1);
        if (parts.length > 3 || parts[0].isEmpty() || !parts[0].startsWith("/"))
            throw bad(value);
        String host = parts[0];
        String dest = host;
        String perms = "rwm";
        if (parts.length == 2) {
            if (parts[1].startsWith("/")) dest = parts[1];
            else perms = parts[1];
        } else if (parts.length == 3) {
            dest = parts[1];
            perms = parts[2];
        }
        if (!dest.startsWith("/") || perms.isEmpty() || !perms.matches("[rwm]{1,3}"))
            throw bad(value);
        return new DeviceSpec(host, dest, perms);
    }

    private static SkiffException bad(String value) {
        return new SkiffException(ExitCode.USAGE, "--device '" + value
                + "': expected HOSTPATH[:CONTAINERPATH][:rwm] (absolute paths) or a CDI name VENDOR/CLASS=NAME");
    }
}
