package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.registry.Credentials;
import skiff.registry.RegistryClient;
import skiff.registry.RegistryConfig;
import skiff.util.Dirs;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.Console;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code skiff login}: checks credentials against the registry, then saves them (0600). */
@Command(name = "login", mixinStandardHelpOptions = true, description = {
        "Log in to a registry: the credentials are checked with the registry, then",
        "saved in ~/.config/skiff/auth.json (mode 0600, Docker's config.json format)."})
public final class LoginCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-u", "--username"}, paramLabel = "USER", description = "User name (asked for on a terminal if missing).")
    String user;

    @Option(names = "--password-stdin", description = "Read the password from standard input.")
    boolean passwordStdin;

    @Parameters(paramLabel = "REGISTRY", arity = "0..1", defaultValue = "docker.io",
            description = "Registry host[:port] (default: docker.io).")
    String registry;

    @Override
    public Integer call() throws Exception {
        String domain = registryHost(registry);
        Console console = System.console();
        boolean tty = console != null && console.isTerminal();
        if (user == null || user.isEmpty()) {
            if (!tty || passwordStdin)
                throw new SkiffException(ExitCode.USAGE, "no user name: give it with -u USER");
            user = console.readLine("Username: ");
            if (user == null || user.isBlank()) throw new SkiffException(ExitCode.USAGE, "no user name given");
            user = user.trim();
        }
        String password;
        if (passwordStdin) {
            password = new String(System.in.readNBytes(64 << 10), StandardCharsets.UTF_8);
            password = password.replaceAll("[\r\n]+$", "");
        } else if (tty) {
            char[] pw = console.readPassword("Password: ");
            password = pw == null ? "" : new String(pw);
        } else {
            throw new SkiffException(ExitCode.USAGE, "standard input is not a terminal: give the password with --password-stdin");
        }
        if (password.isEmpty()) throw new SkiffException(ExitCode.USAGE, "empty password");
        var up = new Credentials.UserPass(user, password);
        RegistryConfig config = RegistryConfig.load(Dirs.userConfig(main.env()).resolve("config.toml"));
        Credentials creds = Credentials.fromEnv(main.env());
        try (var client = new RegistryClient(domain, List.of(config.apiBase(domain)), creds, up, RegistryClient.RetryPolicy.DEFAULT)) {
            client.verifyLogin();
        }
        creds.store(domain, up);
        System.out.println("Login Succeeded (saved in " + creds.skiffAuthFile() + ")");
        return 0;
    }

    /** host[:port] from what users type: docker.io, https://index.docker.io/v1/, localhost:5000. */
    static String registryHost(String s) {
        String r = s.trim();
        int scheme = r.indexOf("://");
        if (scheme >= 0) r = r.substring(scheme + 3);
        int slash = r.indexOf('/');
        if (slash >= 0) r = r.substring(0, slash);
        if (r.isEmpty() || !r.matches("[A-Za-z0-9.-]+(:[0-9]+)?|\\[[0-9A-Fa-f:]+\\](:[0-9]+)?"))
            throw new SkiffException(ExitCode.USAGE, "invalid registry '" + s + "': expected HOST[:PORT], e.g. docker.io or localhost:5000");
        return RegistryConfig.normaliseHost(r);
    }
}
