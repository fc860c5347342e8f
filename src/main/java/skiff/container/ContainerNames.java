package skiff.container;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.security.SecureRandom;
import java.util.List;
import java.util.regex.Pattern;

/** Container names: what is allowed (they become directory names) and generated ones. */
public final class ContainerNames {
    private ContainerNames() {}

    /** Docker's rule; the first character cannot be '.', so names never collide with the hidden work dirs. */
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]*");
    /** Stays well below NAME_MAX (255) with room for the ".tmp-"/".trash-" prefixes and suffixes. */
    public static final int MAX_LENGTH = 128;

    private static final List<String> ADJECTIVES = List.of("agile", "bold", "brave", "calm", "clever", "eager",
            "fair", "fast", "gentle", "happy", "keen", "kind", "lucid", "merry", "nimble", "noble", "quiet", "rapid",
            "sharp", "steady", "swift", "tidy", "vivid", "wise", "witty", "zesty");
    private static final List<String> NOUNS = List.of("albatross", "badger", "beaver", "condor", "dolphin", "falcon",
            "gannet", "heron", "ibis", "jaguar", "kestrel", "lemur", "marten", "narwhal", "ocelot", "otter", "pelican",
            "puffin", "quokka", "raven", "salmon", "tern", "urchin", "walrus", "yak", "zebra");
    private static final SecureRandom RANDOM = new SecureRandom();

    public static boolean isValid(String name) {
        return name != null && name.length() <= MAX_LENGTH && NAME.matcher(name).matches();
    }

    /** Returns {@code name} or throws a usage error that says what a name may contain. */
    public static String check(String name) {
        if (!isValid(name))
            throw new SkiffException(ExitCode.USAGE, "invalid container name '" + name + "': use 1-" + MAX_LENGTH
                    + " letters, digits, '_', '.', '-', starting with a letter or digit (e.g. my_box-1)");
        return name;
    }

    /** adjective_noun, then adjective_noun_N when taken: {@code taken} says whether a candidate exists. */
    public static String generate(java.util.function.Predicate<String> taken) {
        for (int attempt = 0; attempt < 100; attempt++) {
            String base = ADJECTIVES.get(RANDOM.nextInt(ADJECTIVES.size())) + "_" + NOUNS.get(RANDOM.nextInt(NOUNS.size()));
            String candidate = attempt < 20 ? base : base + "_" + (attempt);
            if (!taken.test(candidate)) return candidate;
        }
        throw new SkiffException(ExitCode.STORAGE, "could not find a free container name; give one with --name");
    }

    /** 64 random hex digits. */
    public static String newId() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return java.util.HexFormat.of().formatHex(b);
    }
}
