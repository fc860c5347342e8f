package skiff.spec;

/** runtime-spec config-linux.md "User namespace mappings". */
public record LinuxIdMapping(long containerID, long hostID, long size) {}
