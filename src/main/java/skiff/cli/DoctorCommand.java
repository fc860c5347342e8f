package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import skiff.container.Doctor;
import skiff.engine.Identity;
import skiff.engine.Launcher;
import skiff.engine.RuntimeDir;
import skiff.engine.Userns;
import skiff.policy.Policy;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.nio.file.Path;
import java.util.ArrayList;
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

    /** Which engine skiff run will use (without --engine) and why: what Launcher decides for a run. */
    private Doctor.Check engineCheck(String engine, String source) {
        try {
            Launcher.Choice c = Launcher.choose(engine, source, RuntimeDir.resolve(main.env(), Identity.current(main.env()).uid()));
            if (c.launcher() == Launcher.NATIVE) return new Doctor.Check("engine", Doctor.Status.OK, true, "native: " + c.why(), "");
            String fix = !c.fellBack() ? "" : Userns.apparmorRestricts(Path.of("/proc"))
                    ? "for native speed, administrators can allow user namespaces for unshare with the AppArmor profile in docs/apparmor-skiff.md"
                    : "for native speed, ask the administrators to allow unprivileged user namespaces (see the userns checks)";
            return new Doctor.Check("engine", c.fellBack() ? Doctor.Status.WARN : Doctor.Status.OK, true,
                    "proot: " + c.why() + " (system calls are traced: slower than native)", fix);
        } catch (SkiffException e) {
            return new Doctor.Check("engine", Doctor.Status.FAIL, true, e.getMessage(), "see the checks above");
        }
    }

    @Override
    public Integer call() {
        if (!format.equals("table") && !format.equals("json"))
            throw new SkiffException(ExitCode.USAGE, "unknown --format '" + format + "': use table or json");
        String mounter, engine, engineSource;
        try {
            Policy policy = Policy.load(main.env());
            mounter = policy.squashfsMounter();
            engine = policy.engine();
            engineSource = policy.engineSource();
        } catch (SkiffException e) {
            // an unreadable configuration is not doctor's subject; run and config report it
            mounter = "skiff";
            engine = null;
            engineSource = "[run] engine";
        }
        var checks = new ArrayList<>(Doctor.run(main.storageDir(), main.env(), mounter, engine == null ? Launcher.AUTO : engine));
        checks.add(engineCheck(engine, engineSource));
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
