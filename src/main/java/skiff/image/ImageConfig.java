package skiff.image;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;
import java.util.Map;

/** image-spec config.md (the fields skiff uses; unknown ones are kept in the blob, never rewritten). */
public record ImageConfig(
        String created,
        String author,
        String architecture,
        String os,
        String variant,
        Config config,
        RootFs rootfs,
        List<History> history) {

    /** The execution parameters, "config" in the spec. Capitalised names as the spec spells them. */
    public record Config(
            @JsonProperty("User") String user,
            @JsonProperty("ExposedPorts") Map<String, Object> exposedPorts,
            @JsonProperty("Env") List<String> env,
            @JsonProperty("Entrypoint") List<String> entrypoint,
            @JsonProperty("Cmd") List<String> cmd,
            @JsonProperty("Volumes") Map<String, Object> volumes,
            @JsonProperty("WorkingDir") String workingDir,
            @JsonProperty("Labels") Map<String, String> labels,
            @JsonProperty("StopSignal") String stopSignal) {}

    public record RootFs(String type, @JsonProperty("diff_ids") List<Digest> diffIds) {}

    public record History(String created, @JsonProperty("created_by") String createdBy, String author,
                          String comment, @JsonProperty("empty_layer") Boolean emptyLayer) {}
}
