package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import skiff.util.Json;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The OpenAPI document the gateway serves describes every route it serves, and nothing it does not. */
class ApiRoutesTest {
    @Test
    void everyRouteIsInTheOpenApiDocumentAndEveryDocumentedRouteIsServed() throws IOException {
        JsonNode doc;
        try (InputStream in = Api.class.getResourceAsStream("openapi.json")) {
            doc = Json.MAPPER.readTree(in);
        }
        assertTrue(doc.get("openapi").asText().startsWith("3."));
        List<String> missing = new ArrayList<>();
        for (Api.Route r : Api.ROUTES) {
            JsonNode p = doc.get("paths").get(r.template());
            if (p == null || p.get(r.method().toLowerCase()) == null) missing.add(r.method() + " " + r.template());
        }
        assertEquals(List.of(), missing, "served but not documented");
        List<String> extra = new ArrayList<>();
        doc.get("paths").properties().forEach(e -> e.getValue().properties().forEach(m -> {
            if (Api.ROUTES.stream().noneMatch(r -> r.template().equals(e.getKey()) && r.method().equalsIgnoreCase(m.getKey())))
                extra.add(m.getKey() + " " + e.getKey());
        }));
        assertEquals(List.of(), extra, "documented but not served");
    }
}
