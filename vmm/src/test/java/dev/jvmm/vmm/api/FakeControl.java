package dev.jvmm.vmm.api;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A {@link VmControl} for tests: records each call as a line ({@code "pause"}, {@code "shutdown 30s"},
 * {@code "add DISK {path=/img, readonly=on}"}, {@code "removeDevice d1"}), answers canned maps, and throws what
 * {@link #failWith} says on the next call.
 */
public final class FakeControl implements VmControl {
    /** What {@link #info()} answers. */
    public static final Map<String, Object> INFO = Map.of("state", "running", "cpus", 2L);
    /** What {@link #counters()} answers. */
    public static final Map<String, Object> COUNTERS = Map.of("exits", 1234L);

    public final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    private volatile Supplier<RuntimeException> failure;
    /** Run inside {@link #powerOff()} (a test closes the server from there). */
    public volatile Runnable onPowerOff = () -> { };

    /** The next call throws {@code f.get()} (once). */
    public void failWith(Supplier<RuntimeException> f) {
        failure = f;
    }

    private void record(String call) {
        calls.add(call);
        Supplier<RuntimeException> f = failure;
        failure = null;
        if (f != null) {
            throw f.get();
        }
    }

    @Override
    public Map<String, Object> info() {
        record("info");
        return INFO;
    }

    @Override
    public Map<String, Object> counters() {
        record("counters");
        return COUNTERS;
    }

    @Override
    public void pause() {
        record("pause");
    }

    @Override
    public void resume() {
        record("resume");
    }

    @Override
    public void shutdown(Duration timeout) {
        record("shutdown " + timeout.toSeconds() + "s");
    }

    @Override
    public void powerOff() {
        record("powerOff");
        onPowerOff.run();
    }

    @Override
    public void reboot() {
        record("reboot");
    }

    @Override
    public Map<String, Object> add(DeviceKind kind, Map<String, Object> body) {
        record("add " + kind + " " + body);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", body.getOrDefault("id", kind.name().toLowerCase(java.util.Locale.ROOT) + "0"));
        m.put("bdf", "0000:00:05.0");
        return m;
    }

    @Override
    public void removeDevice(String id, java.time.Duration timeout) {
        record("removeDevice " + id + (timeout.toSeconds() == 30 ? "" : " timeout=" + timeout.toSeconds()));
    }

    @Override
    public Map<String, Object> snapshot(java.nio.file.Path destination, boolean resume) {
        record("snapshot " + destination + (resume ? " resume" : ""));
        return Map.of("destination", destination.toString(), "paused", !resume);
    }

    @Override
    public Map<String, Object> sendMigration(String destination, long downtimeMs, java.time.Duration timeout) {
        record("sendMigration " + destination + " " + downtimeMs + " " + timeout.toSeconds());
        return Map.of("destination", destination, "rounds", 3L);
    }

    /** What {@link #balloon()} answers; null: the VM has no balloon (the interface's 404). */
    public volatile Map<String, Object> balloon;

    @Override
    public Map<String, Object> balloon() {
        record("balloon");
        return balloon != null ? balloon : VmControl.super.balloon();
    }

    @Override
    public Map<String, Object> resizeBalloon(long bytes) {
        record("resizeBalloon " + bytes);
        return balloon != null ? balloon : VmControl.super.resizeBalloon(bytes);
    }
}
