package skiff.policy.site;

import java.util.regex.Pattern;

/** Path-style globs: '*' and '?' stay within one '/'-separated segment, '**' crosses segments. */
public final class Glob {
    private Glob() {}

    public static Pattern compile(String glob) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '*' && i + 1 < glob.length() && glob.charAt(i + 1) == '*') {
                re.append(".*");
                i++;
            } else if (c == '*') {
                re.append("[^/]*");
            } else if (c == '?') {
                re.append("[^/]");
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString());
    }

    public static boolean matches(String glob, String s) {
        return compile(glob).matcher(s).matches();
    }
}
