package skiff.policy.hooks;

import skiff.spec.Hooks;

import java.util.ArrayList;
import java.util.List;

/** runtime-spec's hook stages, by their config.json names. */
public enum Stage {
    PRESTART("prestart"),
    CREATE_RUNTIME("createRuntime"),
    CREATE_CONTAINER("createContainer"),
    START_CONTAINER("startContainer"),
    POSTSTART("poststart"),
    POSTSTOP("poststop");

    public final String specName;

    Stage(String specName) {
        this.specName = specName;
    }

    public static Stage of(String name) {
        for (Stage s : values()) if (s.specName.equals(name)) return s;
        return null;
    }

    public List<Hooks.Hook> of(Hooks h) {
        if (h == null) return List.of();
        List<Hooks.Hook> l = switch (this) {
            case PRESTART -> h.prestart();
            case CREATE_RUNTIME -> h.createRuntime();
            case CREATE_CONTAINER -> h.createContainer();
            case START_CONTAINER -> h.startContainer();
            case POSTSTART -> h.poststart();
            case POSTSTOP -> h.poststop();
        };
        return l == null ? List.of() : l;
    }

    /** {@code h} with {@code hook} appended to this stage. */
    public Hooks plus(Hooks h, Hooks.Hook hook) {
        if (h == null) h = Hooks.NONE;
        List<Hooks.Hook> l = new ArrayList<>(of(h));
        l.add(hook);
        return switch (this) {
            case PRESTART -> new Hooks(l, h.createRuntime(), h.createContainer(), h.startContainer(), h.poststart(), h.poststop());
            case CREATE_RUNTIME -> new Hooks(h.prestart(), l, h.createContainer(), h.startContainer(), h.poststart(), h.poststop());
            case CREATE_CONTAINER -> new Hooks(h.prestart(), h.createRuntime(), l, h.startContainer(), h.poststart(), h.poststop());
            case START_CONTAINER -> new Hooks(h.prestart(), h.createRuntime(), h.createContainer(), l, h.poststart(), h.poststop());
            case POSTSTART -> new Hooks(h.prestart(), h.createRuntime(), h.createContainer(), h.startContainer(), l, h.poststop());
            case POSTSTOP -> new Hooks(h.prestart(), h.createRuntime(), h.createContainer(), h.startContainer(), h.poststart(), l);
        };
    }
}
