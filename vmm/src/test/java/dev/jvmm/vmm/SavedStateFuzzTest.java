package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciHostBridge;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.kvm.StateLimits;
import dev.jvmm.sys.kvm.VcpuState;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.vmm.devices.DeviceManager;
import dev.jvmm.vmm.devices.GedDevice;
import dev.jvmm.vmm.devices.I8042;
import dev.jvmm.vmm.devices.PciHotplugController;
import dev.jvmm.vmm.devices.PowerDevice;
import dev.jvmm.vmm.devices.PvPanic;
import dev.jvmm.vmm.devices.Serial16550;
import dev.jvmm.vmm.snapshot.StateFile;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Fuzz target: a saved state ({@code state.bin} of a snapshot, the STATE frame of a migration) as a corrupt file or
 * a hostile source writes it, read the way a restore reads it, without KVM: {@link StateFile#decode}, then through
 * {@link VmSnapshot.Restore} the RAM layout ("memory", checked against a small two-region guest RAM), the devices'
 * layout ("devices"), the VM's KVM state ("vm"), each vCPU's state ({@link VcpuState#read}, "vcpu.N"; the CPU
 * check against the host's KVM is left out), and every platform device's section restored into a fresh device
 * (serial, i8042, acpi-pm, pvpanic, acpi-ged, pci-hotplug, host-bridge). The input's last byte says whether to fix
 * up the CRC32C (so that the fuzzer gets past the checksum into the sections); the rest is the file.
 * <p>Invariants: a refused state fails only with {@link StateFormatException} from the decoder and {@link
 * VmmException} of reason CONFIG naming the origin from a restore step (what the launch reports), nothing else
 * (no other runtime exception, no OutOfMemoryError from a length: every count and length is bounded before it is
 * allocated); decoded sections are no longer than the file; a device that accepted its section saves a state that
 * restores into another fresh device and saves the same bytes again.
 */
class SavedStateFuzzTest {
    private static final String ORIGIN = "fuzzed state";
    private static final int REGION = 0x10000;
    private static final long HIGH = 0x100000;

    @FuzzTest(maxDuration = "5m")
    void stateFile(FuzzedDataProvider in) throws IOException {
        boolean fixCrc = in.consumeBoolean();
        byte[] bytes = in.consumeRemainingAsBytes();
        if (fixCrc && bytes.length >= 20) {
            CRC32C crc = new CRC32C();
            crc.update(bytes, 0, bytes.length - 4);
            int c = (int) crc.getValue();
            for (int i = 0; i < 4; i++) {
                bytes[bytes.length - 4 + i] = (byte) (c >>> (24 - 8 * i));
            }
        }
        Map<String, byte[]> sections;
        try {
            sections = StateFile.decode(bytes, ORIGIN);
        } catch (StateFormatException e) {
            assertTrue(e.getMessage().startsWith(ORIGIN + " field " + e.field() + ": "), e.getMessage());
            return;
        }
        long total = 0;
        for (Map.Entry<String, byte[]> e : sections.entrySet()) {
            assertTrue(e.getKey().length() <= 64, e.getKey()); // 64 bytes (malformed UTF-8 reads as U+FFFD)
            total += e.getValue().length;
        }
        assertTrue(total <= bytes.length, "sections hold more bytes than the file");

        VmSnapshot.Restore r = new VmSnapshot.Restore(sections, null, ORIGIN, false);
        try (GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION),
                new GuestMemory.Range(HIGH, REGION)))) {
            step(() -> r.checkMemory(mem));
        }
        step(() -> {
            Map<DeviceManager.Kind, Integer> next = new EnumMap<>(DeviceManager.Kind.class);
            List<DeviceManager.Saved> saved = r.devices(next);
            assertTrue(saved.size() <= DeviceManager.LAST_SLOT);
            assertEquals(DeviceManager.Kind.values().length, next.size());
        });
        step(r::vm);
        for (String name : sections.keySet()) {
            if (name.startsWith("vcpu.")) {
                try {
                    VcpuState.read(new DataInputStream(new ByteArrayInputStream(sections.get(name))),
                            StateLimits.DEFAULT);
                } catch (StateFormatException e) {
                    assertTrue(e.getMessage().startsWith("VcpuState field "), e.getMessage());
                }
            }
        }
        for (String name : platform().keySet()) {
            boolean[] accepted = new boolean[1];
            Snapshottable d = platform().get(name);
            step(() -> {
                r.restore(name, d);
                accepted[0] = true;
            });
            if (accepted[0]) {
                roundTrips(name, d);
            }
        }
    }

    /** Runs a restore step: it succeeds, or fails as a launch reports a bad state (CONFIG, naming the origin). */
    private static void step(Runnable s) {
        try {
            s.run();
        } catch (VmmException e) {
            assertEquals(VmmException.Reason.CONFIG, e.reason(), e.getMessage());
            assertTrue(e.getMessage().startsWith(ORIGIN + ": "), e.getMessage());
            assertTrue(e.getCause() instanceof IOException, "cause " + e.getCause());
        }
    }

    /** A device that took a state saves it; that restores into a fresh one, which saves the same bytes. */
    private static void roundTrips(String name, Snapshottable d) throws IOException {
        byte[] saved = save(d);
        Snapshottable again = platform().get(name);
        again.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(saved)), name));
        assertArrayEquals(saved, save(again), name + " saves the state it restored");
    }

    private static byte[] save(Snapshottable d) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(b)) {
            d.saveState(out);
        }
        return b.toByteArray();
    }

    /** Fresh platform devices, by section name, as a VM has them. */
    static Map<String, Snapshottable> platform() {
        PowerDevice.Events events = new PowerDevice.Events() {
            @Override
            public void powerOff() {
            }

            @Override
            public void reset(String how) {
            }
        };
        GedDevice ged = new GedDevice(high -> { });
        return new Platform(new Serial16550(OutputStream.nullOutputStream(), high -> { }, s -> { }), new I8042(events),
                new PowerDevice(events), new PvPanic(() -> { }), ged, new PciHotplugController(ged, slot -> { }),
                new PciHostBridge()).devices();
    }
}
