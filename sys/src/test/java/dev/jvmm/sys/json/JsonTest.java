package dev.jvmm.sys.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesAndWritesRoundTrip() throws Exception {
        Object v = Json.parse("{\"a\": [1, -2, 3.5, true, false, null, \"x\\\"y\\u00e9\\n\"], \"b\": {}}");
        assertEquals(Map.of("a", java.util.Arrays.asList(1L, -2L, 3.5, true, false, null, "x\"y\u00e9\n"), "b", Map.of()), v);
        assertEquals(v, Json.parse(Json.write(v)));
    }

    @Test
    void rejectsWhatRfc8259Rejects() {
        for (String bad : List.of("", "{", "[1,]", "{\"a\":1,}", "01", "1.", "\"\\x\"", "{\"a\":1 \"b\":2}", "tru",
                "{\"a\":1,\"a\":2}", "[1] x", "\"tab\there\"")) {
            var e = assertThrows(Json.ParseException.class, () -> Json.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("line "), e.getMessage());
        }
    }
}
