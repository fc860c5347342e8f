package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import skiff.container.Doctor;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "doctor", mixinStandardHelpOptions = true, description = {"Check what this host offers for unprivileged containers and say what to do about each gap.",
        "One line per check: ok|warn|FAIL, name, detail — fix. Exits 7 when a required check fails."})
public final class DoctorCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--format", paramLabel = "FORMAT", description = "table (default) or json.")
    String format = "table";

    @Override
    public Integer call() {
        if (!format.equals("table") && !format.equals("json"))
            throw new SkiffException(ExitCode.USAGE, "unknown --format '" + format + "': use table or json");
        String mounter;
        try {
            mounter = skiff.policy.Policy.load(main.env()).squashfsMounter();
        } catch (SkiffException e) {
            mounter = "skiff"; // an unreadable configuration is not doctor's subject; run and config report it
        }
        var checks = Doctor.run(main.storageDir(), main.env(), mounter);
        boolean pass = Doctor.allRequiredPass(checks);
        if (format.equals("json")) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("ok", pass);
            doc.put("checks", checks.stream().map(c -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", c.name());
                m.put("status", c.status().name().toLowerCase());
                m.put("required", c.required());
                m.put("detail", c.detail());
                if (!c.fix().isEmpty()) m.put("fix", c.fix());
                return m;
            }).toList());
            System.out.println(Json.pretty(doc));
        } else {
            for (var c : checks) {
                String status = switch (c.status()) {
                    case OK -> "ok";
                    case WARN -> "warn";
                    case FAIL -> "FAIL";
                };
                System.out.printf("%-4s  %-20s %s%s%n", status, c.name(), c.detail(), c.fix().isEmpty() ? "" : " — " + c.fix());
            }
            System.out.println(pass ? "all required checks pass" : "some required checks fail: skiff cannot run containers here until they are fixed");
        }
        return pass ? 0 : ExitCode.HOST.code;
    }
}
