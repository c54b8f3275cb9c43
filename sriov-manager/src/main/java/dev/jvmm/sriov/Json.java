package dev.jvmm.sriov;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader and writer (RFC 8259) for the apply spec and the state files: objects become
 * {@link LinkedHashMap}s (duplicate keys are an error), arrays {@link List}s, numbers {@link Long} (or
 * {@link Double} with a fraction or exponent), plus String, Boolean and null. Errors name line and column.
 */
public final class Json {
    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /** Thrown for malformed JSON; the message reads {@code line 3, column 14: expected ',' or '}'}. */
    public static final class ParseException extends Exception {
        ParseException(String m) {
            super(m);
        }
    }

    public static Object parse(String text) throws ParseException {
        Json j = new Json(text);
        j.ws();
        Object v = j.value(0);
        j.ws();
        if (j.i < j.s.length()) {
            throw j.err("unexpected text after the JSON value");
        }
        return v;
    }

    private ParseException err(String m) {
        int line = 1, col = 1;
        for (int k = 0; k < Math.min(i, s.length()); k++) {
            if (s.charAt(k) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new ParseException("line " + line + ", column " + col + ": " + m);
    }

    private void ws() {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private Object value(int depth) throws ParseException {
        if (depth > 64) {
            throw err("nested too deeply");
        }
        if (i >= s.length()) {
            throw err("unexpected end of input");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{': {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (peek('}')) {
                    i++;
                    return m;
                }
                for (;;) {
                    ws();
                    if (!peek('"')) {
                        throw err("expected a string key");
                    }
                    String k = string();
                    ws();
                    expect(':');
                    ws();
                    if (m.containsKey(k)) {
                        throw err("duplicate key \"" + k + "\"");
                    }
                    m.put(k, value(depth + 1));
                    ws();
                    if (peek(',')) {
                        i++;
                        continue;
                    }
                    expect('}');
                    return m;
                }
            }
            case '[': {
                i++;
                List<Object> l = new ArrayList<>();
                ws();
                if (peek(']')) {
                    i++;
                    return l;
                }
                for (;;) {
                    ws();
                    l.add(value(depth + 1));
                    ws();
                    if (peek(',')) {
                        i++;
                        continue;
                    }
                    expect(']');
                    return l;
                }
            }
            case '"':
                return string();
            case 't':
                return word("true", Boolean.TRUE);
            case 'f':
                return word("false", Boolean.FALSE);
            case 'n':
                return word("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw err("unexpected character '" + c + "'");
        }
    }

    private boolean peek(char c) {
        return i < s.length() && s.charAt(i) == c;
    }

    private void expect(char c) throws ParseException {
        if (!peek(c)) {
            throw err("expected '" + c + "'" + (i < s.length() ? " but found '" + s.charAt(i) + "'" : " but the input ended"));
        }
        i++;
    }

    private Object word(String w, Object v) throws ParseException {
        if (!s.startsWith(w, i)) {
            throw err("unexpected token (expected " + w + ")");
        }
        i += w.length();
        return v;
    }

    private Object number() throws ParseException {
        int start = i;
        if (peek('-')) {
            i++;
        }
        if (peek('0')) {
            i++;
        } else if (i < s.length() && Character.isDigit(s.charAt(i))) {
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
        } else {
            throw err("malformed number");
        }
        boolean frac = false;
        if (peek('.')) {
            frac = true;
            i++;
            if (!(i < s.length() && Character.isDigit(s.charAt(i)))) {
                throw err("malformed number");
            }
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
        }
        if (peek('e') || peek('E')) {
            frac = true;
            i++;
            if (peek('+') || peek('-')) {
                i++;
            }
            if (!(i < s.length() && Character.isDigit(s.charAt(i)))) {
                throw err("malformed number");
            }
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
        }
        String t = s.substring(start, i);
        if (frac) {
            return Double.parseDouble(t);
        }
        try {
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            i = start;
            throw err("number " + t + " is too large");
        }
    }

    private String string() throws ParseException {
        expect('"');
        StringBuilder b = new StringBuilder();
        for (;;) {
            if (i >= s.length()) {
                throw err("unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                i--;
                throw err("control character in a string");
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
                    try {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    } catch (NumberFormatException x) {
                        throw err("bad \\u escape");
                    }
                    i += 4;
                }
                default -> {
                    i--;
                    throw err("bad escape \\" + e);
                }
            }
        }
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

    private static void quote(StringBuilder b, String s) {
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
