package dev.jvmm.vmm.api;

import java.time.Duration;
import java.util.Map;

/**
 * What the control API ({@code --api-socket}) can do to a running VM. {@link ApiServer} maps HTTP requests onto it;
 * the launch's VM controller implements it. Results are JSON-ready values (maps, lists, strings, numbers, booleans)
 * as {@link dev.jvmm.sys.json.Json#write} takes them. Every method may throw {@link ApiException} with the HTTP
 * status and the field at fault; anything else is answered with 500.
 */
public interface VmControl {
    /** {@code GET vm.info}: config, state, devices with their BDFs, NIC choices and their reasons. */
    Map<String, Object> info();

    /** {@code GET vm.counters}: per-device exit counters, virtio queue and byte counters. */
    Map<String, Object> counters();

    /** {@code PUT vm.pause}: the vCPUs stop; 409 if the VM is already paused. */
    void pause();

    /** {@code PUT vm.resume}: 409 if the VM is not paused. */
    void resume();

    /** {@code PUT vm.shutdown}: the ACPI power button, then power-off if the guest has not gone in {@code timeout}. */
    void shutdown(Duration timeout);

    /** {@code PUT vm.power-off}: ends the VM now (no guest involvement). */
    void powerOff();

    /** {@code PUT vm.reboot}: the VM is reset and boots again. */
    void reboot();

    /**
     * {@code PUT vm.add-disk|add-net|add-nic|add-device}: hot-adds a device. {@code body} is the request's JSON
     * object, with the same keys as the matching CLI option ({@code --disk}, {@code --net}, {@code --nic},
     * {@code --device}) plus an optional {@code "id"}. Returns at least {@code {"id": ..., "bdf": ...}}.
     */
    Map<String, Object> add(DeviceKind kind, Map<String, Object> body);

    /**
     * {@code PUT vm.remove-device {"id": ..., "timeout_s": N}}: asks the guest to eject the device, waits up to
     * {@code timeout} for it, frees it; 404 if unknown, 504 if the guest did not eject in time (the device stays).
     */
    void removeDevice(String id, Duration timeout);

    /**
     * {@code PUT vm.snapshot {"destination": DIR, "resume": false}}: pauses the VM (if it runs), writes its config,
     * state and RAM into {@code destination} (empty or new), and resumes it only if {@code resume}. Returns what was
     * written (sizes, milliseconds). 409 for a VM whose state cannot be saved (a passed-through function).
     */
    Map<String, Object> snapshot(java.nio.file.Path destination, boolean resume);

    /**
     * {@code PUT vm.send-migration {"destination": SPEC, "downtime_ms": 300, "timeout_s": 3600}}: live-migrates the
     * VM to a {@code jvmm launch --incoming SPEC}; on success returns the figures (total and downtime ms, bytes,
     * rounds) and this VM ends; on failure the VM goes on here. 409 for a VM that cannot migrate.
     */
    Map<String, Object> sendMigration(String destination, long downtimeMs, Duration timeout);

    /**
     * {@code GET vm.balloon}: the balloon's target and actual size, what it released to the host and the guest's last
     * memory stats (docs/api.md); 404 when the VM has no balloon.
     */
    default Map<String, Object> balloon() {
        throw new ApiException(404, null, "this VM has no balloon (launch it with --balloon)");
    }

    /**
     * {@code PUT vm.resize-balloon {"size": BYTES or "128M"}}: sets the balloon's target (the guest inflates or deflates
     * towards it, told by a configuration interrupt) and returns {@link #balloon()}; 400 naming {@code size} unless it
     * is a whole number of 4 KiB pages below the guest's RAM, 404 without a balloon.
     */
    default Map<String, Object> resizeBalloon(long bytes) {
        throw new ApiException(404, null, "this VM has no balloon (launch it with --balloon)");
    }

    /** The kinds of device {@code vm.add-*} adds, with their endpoint, {@code jvmm remote} verb and CLI option. */
    enum DeviceKind {
        DISK("vm.add-disk", "add-disk", "--disk"),
        NET("vm.add-net", "add-net", "--net"),
        NIC("vm.add-nic", "add-nic", "--nic"),
        DEVICE("vm.add-device", "add-device", "--device");

        private final String endpoint;
        private final String verb;
        private final String option;

        DeviceKind(String endpoint, String verb, String option) {
            this.endpoint = endpoint;
            this.verb = verb;
            this.option = option;
        }

        public String endpoint() {
            return endpoint;
        }

        public String verb() {
            return verb;
        }

        public String option() {
            return option;
        }
    }
}
