package skiff.registry;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One {@code WWW-Authenticate} challenge (RFC 7235): a scheme ("bearer" or "basic", lowercased) and its
 * parameters, e.g. {@code Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"}.
 */
public record Challenge(String scheme, Map<String, String> params) {

    public String param(String name) {
        return params.get(name);
    }

    /** The first bearer challenge of the headers, else the first basic one, else null. */
    public static Challenge pick(List<String> headers) {
        Challenge basic = null;
        for (String h : headers) {
            Challenge c = parse(h);
            if (c == null) continue;
            if (c.scheme.equals("bearer")) return c;
            if (c.scheme.equals("basic") && basic == null) basic = c;
        }
        return basic;
    }

    /** Parses one header value's first challenge; null if it is not understood. */
    public static Challenge parse(String header) {
        if (header == null) return null;
        String s = header.trim();
        int sp = 0;
        while (sp < s.length() && !Character.isWhitespace(s.charAt(sp))) sp++;
        String scheme = s.substring(0, sp).toLowerCase(Locale.ROOT);
        if (scheme.isEmpty()) return null;
        Map<String, String> params = new LinkedHashMap<>();
        int i = sp;
        int n = s.length();
        while (i < n) {
            while (i < n && (Character.isWhitespace(s.charAt(i)) || s.charAt(i) == ',')) i++;
            int eq = s.indexOf('=', i);
            if (eq < 0) break;
            String key = s.substring(i, eq).trim().toLowerCase(Locale.ROOT);
            i = eq + 1;
            StringBuilder v = new StringBuilder();
            if (i < n && s.charAt(i) == '"') {
                i++;
                while (i < n && s.charAt(i) != '"') {
                    if (s.charAt(i) == '\\' && i + 1 < n) i++;
                    v.append(s.charAt(i++));
                }
                i++;
            } else {
                while (i < n && s.charAt(i) != ',') v.append(s.charAt(i++));
            }
            if (!key.isEmpty() && !key.contains(" ")) params.put(key, v.toString().trim());
        }
        return new Challenge(scheme, params);
    }
}
