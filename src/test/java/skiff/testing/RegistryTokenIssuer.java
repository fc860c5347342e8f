package skiff.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A token service for docker-registry's {@code auth: token}: checks Basic credentials of one user and
 * answers with a JWT signed RS256 by a key made with openssl, its self-signed certificate in the
 * {@code x5c} header (the registry checks it against {@code rootcertbundle}). Anonymous requests get a
 * token without access; wrong credentials get 401.
 */
public final class RegistryTokenIssuer implements AutoCloseable {
    public static final String SERVICE = "skiff-test-registry";
    public static final String ISSUER = "skiff-test-issuer";

    /** One token request as received: the scopes asked for, and the user (null if anonymous). */
    public record Request(String user, List<String> scopes, boolean granted) {}

    private final HttpServer server;
    private final Path cert;
    private final PrivateKey key;
    private final String x5c;
    private final String user;
    private final String password;
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    public RegistryTokenIssuer(Path dir, String user, String password) {
        this.user = user;
        this.password = password;
        try {
            Files.createDirectories(dir);
            Path keyFile = dir.resolve("token.key");
            cert = dir.resolve("token.crt");
            Cmd.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile.toString(), "-out", cert.toString(),
                    "-days", "2", "-subj", "/CN=skiff-test-token").run().ok();
            String pem = Files.readString(keyFile).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
            X509Certificate c;
            try (var in = Files.newInputStream(cert)) {
                c = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            }
            x5c = Base64.getEncoder().encodeToString(c.getEncoded());
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
            server.createContext("/token", this::handle);
            server.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public String realm() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    public Path certificate() {
        return cert;
    }

    public List<Request> requests() {
        return requests;
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String q = ex.getRequestURI().getRawQuery();
            List<String> scopes = new ArrayList<>();
            if (q != null) {
                for (String kv : q.split("&")) {
                    int eq = kv.indexOf('=');
                    if (eq > 0 && kv.substring(0, eq).equals("scope"))
                        scopes.add(URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
            String who = null;
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth != null && auth.startsWith("Basic ")) {
                String up = new String(Base64.getDecoder().decode(auth.substring(6)), StandardCharsets.UTF_8);
                if (!up.equals(user + ":" + password)) {
                    requests.add(new Request(up.split(":")[0], scopes, false));
                    byte[] body = "{\"details\":\"incorrect username or password\"}".getBytes(StandardCharsets.UTF_8);
                    ex.sendResponseHeaders(401, body.length);
                    ex.getResponseBody().write(body);
                    return;
                }
                who = user;
            }
            requests.add(new Request(who, scopes, who != null));
            StringBuilder access = new StringBuilder();
            if (who != null) {
                for (String s : scopes) {
                    String[] p = s.split(":");
                    if (p.length < 3) continue;
                    if (!access.isEmpty()) access.append(',');
                    String actions = String.join("\",\"", p[p.length - 1].split(","));
                    String name = s.substring(p[0].length() + 1, s.length() - p[p.length - 1].length() - 1);
                    access.append("{\"type\":\"").append(p[0]).append("\",\"name\":\"").append(name)
                            .append("\",\"actions\":[\"").append(actions).append("\"]}");
                }
            }
            long now = System.currentTimeMillis() / 1000;
            String header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5c\":[\"" + x5c + "\"]}";
            String claims = "{\"iss\":\"" + ISSUER + "\",\"sub\":\"" + (who == null ? "" : who) + "\",\"aud\":\"" + SERVICE
                    + "\",\"exp\":" + (now + 300) + ",\"nbf\":" + (now - 10) + ",\"iat\":" + now + ",\"jti\":\"" + UUID.randomUUID()
                    + "\",\"access\":[" + access + "]}";
            String signingInput = b64(header.getBytes(StandardCharsets.UTF_8)) + "." + b64(claims.getBytes(StandardCharsets.UTF_8));
            Signature sig = Signature.getInstance("SHA256withRSA");
            sig.initSign(key);
            sig.update(signingInput.getBytes(StandardCharsets.US_ASCII));
            String jwt = signingInput + "." + b64(sig.sign());
            byte[] body = ("{\"token\":\"" + jwt + "\",\"expires_in\":300}").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static String b64(byte[] b) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
