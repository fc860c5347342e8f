package skiff.util;

import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tree of records, lists, string-keyed maps, strings, paths, booleans and integers as a flat list of strings, and back.
 * For values parsed once with Jackson (a site.toml, a hooks.d file) that a later process must read without loading
 * Jackson: the warm path of skiff run (cli.RunRecord) keeps the parsed policy this way. The reader is given the type,
 * so the text carries no class names: it can only build the records the caller asks for.
 *
 * <p>Each value is one tagged string ("-" null, "s" string, "p" path, "b" boolean, "i" int, "l" long), or a header followed
 * by its parts ("L" + size for a list, "M" + size for a map, then key and value per entry, "R" for a record, then
 * its components in declaration order). NUL is not in any string (the caller's framing uses it).
 */
public final class RecordText {
    private RecordText() {}

    public static void write(Object v, List<String> out) {
        switch (v) {
            case null -> out.add("-");
            case String s -> out.add("s" + s);
            case Boolean b -> out.add(b ? "b1" : "b0");
            case Integer i -> out.add("i" + i);
            case Long l -> out.add("l" + l);
            case java.nio.file.Path p -> out.add("p" + p);
            case List<?> list -> {
                out.add("L" + list.size());
                for (Object o : list) write(o, out);
            }
            case Map<?, ?> map -> {
                out.add("M" + map.size());
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    out.add((String) e.getKey());
                    write(e.getValue(), out);
                }
            }
            case Record r -> {
                out.add("R");
                // The fields, not the accessors: an accessor may put a default in place of null (SiteConfig's do),
                // and the record read back must be equal to this one.
                for (RecordComponent c : r.getClass().getRecordComponents()) {
                    try {
                        java.lang.reflect.Field f = r.getClass().getDeclaredField(c.getName());
                        f.setAccessible(true);
                        write(f.get(r), out);
                    } catch (ReflectiveOperationException | RuntimeException e) {
                        throw new IllegalArgumentException("cannot read " + c + ": " + e, e);
                    }
                }
            }
            default -> throw new IllegalArgumentException("cannot write a " + v.getClass().getName());
        }
    }

    /** The value of {@code type} written at {@code in}; IllegalArgumentException (or NoSuchElementException) when it is not one. */
    public static Object read(Iterator<String> in, Type type) {
        String t = in.next();
        if (t.equals("-")) return null;
        Class<?> raw = type instanceof ParameterizedType p ? (Class<?>) p.getRawType() : (Class<?>) type;
        char tag = t.isEmpty() ? '?' : t.charAt(0);
        String rest = t.substring(Math.min(1, t.length()));
        if (raw == String.class && tag == 's') return rest;
        if ((raw == Boolean.class || raw == boolean.class) && tag == 'b') return rest.equals("1");
        if ((raw == Integer.class || raw == int.class) && tag == 'i') return Integer.valueOf(rest);
        if ((raw == Long.class || raw == long.class) && tag == 'l') return Long.valueOf(rest);
        if (raw == java.nio.file.Path.class && tag == 'p') return java.nio.file.Path.of(rest);
        if (raw == List.class && tag == 'L') {
            Type item = ((ParameterizedType) type).getActualTypeArguments()[0];
            int n = Integer.parseInt(rest);
            List<Object> l = new ArrayList<>(n);
            for (int i = 0; i < n; i++) l.add(read(in, item));
            return Collections.unmodifiableList(l);
        }
        if (raw == Map.class && tag == 'M') {
            Type[] kv = ((ParameterizedType) type).getActualTypeArguments();
            if (kv[0] != String.class) throw new IllegalArgumentException("map keys must be strings: " + type);
            int n = Integer.parseInt(rest);
            Map<String, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                String k = in.next();
                m.put(k, read(in, kv[1]));
            }
            return Collections.unmodifiableMap(m);
        }
        if (raw.isRecord() && tag == 'R') {
            RecordComponent[] cs = raw.getRecordComponents();
            Class<?>[] types = new Class<?>[cs.length];
            Object[] args = new Object[cs.length];
            for (int i = 0; i < cs.length; i++) {
                types[i] = cs[i].getType();
                args[i] = read(in, cs[i].getGenericType());
            }
            try {
                Constructor<?> k = raw.getDeclaredConstructor(types);
                return k.newInstance(args);
            } catch (ReflectiveOperationException e) {
                throw new IllegalArgumentException("cannot build a " + raw.getName() + ": " + e, e);
            }
        }
        throw new IllegalArgumentException("'" + (t.length() > 40 ? t.substring(0, 40) + "..." : t) + "' is not a " + type.getTypeName());
    }
}
