package skiff.container;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.security.SecureRandom;
import java.util.List;

/** Container names: what is allowed (they become directory names) and generated ones. */
public final class ContainerNames {
    private ContainerNames() {}


    /** Stays well below NAME_MAX (255) with room for the ".tmp-"/".trash-" prefixes and suffixes. */
    public static final int MAX_LENGTH = 128;

    private static final List<String> ADJECTIVES = List.of("agile", "bold", "brave", "calm", "clever", "eager",
            "fair", "fast", "gentle", "happy", "keen", "kind", "lucid", "merry", "nimble", "noble", "quiet", "rapid",
            "sharp", "steady", "swift", "tidy", "vivid", "wise", "witty", "zesty");
    private static final List<String> NOUNS = List.of("albatross", "badger", "beaver", "condor", "dolphin", "falcon",
            "gannet", "heron", "ibis", "jaguar", "kestrel", "lemur", "marten", "narwhal", "ocelot", "otter", "pelican",
            "puffin", "quokka", "raven", "salmon", "tern", "urchin", "walrus", "yak", "zebra");
    /**
     * Created on first use: every skiff run asks whether its IMAGE names a container, and seeding a SecureRandom
     * there cost ~10 ms of each start.
     */
    private static final class Random {
        static final SecureRandom RANDOM = new SecureRandom();
    }

    /**
     * Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]*: the first character cannot be '.', so names never collide with the
     * hidden work dirs. (A loop, not a regex: this is on skiff run's path.)
     */
    public static boolean isValid(String name) {
        if (name == null || name.isEmpty() || name.length() > MAX_LENGTH) return false;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean alnum = c < 128 && Character.isLetterOrDigit(c);
            if (!(alnum || (i > 0 && (c == '_' || c == '.' || c == '-')))) return false;
        }
        return true;
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
            String base = ADJECTIVES.get(Random.RANDOM.nextInt(ADJECTIVES.size())) + "_" + NOUNS.get(Random.RANDOM.nextInt(NOUNS.size()));
            String candidate = attempt < 20 ? base : base + "_" + (attempt);
            if (!taken.test(candidate)) return candidate;
        }
        throw new SkiffException(ExitCode.STORAGE, "could not find a free container name; give one with --name");
    }

    /** 64 random hex digits. */
    public static String newId() {
        byte[] b = new byte[32];
        Random.RANDOM.nextBytes(b);
        return java.util.HexFormat.of().formatHex(b);
    }
}
