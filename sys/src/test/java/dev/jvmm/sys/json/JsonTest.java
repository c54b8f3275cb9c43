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

    /**
     * Only ASCII digits make a number, and only four ASCII hex digits a \\u escape. Found by ConfigFuzzTest: "2e9"
     * followed by an Arabic-Indic digit threw an unchecked NumberFormatException out of the parser (Character.isDigit
     * took the digit, Double.parseDouble did not), and "1" followed by one was read as 11; "\\u+041" was read as "A".
     */
    @Test
    void numbersAndEscapesAreAsciiOnly() throws Exception {
        for (String bad : List.of("2e9\u0664", "1\u0661", "-\u0661", "\u0661", "1.\u0661", "[1.5e\uff11]",
                "\"\\u+041\"", "\"\\u-001\"", "\"\\u00\u0661\u0662\"", "\"\\u 123\"")) {
            var e = assertThrows(Json.ParseException.class, () -> Json.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("line "), e.getMessage());
        }
        assertEquals(2e9, Json.parse("2e9"));
        assertEquals("A\u00e9\uABCD", Json.parse("\"\\u0041\\u00E9\\uabcd\""));
    }
}
