package dev.jvmm.vmm.api;

import java.util.List;
import java.util.stream.Stream;

/**
 * The control API's endpoints (docs/api.md): each one's path under {@link #BASE}, HTTP method and {@code jvmm remote}
 * verb. The one list of them: {@link ApiHandler} routes by it, {@code jvmm remote} sends by it.
 */
public enum ApiEndpoint {
    PING("vmm.ping", "GET", "ping"),
    INFO("vm.info", "GET", "info"),
    COUNTERS("vm.counters", "GET", "counters"),
    PAUSE("vm.pause", "PUT", "pause"),
    RESUME("vm.resume", "PUT", "resume"),
    SHUTDOWN("vm.shutdown", "PUT", "shutdown"),
    POWER_OFF("vm.power-off", "PUT", "power-off"),
    REBOOT("vm.reboot", "PUT", "reboot"),
    ADD_DISK(VmControl.DeviceKind.DISK),
    ADD_NET(VmControl.DeviceKind.NET),
    ADD_NIC(VmControl.DeviceKind.NIC),
    ADD_DEVICE(VmControl.DeviceKind.DEVICE),
    REMOVE_DEVICE("vm.remove-device", "PUT", "remove-device"),
    SNAPSHOT("vm.snapshot", "PUT", "snapshot"),
    SEND_MIGRATION("vm.send-migration", "PUT", "send-migration"),
    BALLOON("vm.balloon", "GET", "balloon"),
    RESIZE_BALLOON("vm.resize-balloon", "PUT", "resize-balloon");

    /** The path every endpoint's name follows. */
    public static final String BASE = "/api/v1/";

    private final String name;
    private final String method;
    private final String verb;
    private final VmControl.DeviceKind kind;

    ApiEndpoint(String name, String method, String verb) {
        this.name = name;
        this.method = method;
        this.verb = verb;
        this.kind = null;
    }

    ApiEndpoint(VmControl.DeviceKind kind) {
        this.name = kind.endpoint();
        this.method = "PUT";
        this.verb = kind.verb();
        this.kind = kind;
    }

    /** {@code vm.info}: the name after {@link #BASE}. */
    public String endpointName() {
        return name;
    }

    /** {@code /api/v1/vm.info}. */
    public String path() {
        return BASE + name;
    }

    /** GET or PUT. */
    public String method() {
        return method;
    }

    /** The {@code jvmm remote} verb. */
    public String verb() {
        return verb;
    }

    /** The kind of device a {@code vm.add-*} endpoint adds; null for the others. */
    public VmControl.DeviceKind deviceKind() {
        return kind;
    }

    /** Whether the request changes the VM (logged at info). */
    public boolean mutates() {
        return method.equals("PUT");
    }

    /** The endpoint at {@code path} ({@code /api/v1/vm.info}), or null. */
    public static ApiEndpoint byPath(String path) {
        for (ApiEndpoint e : values()) {
            if (e.path().equals(path)) {
                return e;
            }
        }
        return null;
    }

    /** The endpoint of a {@code jvmm remote} verb, or null. */
    public static ApiEndpoint byVerb(String verb) {
        for (ApiEndpoint e : values()) {
            if (e.verb.equals(verb)) {
                return e;
            }
        }
        return null;
    }

    /** Every endpoint's name, for messages. */
    public static List<String> names() {
        return Stream.of(values()).map(ApiEndpoint::endpointName).toList();
    }

    /** Every verb, for messages. */
    public static List<String> verbs() {
        return Stream.of(values()).map(ApiEndpoint::verb).toList();
    }
}
