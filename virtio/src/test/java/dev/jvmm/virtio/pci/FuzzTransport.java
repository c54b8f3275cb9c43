package dev.jvmm.virtio.pci;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.virtio.VirtioDevice;
import java.util.Queue;

/**
 * The fuzz targets' transport: a real {@link VirtioPciDevice} that also records, in {@code failures}, every internal
 * error its device reports (a device thread's unexpected exception, which the transport turns into NEEDS_RESET like a
 * guest's protocol error): a fuzz target fails on those, and accepts the guest's protocol errors.
 */
public final class FuzzTransport extends VirtioPciDevice {
    private final Queue<String> failures;

    public FuzzTransport(VirtioDevice device, GuestMemory mem, TestIrqs irqs, Queue<String> failures) {
        super(device, mem, irqs, null, -1);
        this.failures = failures;
    }

    @Override
    public void needsReset(String why) {
        if (why.startsWith("internal error")) {
            failures.add(name() + ": " + why);
        }
        super.needsReset(why);
    }

    /** While fuzzing, only errors are logged (the devices' warnings about hostile rings would flood the output). */
    public static void quietWhenFuzzing() {
        if (System.getenv("JAZZER_FUZZ") != null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
        }
    }
}
