package skiff.cli;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.image.MediaTypes;
import skiff.store.Store;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * skiff run's image lookup without Jackson: building the mapper and its record deserializers for index.json,
 * the manifest and the config cost 100-170 ms of a 0.6 s CLI start (SKIFF_TRACE=1), more than everything else
 * the command does. A small JSON reader covers the common case (a single-platform image whose documents have
 * the expected shapes); anything else returns null and the caller takes the Jackson path, so results never
 * differ. Blobs are read through {@link Store#readMetadataBlob}: same size limit and digest check.
 */
final class RunInputs {
    private RunInputs() {}

    /** @param indexed what index.json gives the name (null when resolved from a manifest digest) */
    record Resolved(Digest manifest, ImageConfig config, Descriptor indexed) {
        Resolved withIndexed(Descriptor d) {
            return new Resolved(manifest, config, d);
        }
    }

    private static final int MAX_INDEX = 16 << 20;

    /** The image named {@code refName}, or null: not found, or not a shape this reader handles. */
    static Resolved resolve(Store store, String refName) {
        try {
            var p = store.layout().resolve("index.json");
            if (Files.size(p) > MAX_INDEX) return null;
            Map<?, ?> index = (Map<?, ?>) new Reader(Files.readString(p, StandardCharsets.UTF_8)).document();
            Map<?, ?> hit = null;
            for (Object o : (List<?>) index.get("manifests")) {
                Map<?, ?> d = (Map<?, ?>) o;
                Object ann = d.get("annotations");
                if (ann instanceof Map<?, ?> a && refName.equals(a.get("org.opencontainers.image.ref.name"))) {
                    hit = d;
                    break;
                }
            }
            if (hit == null) return null;
            String mt = (String) hit.get("mediaType");
            if (!(MediaTypes.OCI_MANIFEST.equals(mt) || MediaTypes.DOCKER_MANIFEST.equals(mt))) return null;
            Digest digest = Digest.parse((String) hit.get("digest"));
            Resolved r = manifest(store, digest);
            return r == null ? null : r.withIndexed(Descriptor.of(mt, digest, ((Number) hit.get("size")).longValue()));
        } catch (Exception e) {
            return null; // any surprise: the Jackson path decides, and reports errors as it always did
        }
    }

    /** The image whose (single-platform) manifest is {@code md}, or null as {@link #resolve}. */
    static Resolved manifest(Store store, Digest md) {
        try {
            Map<?, ?> manifest = (Map<?, ?>) new Reader(utf8(store.readMetadataBlob(md))).document();
            Digest cd = Digest.parse((String) ((Map<?, ?>) manifest.get("config")).get("digest"));
            return config(md, store.readMetadataBlob(cd));
        } catch (Exception e) {
            return null; // any surprise: the Jackson path decides, and reports errors as it always did
        }
    }

    /** The image whose manifest is {@code md} and whose OCI config is {@code configJson}, or null as {@link #resolve}. */
    static Resolved config(Digest md, byte[] configJson) {
        try {
            Map<?, ?> c = (Map<?, ?>) new Reader(utf8(configJson)).document();
            Map<?, ?> x = (Map<?, ?>) c.get("config");
            ImageConfig.Config cfg = x == null ? null : new ImageConfig.Config(str(x, "User"), objMap(x, "ExposedPorts"),
                    strs(x, "Env"), strs(x, "Entrypoint"), strs(x, "Cmd"), objMap(x, "Volumes"), str(x, "WorkingDir"),
                    strMap(x, "Labels"), str(x, "StopSignal"));
            Map<?, ?> rf = (Map<?, ?>) c.get("rootfs");
            ImageConfig.RootFs rootfs = null;
            if (rf != null) {
                List<String> ids = strs(rf, "diff_ids");
                List<Digest> diffIds = null;
                if (ids != null) {
                    diffIds = new ArrayList<>();
                    for (String s : ids) diffIds.add(Digest.parse(s));
                }
                rootfs = new ImageConfig.RootFs(str(rf, "type"), diffIds);
            }
            // history is not used by run; Jackson would fill it, this reader leaves it out
            return new Resolved(md, new ImageConfig(str(c, "created"), str(c, "author"), str(c, "architecture"),
                    str(c, "os"), str(c, "variant"), cfg, rootfs, null), null);
        } catch (Exception e) {
            return null; // any surprise: the Jackson path decides, and reports errors as it always did
        }
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static String str(Map<?, ?> m, String k) {
        Object v = m.get(k);
        if (v == null || v instanceof String) return (String) v;
        throw new IllegalArgumentException(k);
    }

    private static List<String> strs(Map<?, ?> m, String k) {
        Object v = m.get(k);
        if (v == null) return null;
        List<String> out = new ArrayList<>();
        for (Object o : (List<?>) v) out.add((String) java.util.Objects.requireNonNull(o));
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> objMap(Map<?, ?> m, String k) {
        return (Map<String, Object>) m.get(k);
    }

    private static Map<String, String> strMap(Map<?, ?> m, String k) {
        Object v = m.get(k);
        if (v == null) return null;
        Map<String, String> out = new LinkedHashMap<>();
        for (var e : ((Map<?, ?>) v).entrySet()) out.put((String) e.getKey(), (String) java.util.Objects.requireNonNull(e.getValue()));
        return out;
    }

    /** RFC 8259 JSON to Map/List/String/Double/Boolean/null; throws on anything malformed. */
    static final class Reader {
        private final String s;
        private int i;
        private int depth;

        Reader(String s) {
            this.s = s;
        }

        Object document() {
            Object v = value();
            ws();
            if (i != s.length()) throw new IllegalArgumentException("trailing data");
            return v;
        }

        private void ws() {
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n' || s.charAt(i) == '\r' || s.charAt(i) == '\t')) i++;
        }

        private Object value() {
            ws();
            if (i >= s.length()) throw new IllegalArgumentException("end of input");
            char c = s.charAt(i);
            if (c == '{' || c == '[') {
                if (++depth > 64) throw new IllegalArgumentException("too deep");
                Object r = c == '{' ? object() : array();
                depth--;
                return r;
            }
            if (c == '"') return string();
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            if (start == i) throw new IllegalArgumentException("unexpected " + c);
            return Double.parseDouble(s.substring(start, i));
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            ws();
            if (peek() == '}') { i++; return m; }
            while (true) {
                ws();
                if (peek() != '"') throw new IllegalArgumentException("expected a key");
                String k = string();
                ws();
                expect(':');
                m.put(k, value());
                ws();
                char c = next();
                if (c == '}') return m;
                if (c != ',') throw new IllegalArgumentException("expected , or }");
            }
        }

        private List<Object> array() {
            List<Object> l = new ArrayList<>();
            i++;
            ws();
            if (peek() == ']') { i++; return l; }
            while (true) {
                l.add(value());
                ws();
                char c = next();
                if (c == ']') return l;
                if (c != ',') throw new IllegalArgumentException("expected , or ]");
            }
        }

        private String string() {
            i++;
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') return b.toString();
                if (c < 0x20) throw new IllegalArgumentException("control character in a string");
                if (c != '\\') { b.append(c); continue; }
                char e = next();
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (i + 4 > s.length()) throw new IllegalArgumentException("bad escape");
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> throw new IllegalArgumentException("bad escape");
                }
            }
        }

        private char peek() {
            if (i >= s.length()) throw new IllegalArgumentException("end of input");
            return s.charAt(i);
        }

        private char next() {
            char c = peek();
            i++;
            return c;
        }

        private void expect(char c) {
            if (next() != c) throw new IllegalArgumentException("expected " + c);
        }
    }
}
