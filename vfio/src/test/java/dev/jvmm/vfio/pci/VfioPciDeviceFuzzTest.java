package dev.jvmm.vfio.pci;

import static dev.jvmm.sys.vfio.uapi.VfioConstants.*;
import static org.junit.jupiter.api.Assertions.*;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.Bus;
import dev.jvmm.core.pci.MsiCapability;
import dev.jvmm.core.pci.MsixCapability;
import dev.jvmm.core.pci.PciBar;
import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.vfio.VfioException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Fuzz target: a passed-through PCI function ({@link VfioPciDevice}) as the guest reaches it, over a
 * {@link FakeVfioDevice} described by the input (header, BAR registers, a capability list that may loop or overlap
 * with MSI-X, MSI, PCIe, PM and other capabilities, BAR region sizes, flags and sparse mmap areas, an expansion ROM,
 * irq counts as vfio-pci derives them or any). The function is placed as the VMM places it ({@link FakeIrqs}, an
 * MMIO and a port {@link Bus}, {@link FakeSlots} for KVM's memory slots), its BARs and ROM placed as firmware
 * would, then up to 127 operations: config reads and writes of 1, 2, 3 or 4 bytes at any offset 0..4095 (aligned or
 * not), BAR register writes (sizing with all ones, or an address), command register writes (memory, I/O, bus master,
 * INTx disable toggles), MSI-X table and PBA accesses through the BAR's trapped page, any access to a decoded BAR
 * or I/O BAR, MSI and MSI-X capability writes, ROM BAR writes, writes into the PCIe and PM capabilities the guest is
 * shown; then {@code close()}. The input layout is {@link VfioPciSeeds}'s.
 *
 * <p>Invariants:
 * <ul>
 * <li>Construction either succeeds or throws a {@link VfioException} (a device jvmm cannot pass through, named),
 *     after which the fake device is closed and nothing the construction allocated is left (vectors, eventfds,
 *     mmaps, slots). No guest access (config read or write, BAR access) throws anything.</li>
 * <li>What reaches the device's config space is only what jvmm passes through: the command register, as a 2-byte
 *     write whose bits other than memory, I/O, bus master and INTx disable are the device's own, and whose passed
 *     bits are the guest's; and bytes of a PCIe or PM capability jvmm shows, at the same place in the device's
 *     capability as the guest wrote in its copy, never an emulated byte (ID, next pointer, an endpoint's port type
 *     and link registers), never in the header, in a BAR or ROM register, or in the device's MSI or MSI-X
 *     capability, and with the guest's values.</li>
 * <li>The interrupt kind handed to VFIO is the one the guest has on: MSI-X when enabled, else MSI (with the
 *     vectors the guest enabled), else INTx when the function has it, else none; each eventfd handed over is a live
 *     vector's.</li>
 * <li>Memory slots never overlap (the fake refuses an overlap as KVM does), each lies inside a live mmap of its BAR
 *     at the BAR offset it is placed at, inside the BAR as decoded now; after {@code close()} no slot is left, no
 *     bus registration at any place the BARs were decoded, every MSI vector and INTx eventfd is closed, every mmap
 *     unmapped, the device's interrupts are disabled and the device is closed.</li>
 * <li>Reads return no bits beyond their size; every native access stays in memory jvmm owns ({@link MemoryGuard}).</li>
 * </ul>
 */
class VfioPciDeviceFuzzTest {
    private static final int FIRST_SLOT = 16;
    private static final int CMD_PASSED = PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY
            | PciConfigSpace.COMMAND_BUS_MASTER | PciConfigSpace.COMMAND_INTX_DISABLE;
    /** Link registers of a PCIe endpoint's capability, which jvmm emulates (offset, length). */
    private static final int[][] EXP_LINK = {{0x0c, 4}, {0x10, 2}, {0x12, 2}, {0x2c, 4}, {0x30, 2}, {0x32, 2}};

    static {
        System.setProperty("org.slf4j.simpleLogger.log.dev.jvmm", System.getenv("JAZZER_FUZZ") != null ? "error" : "info");
    }

    @FuzzTest(maxDuration = "5m")
    void configAndBars(byte[] input) {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        FuzzCursor in = new FuzzCursor(input);
        FakeVfioDevice fake = FakeVfioDevice.decode(in);
        byte[] original = fake.config.clone();
        FakeIrqs irqs = new FakeIrqs();
        fake.irqs = irqs;
        Bus mmio = new Bus("mmio");
        Bus pio = new Bus("pio");
        FakeSlots slots = new FakeSlots(fake, FIRST_SLOT, VfioPciDevice.SLOTS);
        boolean msixOn = in.u8() % 4 != 0;
        VfioPciDevice d;
        try {
            d = new VfioPciDevice("fuzz-vf", fake, new VfioPciDevice.Placement(irqs, mmio, pio, slots, FIRST_SLOT,
                    pin -> 16 + pin), msixOn);
        } catch (VfioException e) {
            assertNotNull(e.getMessage());
            assertTrue(fake.closed, "a refused device is closed");
            released(fake, irqs, slots);
            return;
        }
        Set<Long> places = new HashSet<>();
        Policy policy = new Policy(d, fake, original);
        // placed as firmware would: each BAR at an address of its size, from 0xc0000000 (I/O from 0x1000)
        long mem = 0xc000_0000L, io = 0x1000;
        for (PciBar b : d.bars()) {
            long at = b.isMemory() ? align(mem, b.size()) : align(io, b.size());
            if (b.isMemory()) {
                mem = at + b.size();
            } else {
                io = at + b.size();
            }
            if (b.kind() == PciBar.Kind.MEM32 && at + b.size() > 0x1_0000_0000L || !b.isMemory() && at + b.size() > 0x10000) {
                continue; // does not fit below 4 GiB (64 KiB of ports): left unplaced, as firmware would
            }
            d.setBarAddress(b.index(), at);
        }
        if (d.romSize() > 0 && d.romSize() <= 0x1000_0000L) {
            d.setRomAddress(0x8000_0000L);
        }
        check(d, fake, irqs, slots, places);

        int ops = in.u8() % 128;
        for (int i = 0; i < ops && in.more(); i++) {
            int kind = in.u8() % 12;
            try {
                op(kind, in, d, mmio, pio, policy);
            } catch (AssertionError e) {
                throw e;
            } catch (Throwable e) {
                throw new AssertionError("guest access (operation " + i + ", kind " + kind + ") threw " + e, e);
            }
            policy.verify();
            check(d, fake, irqs, slots, places);
        }
        d.close();
        d.close();
        released(fake, irqs, slots);
        for (long a : places) {
            assertNull(mmio.lookup(a), () -> "MMIO registration left at 0x" + Long.toHexString(a));
            assertNull(pio.lookup(a), () -> "port registration left at 0x" + Long.toHexString(a));
        }
        policy.verify();
    }

    private static long align(long a, long size) {
        return (a + size - 1) & -size;
    }

    private static final int[] SIZES = {1, 2, 4, 3};

    /** One guest operation. */
    private static void op(int kind, FuzzCursor in, VfioPciDevice d, Bus mmio, Bus pio, Policy policy) {
        switch (kind) {
            case 0, 1 -> { // config read or write anywhere, any size, often in the conventional space
                int off = in.u8() % 2 == 0 ? in.u8() : in.u16() % 4096;
                int size = SIZES[in.u8() % 4];
                if (kind == 0) {
                    policy.write(off, size, in.u32());
                } else {
                    readConfig(d, off, size);
                }
            }
            case 2 -> { // a BAR register: sizing or an address
                int bar = in.u8() % 6;
                int v = in.u8() % 2 == 0 ? -1 : in.u32();
                policy.write(PciConfigSpace.BAR0 + 4 * bar, 4, v);
                readConfig(d, PciConfigSpace.BAR0 + 4 * bar, 4);
            }
            case 3 -> policy.write(PciConfigSpace.COMMAND, 2, in.u16() & (in.u8() % 2 == 0 ? CMD_PASSED : 0xffff));
            case 4 -> { // BAR moved: an aligned address (both halves of a 64-bit BAR)
                List<PciBar> bars = d.bars();
                if (bars.isEmpty()) {
                    return;
                }
                PciBar b = bars.get(in.u8() % bars.size());
                long a = ((long) in.u32() << 12) & -b.size();
                if (b.kind() != PciBar.Kind.MEM64) {
                    a &= b.isMemory() ? 0xffff_ffffL : 0xffffL;
                }
                policy.write(PciConfigSpace.BAR0 + 4 * b.index(), 4, (int) a);
                if (b.kind() == PciBar.Kind.MEM64) {
                    policy.write(PciConfigSpace.BAR0 + 4 * b.index() + 4, 4, (int) (a >>> 32));
                }
            }
            case 5 -> { // MSI-X table or PBA through the BAR
                int[] cap = d.config().findCapabilities(MsixCapability.CAP_ID);
                if (cap.length == 0) {
                    return;
                }
                int table = d.config().get(cap[0] + MsixCapability.TABLE_OFFSET, 4);
                int pba = d.config().get(cap[0] + MsixCapability.PBA_OFFSET, 4);
                int bar = table & 7;
                long base = bar < 6 ? d.decodedAddress(bar) : -1;
                if (base < 0) {
                    return;
                }
                long off = in.u8() % 2 == 0 ? (table & ~7L) + in.u16() % (d.msix().tableSize() + 16)
                        : (pba & ~7L) + in.u8() % (d.msix().pbaSize() + 8);
                access(d.bars().stream().anyMatch(b -> b.index() == bar && !b.isMemory()) ? pio : mmio, base + off, in);
            }
            case 6 -> { // anywhere in a decoded BAR
                List<PciBar> bars = d.bars();
                if (bars.isEmpty()) {
                    return;
                }
                PciBar b = bars.get(in.u8() % bars.size());
                long base = d.decodedAddress(b.index());
                if (base >= 0) {
                    access(b.isMemory() ? mmio : pio, base + (in.u64() & Long.MAX_VALUE) % b.size(), in);
                }
            }
            case 7, 8 -> { // MSI (any register) or MSI-X message control
                int[] cap = d.config().findCapabilities(kind == 7 ? MsiCapability.CAP_ID : MsixCapability.CAP_ID);
                if (cap.length == 0) {
                    return;
                }
                if (kind == 7) {
                    int size = SIZES[in.u8() % 3];
                    policy.write(cap[0] + (in.u8() % 0x18 & -size), size, in.u32());
                } else {
                    policy.write(cap[0] + MsixCapability.MESSAGE_CONTROL, 2, in.u16() & 0xc000 | in.u8() % 2);
                }
            }
            case 9 -> policy.write(0x30, 4, in.u8() % 2 == 0 ? -1 : in.u32()); // the ROM BAR
            case 10 -> { // a PCIe or PM capability the guest is shown
                int[] exp = d.config().findCapabilities(PassedCapabilities.CAP_EXP);
                int[] pm = d.config().findCapabilities(PassedCapabilities.CAP_PM);
                int[] caps = in.u8() % 2 == 0 ? exp : pm;
                if (caps.length == 0) {
                    return;
                }
                int size = SIZES[in.u8() % 4];
                int off = caps[in.u8() % caps.length] + in.u8() % 0x40;
                if (in.u8() % 2 == 0) {
                    policy.write(off, size, in.u32());
                } else {
                    readConfig(d, off, size);
                }
            }
            default -> { // the ROM, where decoded
                int rom = d.config().get(0x30, 4);
                if ((rom & 1) != 0 && d.romSize() > 0) {
                    access(mmio, (rom & 0xfffff800L) + in.u32() % d.romSize(), in);
                }
            }
        }
    }

    private static void readConfig(VfioPciDevice d, int off, int size) {
        long v = d.configRead(off, size) & 0xffff_ffffL;
        assertEquals(0, v & ~mask(size), () -> "config read of " + size + " bytes at 0x" + Integer.toHexString(off)
                + " returned 0x" + Long.toHexString(v));
    }

    private static void access(Bus bus, long addr, FuzzCursor in) {
        int size = new int[] {1, 2, 4, 8}[in.u8() % 4];
        if (in.u8() % 2 == 0) {
            bus.write(addr, size, in.u64() & mask(size));
        } else {
            long v = bus.read(addr, size);
            assertEquals(0, v & ~mask(size), () -> bus.name() + " read of " + size + " bytes at 0x"
                    + Long.toHexString(addr) + " returned 0x" + Long.toHexString(v));
        }
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /** After each operation: slots inside their BAR's mmaps where the BAR is decoded; the interrupt kind on VFIO. */
    private static void check(VfioPciDevice d, FakeVfioDevice fake, FakeIrqs irqs, FakeSlots slots, Set<Long> places) {
        for (PciBar b : d.bars()) {
            long at = d.decodedAddress(b.index());
            if (at >= 0) {
                for (VfioPciDevice.Piece p : d.pieces(b.index())) {
                    places.add(at + p.offset());
                }
            }
        }
        int rom = d.config().get(0x30, 4);
        places.add(rom & 0xfffff800L);
        for (FakeSlots.Slot s : slots.live.values()) {
            boolean ok = false;
            for (PciBar b : d.bars()) {
                long at = d.decodedAddress(b.index());
                if (at < 0 || s.gpa() < at || s.gpa() + s.size() > at + b.size()) {
                    continue;
                }
                for (FakeVfioDevice.Mapping m : fake.mappings) {
                    ok |= m.index() == b.index() && !m.unmapped() && m.map().address() == s.hva()
                            && m.offset() == s.gpa() - at && m.length() == s.size();
                }
            }
            assertTrue(ok, () -> "slot " + s + " is not a live mmap of a BAR at its decoded place");
        }
        int want;
        int[] msi = d.config().findCapabilities(MsiCapability.CAP_ID);
        if (d.msix() != null && d.msix().enabled()) {
            want = VFIO_PCI_MSIX_IRQ_INDEX;
        } else if (msi.length > 0 && (d.config().get(msi[0] + MsiCapability.CONTROL, 2) & MsiCapability.CONTROL_ENABLE) != 0) {
            want = VFIO_PCI_MSI_IRQ_INDEX;
            int mmc = (d.config().get(msi[0] + MsiCapability.CONTROL, 2) >>> 1) & 7;
            int mme = (d.config().get(msi[0] + MsiCapability.CONTROL, 2) >>> 4) & 7;
            if (fake.enabledIndex == want) {
                assertEquals(1 << Math.min(mme, mmc), fake.enabledCount, "MSI vectors on the device");
            }
        } else {
            want = d.config().get(PciConfigSpace.INTERRUPT_PIN, 1) != 0 ? VFIO_PCI_INTX_IRQ_INDEX : -1;
        }
        if (fake.enabledIndex == -1 && fake.refusedIrqSets > 0) {
            return; // the device refused the kind the guest wants (its VFIO irq count is smaller): logged, none on
        }
        assertEquals(want, fake.enabledIndex, () -> "the interrupt kind on the device (" + fake.irqSets + ")");
        if (want == VFIO_PCI_MSIX_IRQ_INDEX && fake.enabledIndex == want) {
            assertEquals(d.msix().vectors(), fake.enabledCount, "MSI-X vectors on the device");
        }
    }

    /** After close() (or a refused construction): nothing left. */
    private static void released(FakeVfioDevice fake, FakeIrqs irqs, FakeSlots slots) {
        assertTrue(fake.closed, "the device is closed");
        assertEquals(-1, fake.enabledIndex, () -> "interrupts left enabled on the device: " + fake.irqSets);
        assertTrue(slots.live.isEmpty(), () -> "slots left: " + slots.live);
        for (FakeVfioDevice.Mapping m : fake.mappings) {
            assertTrue(m.unmapped(), () -> "mmap of region " + m.index() + " left");
        }
        for (FakeIrqs.Vector v : irqs.vectors) {
            assertTrue(v.closed && !v.fd.isOpen(), "an MSI vector left open");
        }
        for (FakeIrqs.Level l : irqs.levels) {
            assertTrue(l.closed && !l.trigger.isOpen() && !l.resample.isOpen(), "the INTx irqfd or its eventfds left open");
        }
    }

    /**
     * What the guest may write to the device's config space: the command register's passed bits, and the
     * non-emulated bytes of the PCIe and PM capabilities jvmm shows, at the same place and with the guest's values.
     * {@link #write} performs a guest write and notes what it allows through; {@link #verify} checks every write that
     * reached the device since.
     */
    private static final class Policy {
        private final VfioPciDevice d;
        private final FakeVfioDevice fake;
        /** Per device config byte: 0 never writable by the guest; 1 in a passed capability, not emulated. */
        private final byte[] passable;
        /**
         * Per device config byte: each passed capability's (id, start) it is a non-emulated byte of; a malformed list
         * may make two passed capabilities overlap, and then a byte is both (the guest may write it through either).
         */
        private final List<List<Integer>> capOf;
        private int seen;
        /** Bytes allowed from the last guest write: device offset -> value (or -1 for the command register). */
        private final java.util.Map<Integer, Integer> allowed = new java.util.HashMap<>();
        private int cmdBefore;

        Policy(VfioPciDevice d, FakeVfioDevice fake, byte[] original) {
            this.d = d;
            this.fake = fake;
            passable = new byte[original.length];
            capOf = new ArrayList<>();
            for (int i = 0; i < original.length; i++) {
                capOf.add(new ArrayList<>());
            }
            boolean[] forbidden = new boolean[original.length];
            for (int i = 0; i < 0x40; i++) {
                forbidden[i] = true;
            }
            for (int[] c : FakeVfioDevice.capList(original)) {
                int id = c[0], at = c[1];
                if (id == 0x05 || id == 0x11) {
                    for (int i = at; i < Math.min(at + (id == 0x05 ? 0x18 : 12), original.length); i++) {
                        forbidden[i] = true;
                    }
                }
            }
            Set<Integer> seenIds = new HashSet<>(); // jvmm passes the first PCIe and the first PM capability only
            for (int[] c : FakeVfioDevice.capList(original)) {
                int id = c[0], at = c[1];
                int length;
                boolean endpoint = false;
                if ((id == PassedCapabilities.CAP_EXP || id == PassedCapabilities.CAP_PM) && !seenIds.add(id)) {
                    continue;
                }
                if (id == PassedCapabilities.CAP_EXP) {
                    int flags = (original[at + 2] & 0xff) | (original[at + 3] & 0xff) << 8;
                    int type = (flags >>> 4) & 0xf;
                    if (type != 0 && type != 9) {
                        continue;
                    }
                    endpoint = type == 0;
                    length = (flags & 0xf) >= 2 ? 0x3c : 0x14;
                } else if (id == PassedCapabilities.CAP_PM) {
                    length = 8;
                } else {
                    continue;
                }
                boolean[] emulated = new boolean[length];
                emulated[0] = emulated[1] = true;
                if (endpoint) {
                    emulated[2] = true;
                    for (int[] r : EXP_LINK) {
                        for (int i = 0; i < r[1] && r[0] + i < length; i++) {
                            emulated[r[0] + i] = true;
                        }
                    }
                }
                for (int i = 0; i < length && at + i < original.length; i++) {
                    if (!emulated[i] && !forbidden[at + i]) {
                        passable[at + i] = 1;
                        capOf.get(at + i).add(id << 16 | at);
                    }
                }
            }
        }

        /** A guest config write through the function; notes which device bytes it may reach. */
        void write(int off, int size, int value) {
            verify();
            allowed.clear();
            cmdBefore = fake.config.length > 5 ? (fake.config[4] & 0xff) | (fake.config[5] & 0xff) << 8 : 0;
            // the guest's copy of a PCIe or PM capability: the device bytes at the same place in the device's one
            if (off >= 0x40 && d.config().validAccess(off, size)) {
                for (int id : new int[] {PassedCapabilities.CAP_EXP, PassedCapabilities.CAP_PM}) {
                    for (int g : d.config().findCapabilities(id)) {
                        for (int i = 0; i < size; i++) {
                            int rel = off + i - g;
                            if (rel < 0 || rel >= 0x3c) {
                                continue;
                            }
                            for (int p = 0; p < passable.length; p++) {
                                for (int c : capOf.get(p)) {
                                    if (c >> 16 == id && p - (c & 0xffff) == rel) {
                                        allowed.put(p, (value >>> (8 * i)) & 0xff);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            d.configWrite(off, size, value);
        }

        /** Every config write that reached the device since the last check was allowed by the guest write before it. */
        void verify() {
            for (; seen < fake.configWrites.size(); seen++) {
                FakeVfioDevice.ConfigWrite w = fake.configWrites.get(seen);
                if (w.offset() == PciConfigSpace.COMMAND && w.size() == 2) {
                    int guest = d.config().get(PciConfigSpace.COMMAND, 2);
                    assertEquals(cmdBefore & ~CMD_PASSED, w.value() & 0xffff & ~CMD_PASSED,
                            () -> "command write changed the device's own bits: " + w);
                    assertEquals(guest & CMD_PASSED, w.value() & CMD_PASSED, () -> "command write " + w
                            + " does not carry the guest's bits 0x" + Integer.toHexString(guest));
                    continue;
                }
                for (int i = 0; i < w.size(); i++) {
                    int p = w.offset() + i;
                    int b = (w.value() >>> (8 * i)) & 0xff;
                    assertTrue(p < passable.length && passable[p] == 1, () -> String.format(
                            "config write %s reached device byte 0x%x, which the guest may not write", w, p));
                    Integer want = allowed.get(p);
                    assertNotNull(want, () -> String.format("config write %s reached device byte 0x%x, which the "
                            + "guest's last write (allowed %s) did not address", w, p, allowed.keySet()));
                    assertEquals(want.intValue(), b, () -> String.format("config write %s: device byte 0x%x", w, p));
                }
            }
        }
    }
}
