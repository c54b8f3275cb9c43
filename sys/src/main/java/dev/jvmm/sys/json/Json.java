package dev.jvmm.sys.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * jvmm's one JSON reader and writer (RFC 8259), used for VM config files, SR-IOV spec and state files and the
 * probe report. Reading is strict: objects become {@code LinkedHashMap} (duplicate keys are errors), arrays
 * {@code List}, numbers {@code Long} or {@code Double}, plus {@code String}, {@code Boolean} and {@code null};
 * trailing commas, comments and trailing garbage are errors, reported with line and column so that callers can
 * name the offending field. Hand-written rather than a library: the documents are small, and a dependency would
 * add class-loading time to every launch for no gain.
 */
public final class Json {
    /** A syntax error with its position. */
    public static final class ParseException extends Exception {
        public ParseException(String message) {
            super(message);
        }
    }

    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    public static Object parse(String text) throws ParseException {
        Json p = new Json(text);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.i != text.length()) {
            throw p.err("unexpected " + p.describe() + " after the top-level value");
        }
        return v;
    }

    private ParseException err(String msg) {
        int line = 1;
        int col = 1;
        for (int k = 0; k < i && k < s.length(); k++) {
            if (s.charAt(k) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new ParseException("line " + line + ", column " + col + ": " + msg);
    }

    private String describe() {
        return i >= s.length() ? "end of input" : "'" + s.charAt(i) + "'";
    }

    private void ws() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                i++;
            } else {
                break;
            }
        }
    }

    private Object value(int depth) throws ParseException {
        if (depth > 64) {
            throw err("nesting deeper than 64 levels");
        }
        if (i >= s.length()) {
            throw err("unexpected end of input, expected a value");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{':
                return object(depth);
            case '[':
                return array(depth);
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw err("unexpected " + describe() + ", expected a value");
        }
    }

    private Object literal(String word, Object v) throws ParseException {
        if (!s.startsWith(word, i)) {
            throw err("unexpected " + describe() + ", expected a value");
        }
        i += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) throws ParseException {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        ws();
        if (i < s.length() && s.charAt(i) == '}') {
            i++;
            return m;
        }
        while (true) {
            ws();
            if (i >= s.length() || s.charAt(i) != '"') {
                throw err("expected a field name in double quotes, got " + describe());
            }
            int keyAt = i;
            String k = string();
            ws();
            expect(':');
            ws();
            Object v = value(depth + 1);
            if (m.containsKey(k)) {
                i = keyAt;
                throw err("duplicate field \"" + k + "\"");
            }
            m.put(k, v);
            ws();
            if (i < s.length() && s.charAt(i) == ',') {
                i++;
                continue;
            }
            expect('}');
            return m;
        }
    }

    private List<Object> array(int depth) throws ParseException {
        List<Object> l = new ArrayList<>();
        i++;
        ws();
        if (i < s.length() && s.charAt(i) == ']') {
            i++;
            return l;
        }
        while (true) {
            ws();
            l.add(value(depth + 1));
            ws();
            if (i < s.length() && s.charAt(i) == ',') {
                i++;
                continue;
            }
            expect(']');
            return l;
        }
    }

    private void expect(char c) throws ParseException {
        if (i >= s.length() || s.charAt(i) != c) {
            throw err("expected '" + c + "', got " + describe());
        }
        i++;
    }

    private String string() throws ParseException {
        StringBuilder b = new StringBuilder();
        i++;
        while (true) {
            if (i >= s.length()) {
                throw err("unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                i--;
                throw err("control character in string (escape it)");
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (i >= s.length()) {
                throw err("unterminated string");
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    if (i + 4 > s.length()) {
                        throw err("short \\u escape");
                    }
                    int u = 0;
                    for (int k = i; k < i + 4; k++) { // four hex digits, no sign (Integer.parseInt would take one)
                        int h = hex(s.charAt(k));
                        if (h < 0) {
                            throw err("bad \\u escape");
                        }
                        u = u << 4 | h;
                    }
                    b.append((char) u);
                    i += 4;
                }
                default -> {
                    i--;
                    throw err("bad escape \\" + e);
                }
            }
        }
    }

    private Object number() throws ParseException {
        int start = i;
        if (s.charAt(i) == '-') {
            i++;
        }
        if (i < s.length() && s.charAt(i) == '0') {
            i++;
        } else if (i < s.length() && digit(s.charAt(i))) {
            while (i < s.length() && digit(s.charAt(i))) {
                i++;
            }
        } else {
            throw err("bad number");
        }
        boolean frac = false;
        if (i < s.length() && s.charAt(i) == '.') {
            frac = true;
            i++;
            int d = i;
            while (i < s.length() && digit(s.charAt(i))) {
                i++;
            }
            if (d == i) {
                throw err("bad number: digits expected after '.'");
            }
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            frac = true;
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            int d = i;
            while (i < s.length() && digit(s.charAt(i))) {
                i++;
            }
            if (d == i) {
                throw err("bad number: digits expected in the exponent");
            }
        }
        String t = s.substring(start, i);
        if (frac) {
            return Double.parseDouble(t);
        }
        try {
            return Long.parseLong(t);
        } catch (NumberFormatException x) {
            return Double.parseDouble(t);
        }
    }

    /**
     * An ASCII digit: the only digits of a JSON number (RFC 8259). {@link Character#isDigit} also takes other
     * scripts' digits, which {@link Long#parseLong} reads as numbers and {@link Double#parseDouble} refuses with an
     * unchecked NumberFormatException.
     */
    private static boolean digit(char c) {
        return c >= '0' && c <= '9';
    }

    /** The value of an ASCII hex digit, or -1. */
    private static int hex(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : -1;
    }

    /** Pretty-printed JSON of maps, lists, strings, numbers, booleans and null. */
    public static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, "");
        return b.append('\n').toString();
    }

    private static void write(StringBuilder b, Object v, String ind) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof String str) {
            quote(b, str);
        } else if (v instanceof Double d && (d.isNaN() || d.isInfinite())) {
            b.append("null");
        } else if (v instanceof Number || v instanceof Boolean) {
            b.append(v);
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                b.append("{}");
                return;
            }
            b.append("{\n");
            int n = 0;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(ind).append("  ");
                quote(b, String.valueOf(e.getKey()));
                b.append(": ");
                write(b, e.getValue(), ind + "  ");
                b.append(++n < m.size() ? ",\n" : "\n");
            }
            b.append(ind).append('}');
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                b.append("[]");
                return;
            }
            b.append("[\n");
            for (int k = 0; k < l.size(); k++) {
                b.append(ind).append("  ");
                write(b, l.get(k), ind + "  ");
                b.append(k + 1 < l.size() ? ",\n" : "\n");
            }
            b.append(ind).append(']');
        } else {
            quote(b, v.toString());
        }
    }

    /** Appends {@code s} as a JSON string literal. */
    public static void quote(StringBuilder b, String s) {
        b.append('"');
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
