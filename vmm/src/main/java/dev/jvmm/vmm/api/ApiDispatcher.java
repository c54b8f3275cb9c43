package dev.jvmm.vmm.api;

import dev.jvmm.sys.json.Json;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What each control API endpoint does (docs/api.md): which request it takes (path, method, content type, body) and
 * which {@link VmControl} call it makes. Knows nothing of HTTP's wire: {@link ApiHandler} hands it the request's
 * parts and writes its {@link Answer}. Every refusal is an {@link ApiException} with the status and the field at fault.
 */
final class ApiDispatcher {
    /** {@code vm.shutdown}'s wait for the guest when the body names none. */
    static final long DEFAULT_SHUTDOWN_S = 10;
    /** How long {@code vm.remove-device} waits for the guest's eject when the request does not say. */
    static final long DEFAULT_REMOVE_S = 30;
    static final long MAX_SHUTDOWN_S = 3600;

    /** A status and a JSON-ready body (null: no body). */
    record Answer(int status, Object body) {
        static final Answer NO_CONTENT = new Answer(204, null);

        static Answer ok(Object body) {
            return new Answer(200, body);
        }

        /** {@code {"error": message, "field": field}}. */
        static Answer error(int status, String field, String message) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("error", message);
            m.put("field", field);
            return new Answer(status, m);
        }
    }

    private final VmControl control;
    private final String version;

    ApiDispatcher(VmControl control, String version) {
        this.control = control;
        this.version = version;
    }

    /** The endpoint {@code method path} names: 404 if no endpoint has that path, 405 if it takes another method. */
    static ApiEndpoint route(String method, String path) {
        ApiEndpoint e = ApiEndpoint.byPath(path);
        if (e == null) {
            throw new ApiException(404, null, "no endpoint " + path + " (the endpoints are " + ApiEndpoint.BASE
                    + "{" + String.join(",", ApiEndpoint.names()) + "})");
        }
        if (!e.method().equals(method)) {
            throw new ApiException(405, null, e.endpointName() + " takes " + e.method() + ", not " + method);
        }
        return e;
    }

    /** 415 unless {@code contentType} (the header, or null when absent) is {@code application/json}. */
    static void checkContentType(String contentType) {
        if (contentType == null) {
            return;
        }
        int semi = contentType.indexOf(';');
        String type = (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
        if (!type.equals("application/json")) {
            throw new ApiException(415, null, "Content-Type " + contentType + " is not application/json");
        }
    }

    /**
     * Carries out {@code e} with the request body {@code text} (empty when there is none): a JSON object, or nothing
     * for the endpoints whose body is optional.
     */
    /** QEMU's and Cloud Hypervisor's default downtime target. */
    static final long DEFAULT_DOWNTIME_MS = 300;
    static final long DEFAULT_MIGRATION_S = 3600;

    Answer call(ApiEndpoint e, String text) {
        Map<String, Object> body = parse(e, text);
        switch (e) {
            case PING -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("version", version);
                return Answer.ok(m);
            }
            case INFO -> {
                return Answer.ok(control.info());
            }
            case COUNTERS -> {
                return Answer.ok(control.counters());
            }
            case PAUSE -> {
                noFields(e, body);
                control.pause();
            }
            case RESUME -> {
                noFields(e, body);
                control.resume();
            }
            case SHUTDOWN -> control.shutdown(shutdownTimeout(body));
            case POWER_OFF -> {
                noFields(e, body);
                control.powerOff();
            }
            case REBOOT -> {
                noFields(e, body);
                control.reboot();
            }
            case ADD_DISK, ADD_NET, ADD_NIC, ADD_DEVICE -> {
                if (body == null) {
                    throw new ApiException(400, null, e.endpointName() + " needs a JSON object body with the keys of "
                            + e.deviceKind().option());
                }
                return Answer.ok(control.add(e.deviceKind(), body));
            }
            case REMOVE_DEVICE -> control.removeDevice(deviceId(e, body), timeout(e, body, DEFAULT_REMOVE_S));
            case SNAPSHOT -> {
                onlyFields(e, body, "\"destination\" and \"resume\"", "destination", "resume");
                if (body == null || !(body.get("destination") instanceof String d) || d.isBlank()) {
                    throw new ApiException(400, "destination", "vm.snapshot needs {\"destination\": \"DIR\"}, a "
                            + "directory that is empty or does not exist yet");
                }
                Object r = body.getOrDefault("resume", Boolean.FALSE);
                if (!(r instanceof Boolean resume)) {
                    throw new ApiException(400, "resume", "resume must be true or false, got " + shown(r));
                }
                java.nio.file.Path dir;
                try {
                    dir = java.nio.file.Path.of(d);
                } catch (java.nio.file.InvalidPathException x) {
                    throw new ApiException(400, "destination", "destination: " + x.getMessage());
                }
                if (!dir.isAbsolute()) {
                    throw new ApiException(400, "destination", "destination must be an absolute path, got " + d);
                }
                return Answer.ok(control.snapshot(dir, resume));
            }
            case SEND_MIGRATION -> {
                onlyFields(e, body, "\"destination\", \"downtime_ms\" and \"timeout_s\"", "destination", "downtime_ms",
                        "timeout_s");
                if (body == null || !(body.get("destination") instanceof String d) || d.isBlank()) {
                    throw new ApiException(400, "destination", "vm.send-migration needs {\"destination\": "
                            + "\"unix:PATH\" or \"tcp:HOST:PORT\"}");
                }
                Object dt = body.getOrDefault("downtime_ms", DEFAULT_DOWNTIME_MS);
                if (!(dt instanceof Long ms) || ms < 1 || ms > 60_000) {
                    throw new ApiException(400, "downtime_ms", "downtime_ms must be a whole number of milliseconds "
                            + "from 1 to 60000, got " + shown(dt));
                }
                return Answer.ok(control.sendMigration(d, ms, timeout(e, body, DEFAULT_MIGRATION_S)));
            }
            case BALLOON -> {
                noFields(e, body);
                return Answer.ok(control.balloon());
            }
            case RESIZE_BALLOON -> {
                return Answer.ok(control.resizeBalloon(balloonSize(body)));
            }
            default -> throw new IllegalStateException("endpoint " + e + " has no action");
        }
        return Answer.NO_CONTENT;
    }

    /** The body as a JSON object; null when it is empty or only white space. */
    private static Map<String, Object> parse(ApiEndpoint e, String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        Object v;
        try {
            v = Json.parse(text);
        } catch (Json.ParseException x) {
            throw new ApiException(400, null, "malformed JSON: " + x.getMessage(), x);
        }
        if (!(v instanceof Map<?, ?>)) {
            throw new ApiException(400, null, e.endpointName() + ": the body must be a JSON object {...}, not "
                    + kind(v));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        return m;
    }

    /** 400 naming the first field of {@code body}, if it has any (for the endpoints that take none). */
    private static void noFields(ApiEndpoint e, Map<String, Object> body) {
        onlyFields(e, body, "no fields");
    }

    private static void onlyFields(ApiEndpoint e, Map<String, Object> body, String takes, String... known) {
        if (body == null) {
            return;
        }
        for (String k : body.keySet()) {
            if (!java.util.Arrays.asList(known).contains(k)) {
                throw new ApiException(400, k, e.endpointName() + ": unknown field \"" + k + "\" (it takes " + takes
                        + ")");
            }
        }
    }

    /** {@code {"timeout_s": N}}: whole seconds, 1 to 3600; 10 when absent. */
    private static Duration shutdownTimeout(Map<String, Object> body) {
        onlyFields(ApiEndpoint.SHUTDOWN, body, "only \"timeout_s\"", "timeout_s");
        return timeout(ApiEndpoint.SHUTDOWN, body, DEFAULT_SHUTDOWN_S);
    }

    /** The body's {@code "timeout_s"} (whole seconds, 1 to 3600), or {@code dflt} seconds when absent. */
    private static Duration timeout(ApiEndpoint e, Map<String, Object> body, long dflt) {
        if (body == null || !body.containsKey("timeout_s")) {
            return Duration.ofSeconds(dflt);
        }
        Object t = body.get("timeout_s");
        if (!(t instanceof Long s) || s < 1 || s > MAX_SHUTDOWN_S) {
            throw new ApiException(400, "timeout_s", "timeout_s must be a whole number of seconds from 1 to "
                    + MAX_SHUTDOWN_S + ", got " + shown(t));
        }
        return Duration.ofSeconds(s);
    }

    /**
     * {@code {"size": N}} (bytes) or {@code {"size": "128M"}} (a size as --balloon takes it; a bare number is MiB): the
     * balloon's new target in bytes. Whether it fits the guest is the balloon's to say.
     */
    private static long balloonSize(Map<String, Object> body) {
        ApiEndpoint e = ApiEndpoint.RESIZE_BALLOON;
        onlyFields(e, body, "only \"size\"", "size");
        if (body == null || !body.containsKey("size")) {
            throw new ApiException(400, "size", "vm.resize-balloon needs the new target: {\"size\": \"128M\"} or a "
                    + "number of bytes");
        }
        Object v = body.get("size");
        if (v instanceof Long n && n >= 0) {
            return n;
        }
        if (v instanceof String str) {
            try {
                return dev.jvmm.sys.Sizes.parse(str, dev.jvmm.sys.Sizes.MIB);
            } catch (IllegalArgumentException x) {
                throw new ApiException(400, "size", "size: " + x.getMessage());
            }
        }
        throw new ApiException(400, "size", "size must be a number of bytes or a string like \"128M\", got " + shown(v));
    }

    /** {@code {"id": "..."}}. */
    private static String deviceId(ApiEndpoint e, Map<String, Object> body) {
        if (body == null || !body.containsKey("id")) {
            throw new ApiException(400, "id", e.endpointName() + " needs the device's id: {\"id\": \"...\"}");
        }
        onlyFields(e, body, "\"id\" and \"timeout_s\"", "id", "timeout_s");
        if (!(body.get("id") instanceof String id) || id.isBlank()) {
            throw new ApiException(400, "id", "id must be a non-empty string, got " + shown(body.get("id")));
        }
        return id;
    }

    /** A value as a message shows it: a scalar as JSON ({@code "10"}, {@code 0}), an object or array by its kind. */
    private static String shown(Object v) {
        return v instanceof Map<?, ?> || v instanceof java.util.List<?> ? kind(v) : Json.write(v).strip();
    }

    /** The JSON kind of a parsed value: object, array, string, number, boolean or null. */
    static String kind(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Map<?, ?>) {
            return "an object";
        }
        if (v instanceof java.util.List<?>) {
            return "an array";
        }
        if (v instanceof String) {
            return "a string";
        }
        if (v instanceof Boolean) {
            return "a boolean";
        }
        return "a number";
    }
}
