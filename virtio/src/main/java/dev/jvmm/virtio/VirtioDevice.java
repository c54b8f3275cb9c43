package dev.jvmm.virtio;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;

/**
 * A virtio device model, independent of the transport (virtio 1.2 §5): its type, feature bits, queues and
 * device-specific configuration space. The transport negotiates features, configures the queues and calls
 * {@link #activate} on DRIVER_OK; from then on the device's own threads serve the queues, woken through the
 * queues' kick eventfds, and raise interrupts through {@link VirtioInterrupts}. {@link #reset} stops them.
 */
public abstract class VirtioDevice implements AutoCloseable {
    /** What the device gets on DRIVER_OK. */
    public record Activation(GuestMemory memory, long features, VirtQueue[] queues, EventFd[] kicks,
            VirtioInterrupts interrupts) {
        public boolean has(int feature) {
            return (features & (1L << feature)) != 0;
        }
    }

    private final String name;
    private final byte[] config;

    protected VirtioDevice(String name, int configSize) {
        this.name = name;
        this.config = new byte[configSize];
    }

    /** A name for threads and logs, e.g. {@code virtio-blk-0}. */
    public final String name() {
        return name;
    }

    /** Device type (virtio 1.2 §5): 1 network, 2 block. */
    public abstract int deviceType();

    /** Device-specific feature bits offered (the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX). */
    public abstract long deviceFeatures();

    /** How many virtqueues the device has. */
    public abstract int queueCount();

    /** The largest size offered for each queue. */
    public int queueMaxSize() {
        return 256;
    }

    /** The most descriptors the device accepts in one chain of {@code queue}. */
    public abstract int maxSegments(int queue);

    /** PCI class code for the transport (base, sub-class, prog-if). */
    public abstract int pciClass();

    /**
     * Called on FEATURES_OK with the driver's choice (already a subset of what was offered); may refuse a
     * combination by returning false.
     */
    public boolean acceptFeatures(long features) {
        return true;
    }

    /**
     * The driver set DRIVER_OK: whatever ran before is reset, the activation is kept for the threads, and
     * {@link #startWorkers} starts them. A device that sets more up (offloads, queue pairs) overrides this.
     */
    public synchronized void activate(Activation activation) {
        reset();
        setActivation(activation);
        startWorkers(activation);
    }

    /** Stops the device threads and forgets the activation; the device can be activated again. Idempotent. */
    public abstract void reset();

    /** The driver's activation while the device is active (null before and after a reset), for the threads. */
    private Activation activation;

    /** Remembers {@code a} (an activation or a restore) or forgets it (null: a reset). */
    protected final synchronized void setActivation(Activation a) {
        this.activation = a;
    }

    protected final synchronized Activation activation() {
        return activation;
    }

    /** Starts the device's threads over the queues of {@code a}. */
    protected abstract void startWorkers(Activation a);

    /**
     * Stops and joins the device's threads; each finishes the request it is on, and requests still in flight are
     * waited for and completed (used ring, interrupt) before it returns.
     */
    protected abstract void stopWorkers();

    /** Whether the device's threads run. */
    protected abstract boolean workersRunning();

    /**
     * Stops the device's threads between requests and keeps everything else (queues, negotiated features, device
     * state): when it returns no request is in flight and no thread touches guest RAM, so the device's state and
     * the RAM it wrote can be saved. {@link #unquiesce()} starts the threads again. A device that is not active
     * ignores both. A device whose requests outlive its thread's turn (virtio-blk keeps many in flight with an I/O
     * engine) waits for them and puts them in the used ring before it returns.
     */
    public synchronized void quiesce() {
        stopWorkers();
    }

    /** Starts the threads {@link #quiesce()} stopped, with the activation they had. */
    public synchronized void unquiesce() {
        if (activation != null && !workersRunning()) {
            startWorkers(activation);
        }
    }

    /**
     * Takes the driver's activation, as saved, for a device whose state was just restored ({@link #restoreState}),
     * without the side effects of a first activation (the device state it restored is kept) and without starting its
     * threads: it is left quiesced, and {@link #unquiesce()} starts it once the whole VM is loaded. An interrupt raised
     * earlier would be lost (the VM's MSI routes are committed, and the vCPUs' local APICs overwritten, after the
     * devices load), and with EVENT_IDX a lost interrupt is never raised again: the driver waits for it to move its
     * used_event.
     */
    public synchronized void restored(Activation activation) {
        stopWorkers();
        setActivation(activation);
    }

    /** "VDEV". */
    private static final int STATE_MAGIC = 0x56444556;

    /**
     * Writes the device-specific state (format 1 here: the configuration space); devices with more state extend
     * it and call this first. Runs quiesced.
     */
    public void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, STATE_MAGIC, 1);
        synchronized (config) {
            StateCodec.blob(out, config);
        }
    }

    /** Reads what {@link #saveState} wrote into a device built from the same configuration, before it is activated. */
    public void restoreState(StateCodec.Reader in) throws IOException {
        in.header(STATE_MAGIC, 1);
        byte[] c = in.blob("device_config", config.length);
        synchronized (config) {
            System.arraycopy(c, 0, config, 0, c.length);
        }
    }

    /** Releases the backend (file, tap). Idempotent. */
    @Override
    public void close() {
        reset();
    }

    /** Size of the device-specific configuration space. */
    public final int configSize() {
        return config.length;
    }

    /**
     * Whether something outside the VMM (a vhost worker) may signal this device's queue interrupts through
     * {@link VirtioInterrupts#queueEventFd}: the transport then holds a masked vector's irqfd instead of dropping
     * its signals. Asked once, when the transport is built.
     */
    public boolean signalsFromKernel() {
        return false;
    }

    /** A driver read of the configuration space (little-endian); out of range reads as zero. */
    public int readConfig(int offset, int size) {
        synchronized (config) {
            int v = 0;
            for (int i = size - 1; i >= 0; i--) {
                int o = offset + i;
                v = (v << 8) | (o >= 0 && o < config.length ? config[o] & 0xff : 0);
            }
            return v;
        }
    }

    /** A driver write of the configuration space; ignored unless the device has writable fields. */
    public void writeConfig(int offset, int size, int value) {
    }

    /** Device-side update of the configuration space. */
    protected final void setConfig(int offset, int size, long value) {
        synchronized (config) {
            for (int i = 0; i < size; i++) {
                config[offset + i] = (byte) (value >>> (8 * i));
            }
        }
    }

    protected final void setConfigBytes(int offset, byte[] bytes) {
        synchronized (config) {
            System.arraycopy(bytes, 0, config, offset, bytes.length);
        }
    }
}
