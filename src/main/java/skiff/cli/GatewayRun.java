package skiff.cli;

import skiff.gateway.client.SharedIndex;
import skiff.image.ImageConfig;
import skiff.image.Platform;
import skiff.policy.Policy;
import skiff.rootfs.Rootfs;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * skiff run's one hook into the image gateway: a name found in SHARED/images/index.tsv ({@code [gateway] shared})
 * runs from the published SquashFS as it is, with no request to the gateway and nothing copied to the node. The
 * index is read without Jackson; the config too, through {@link RunInputs}'s reader.
 */
final class GatewayRun {
    private GatewayRun() {}

    /** The published image {@code name} (normalised), or null when no gateway is configured or it has no such name. */
    static RunInputs.Resolved resolve(Policy policy, String name) {
        Path shared = policy.gatewayShared();
        if (shared == null) return null;
        Optional<SharedIndex.Entry> found;
        try {
            found = SharedIndex.find(shared, name, Platform.host());
        } catch (IOException | RuntimeException e) {
            throw new SkiffException(ExitCode.STORAGE, "cannot read the image gateway's index in " + shared
                    + " ([gateway] shared): " + e.getMessage());
        }
        if (found.isEmpty()) return null;
        SharedIndex.Entry e = found.get();
        if (!Files.isReadable(e.sqfs()))
            throw new SkiffException(ExitCode.IMAGE, "image " + name + " is published by the gateway, but you may not read it ("
                    + e.sqfs() + " is private to other users)");
        byte[] config;
        try {
            config = Files.readAllBytes(e.config());
        } catch (IOException x) {
            throw new SkiffException(ExitCode.STORAGE, "image " + name + ": cannot read its config " + e.config() + ": " + x.getMessage());
        }
        RunInputs.Resolved r = RunInputs.config(e.digest(), config);
        if (r == null) {
            try {
                r = new RunInputs.Resolved(e.digest(), skiff.util.Json.read(config, ImageConfig.class), null);
            } catch (IOException x) {
                throw new SkiffException(ExitCode.IMAGE, "image " + name + ": its config " + e.config() + " is not valid: " + x.getMessage());
            }
        }
        Rootfs.usePublished(e.digest(), e.sqfs());
        return r;
    }
}
