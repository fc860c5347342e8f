package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.image.Platform;
import skiff.reference.Reference;
import skiff.registry.Credentials;
import skiff.registry.RegistryClient;
import skiff.registry.RegistryConfig;
import skiff.policy.Policy;
import skiff.rootfs.ConvertSettings;
import skiff.rootfs.PullConversion;
import skiff.rootfs.Rootfs;
import skiff.store.Puller;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Dirs;
import skiff.util.Warnings;

import java.util.concurrent.Callable;

/** {@code skiff pull}: registry → store. */
@Command(name = "pull", mixinStandardHelpOptions = true, description = {
        "Pull an image from a registry into the local store.",
        "Prints 'Pulled NAME@DIGEST', DIGEST being what REF resolved to at the",
        "registry (the index's digest for a multi-platform image); -q prints only",
        "DIGEST. Shows progress on a terminal. The image is then converted",
        "(SquashFS by default) so that 'skiff run' starts at once."})
public final class PullCommand implements Callable<Integer> {
    /** Layers downloaded at once. */
    static final int PARALLEL = 4;

    @ParentCommand
    Main main;

    @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]",
            description = "Platform to pull from a multi-platform image (default: this host's, e.g. linux/amd64).")
    String platform;

    @Option(names = {"-q", "--quiet"}, description = "No progress; print only the digest.")
    boolean quiet;

    @Option(names = "--convert", paramLabel = "squashfs|dir|none",
            description = "Convert the image right after the pull (default: [convert] format in config.toml, else squashfs).")
    String convert;

    @Option(names = "--gateway", paramLabel = "URL", split = ",",
            description = "Ask this image gateway (several: tried in order) instead of pulling here; default: [gateway] url of config.toml or site.toml.")
    java.util.List<String> gateway;

    @Option(names = "--allow-user", paramLabel = "USER", split = ",",
            description = "With a gateway: a private image, readable only by you and these users (file permissions on the shared copy).")
    java.util.List<String> allowUsers = new java.util.ArrayList<>();

    @Option(names = "--allow-group", paramLabel = "GROUP", split = ",",
            description = "With a gateway: a private image, readable only by you and these groups.")
    java.util.List<String> allowGroups = new java.util.ArrayList<>();

    @Option(names = "--no-gateway", description = "Pull here even when [gateway] url is configured.")
    boolean noGateway;

    @Parameters(paramLabel = "REF", description = "Image reference, e.g. ubuntu:24.04, ghcr.io/org/img@sha256:...")
    String ref;

    @Override
    public Integer call() throws Exception {
        Reference r = Reference.parse(ref);
        // Site image policy is judged before anything is fetched.
        Policy policy = Policy.load(main.env());
        policy.checkImage(r.toString(), r.digest() != null);
        java.util.List<String> gateways = noGateway ? java.util.List.of() : gateway != null ? gateway : policy.gatewayUrls();
        if (gateways.isEmpty() && (!allowUsers.isEmpty() || !allowGroups.isEmpty()))
            throw new SkiffException(ExitCode.USAGE, "--allow-user and --allow-group apply to pulls through an image gateway (--gateway URL)");
        if (!gateways.isEmpty())
            return GatewayPull.run(gateways, r.toString(), platform, allowUsers, allowGroups, quiet, !quiet && System.console() != null && stderrIsTerminal(),
                    System.out, System.err);
        ConvertSettings conversion = conversion(main.env(), convert);
        Platform wanted = platform != null ? Platform.parse(platform) : Platform.host();
        RegistryConfig config = RegistryConfig.load(Dirs.userConfig(main.env()).resolve("config.toml"));
        Credentials creds = Credentials.fromEnv(main.env());
        var store = main.store();
        boolean tty = !quiet && System.console() != null && System.console().isTerminal() && stderrIsTerminal();
        try (RegistryClient client = RegistryClient.forPull(r.domain(), config, creds);
             PullProgress progress = tty ? new PullProgress(System.err, r.toString()) : null) {
            Puller.Listener listener = progress != null ? progress : new Puller.Listener() {
                @Override
                public void warning(String message) {
                    if (!quiet) Warnings.print(message);
                }
            };
            // The conversion overlaps the download: it starts once the layers are known, reading each as it arrives.
            // On a terminal its line waits until the download display is done (two displays would overwrite each other).
            ConvertProgress shown = ConvertProgress.install(r.toString(), quiet, progress != null);
            PullConversion overlap = conversion.format() == null ? null : new PullConversion(store, conversion, Warnings::print, listener);
            Puller.Result res;
            try {
                res = new Puller(store, client, overlap != null ? overlap : listener, PARALLEL).pull(r, wanted, platform != null);
            } catch (Throwable t) {
                if (overlap != null) overlap.abort(t);
                throw t;
            }
            if (progress != null) progress.finish();
            if (shown != null) shown.release();
            if (overlap != null) overlap.finish(res.manifest().digest());
            pinForJob(store, r);
            if (quiet) {
                System.out.println(res.repoDigest());
            } else {
                System.out.println("Pulled " + (r.digest() != null ? r.toString() : r + "@" + res.repoDigest()));
            }
        }
        return 0;
    }

    /** The conversion right after a pull or load: config.toml's [convert], with --convert (squashfs, dir, none) over it. */
    static ConvertSettings conversion(java.util.Map<String, String> env, String convert) {
        ConvertSettings s = ConvertSettings.load(env);
        if (convert == null) return s;
        return s.withFormat(switch (convert) {
            case "squashfs" -> Rootfs.Format.SQUASHFS;
            case "dir" -> Rootfs.Format.DIR;
            case "none" -> null;
            default -> throw new SkiffException(ExitCode.USAGE, "--convert must be squashfs, dir or none, not '" + convert + "'");
        });
    }

    /**
     * In a batch job, the pulled tag is what the job's runs use from now on (JobPins), even if another pull moves
     * the tag before the job's last step. A job that resolved the name earlier keeps its first resolution.
     */
    private void pinForJob(skiff.store.Store store, Reference r) throws java.io.IOException {
        if (r.digest() != null) return;
        var job = skiff.store.JobPins.job(main.env());
        if (job.isEmpty()) return;
        var now = store.resolve(r.toString());
        if (now.isEmpty()) return;
        var pinned = skiff.store.JobPins.pinIfAbsent(store, job.get(), r.toString(), now.get());
        if (!pinned.digest().equals(now.get().digest()) && !quiet)
            Warnings.print(r + " now points to " + now.get().digest() + ", but this job ("
                    + job.get() + ") keeps running " + pinned.digest() + ", which it resolved first; runs outside the job"
                    + " get the new one");
    }

    /** Console.isTerminal() looks at stdin/stdout; the progress goes to stderr, which may be redirected alone. */
    static boolean stderrIsTerminal() {
        try {
            String t = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/2")).toString();
            return t.startsWith("/dev/pts/") || t.startsWith("/dev/tty");
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
