package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.registry.Credentials;

import java.util.concurrent.Callable;

/** {@code skiff logout}: forgets skiff's saved credentials for a registry (Docker's file is left alone). */
@Command(name = "logout", mixinStandardHelpOptions = true, description = "Remove the credentials 'skiff login' saved for a registry.")
public final class LogoutCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(paramLabel = "REGISTRY", arity = "0..1", defaultValue = "docker.io",
            description = "Registry host[:port] (default: docker.io).")
    String registry;

    @Override
    public Integer call() throws Exception {
        String domain = LoginCommand.registryHost(registry);
        Credentials creds = Credentials.fromEnv(main.env());
        if (creds.remove(domain)) System.out.println("Removed login credentials for " + domain);
        else System.out.println("Not logged in to " + domain);
        return 0;
    }
}
