package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import skiff.policy.Policy;
import skiff.policy.site.SiteConfig;

import java.io.PrintWriter;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code skiff modules}: the site's modules, whether each is on by default, and what it adds. */
@Command(name = "modules", mixinStandardHelpOptions = true, description = "List the site's modules (enable one with 'skiff run --module NAME').")
public final class ModulesCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Policy p = Policy.load(main.env());
        PrintWriter out = spec.commandLine().getOut();
        Map<String, SiteConfig.Module> modules = new TreeMap<>(p.site().modules());
        if (modules.isEmpty()) {
            out.println("This site defines no modules (they are [modules.NAME] tables in " + p.config().siteDir().resolve("site.toml") + ").");
            out.flush();
            return 0;
        }
        out.printf("%-20s %-8s %s%n", "NAME", "DEFAULT", "DESCRIPTION");
        modules.forEach((name, m) -> {
            out.printf("%-20s %-8s %s%n", name, m.isDefault() ? "yes" : "no", m.description());
            for (String line : Policy.describe(m)) out.println("    " + line);
        });
        out.flush();
        return 0;
    }
}
