package dev.jvmm.vfio.pci;

import dev.jvmm.core.MemorySlotSink;
import dev.jvmm.sys.ErrnoException;
import java.util.Map;
import java.util.TreeMap;

/**
 * KVM's memory slots as a test sees them: refuses a slot overlapping another one as KVM does ({@code EEXIST}), and
 * fails the test ({@link AssertionError}) on what KVM would refuse only of a buggy VMM: a slot number outside the
 * device's block, a slot registered twice, a slot removed that is not there, host memory that is not a live mapping
 * of one of the fake device's BARs.
 */
final class FakeSlots implements MemorySlotSink {
    /** One live slot. */
    record Slot(int slot, long gpa, long size, long hva) {
    }

    private static final int EEXIST = 17;
    final Map<Integer, Slot> live = new TreeMap<>();
    private final FakeVfioDevice dev;
    private final int first;
    private final int limit;
    int registered;

    FakeSlots(FakeVfioDevice dev, int first, int count) {
        this.dev = dev;
        this.first = first;
        this.limit = first + count;
    }

    @Override
    public void setUserMemoryRegion(int slot, int flags, long gpa, long size, long hva) {
        if (size == 0) {
            if (live.remove(slot) == null) {
                throw new AssertionError("slot " + slot + " removed, but it is not registered");
            }
            return;
        }
        if (slot < first || slot >= limit) {
            throw new AssertionError("slot " + slot + " is outside the device's block [" + first + ", " + limit + ")");
        }
        if (live.containsKey(slot)) {
            throw new AssertionError("slot " + slot + " registered again while live: " + live.get(slot));
        }
        if (size < 0 || (gpa & 4095) != 0 || (size & 4095) != 0 || gpa + size < gpa) {
            throw new AssertionError(String.format("slot %d: bad range 0x%x+0x%x", slot, gpa, size));
        }
        for (Slot s : live.values()) {
            if (gpa < s.gpa() + s.size() && s.gpa() < gpa + size) {
                throw new ErrnoException("KVM_SET_USER_MEMORY_REGION", EEXIST, String.format(
                        "slot %d 0x%x+0x%x overlaps slot %d 0x%x+0x%x", slot, gpa, size, s.slot(), s.gpa(), s.size()));
            }
        }
        boolean inside = false;
        for (FakeVfioDevice.Mapping m : dev.mappings) {
            if (!m.unmapped() && hva >= m.map().address() && hva + size <= m.map().address() + m.length()) {
                inside = true;
            }
        }
        if (!inside) {
            throw new AssertionError(String.format("slot %d: host memory 0x%x+0x%x is no live BAR mapping", slot, hva, size));
        }
        live.put(slot, new Slot(slot, gpa, size, hva));
        registered++;
    }
}
