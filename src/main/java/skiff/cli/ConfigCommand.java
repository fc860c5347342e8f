package skiff.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import skiff.policy.Policy;
import skiff.policy.site.ConfigLoader;
import skiff.util.Json;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code skiff config show}: the effective policy configuration and where each value came from. */
@Command(name = "config", mixinStandardHelpOptions = true, description = "Show skiff's effective configuration.",
        subcommands = ConfigCommand.Show.class)
public final class ConfigCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Print every effective setting with its source (a file, or 'default').")
    static final class Show implements Callable<Integer> {
        @ParentCommand
        ConfigCommand parent;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            Policy p = Policy.load(parent.main.env());
            ConfigLoader.Loaded c = p.config();
            PrintWriter out = spec.commandLine().getOut();
            out.println("# site directory: " + c.siteDir());
            out.println("# files read: " + (c.files().isEmpty() ? "none" : String.join(", ", c.files().stream().map(Object::toString).toList())));
            print(out, c, "", Json.MAPPER.valueToTree(c.site()));
            print(out, c, "user.", Json.MAPPER.valueToTree(c.user()));
            out.flush();
            return 0;
        }

        private static void print(PrintWriter out, ConfigLoader.Loaded c, String prefix, JsonNode tree) {
            for (Map.Entry<String, JsonNode> e : skiff.policy.site.TomlTree.flatten(tree).entrySet()) {
                String key = prefix + e.getKey();
                out.println(key + " = " + e.getValue() + "    # " + c.source(key));
            }
        }
    }
}
