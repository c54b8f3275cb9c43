package dev.jvmm.sys.kvm;

import dev.jvmm.sys.state.StateFormatException;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.sys.kvm.uapi.KvmDebugregs;
import dev.jvmm.sys.kvm.uapi.KvmIrqchip;
import dev.jvmm.sys.kvm.uapi.KvmLapicState;
import dev.jvmm.sys.kvm.uapi.KvmPitState2;
import dev.jvmm.sys.kvm.uapi.KvmRegs;
import dev.jvmm.sys.kvm.uapi.KvmSregs;
import dev.jvmm.sys.kvm.uapi.KvmVcpuEvents;
import dev.jvmm.sys.kvm.uapi.KvmXcrs;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The binary form of VcpuState and VmState, without KVM: round trips, and what a bad stream gets. */
class StateEncodingTest {
    private static final int XSAVE = 4096 + 64; // larger than the fixed struct, as with KVM_GET_XSAVE2
    private static final List<CpuidEntry> CPUID = List.of(new CpuidEntry(0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69),
            new CpuidEntry(1, 0, 0, 0x806f8, 0x800, 0xfffa3203, 0x178bfbff),
            new CpuidEntry(0xd, 1, CpuidEntry.KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0xf, 0x240, 0, 0));
    private static final long[][] MSRS = {{0x10, 123456789L}, {0x174, 0x1234}, {0xC0000102L, -1L}};

    // byte offsets in a VcpuState stream with the sample's sizes
    private static final int XSAVE_LEN = 8 + 4 + 4 + (4 + KvmRegs.SIZEOF) + (4 + KvmSregs.SIZEOF);
    private static final int LAPIC_LEN = XSAVE_LEN + 4 + XSAVE + 4 + KvmXcrs.SIZEOF + 4 + KvmDebugregs.SIZEOF;
    private static final int CPUID_COUNT = LAPIC_LEN + 4 + KvmLapicState.SIZEOF + 4;
    private static final int MSRS_COUNT = CPUID_COUNT + 4 + CPUID.size() * 28;

    static byte[] pattern(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    static VcpuState sampleVcpu() {
        Regs r = new Regs();
        r.rax = 1;
        r.rbx = 0x1122334455667788L;
        r.r15 = -2;
        r.rip = 0x100b;
        r.rsp = 0x8000;
        r.rflags = 0x202;
        Sregs s = new Sregs();
        s.setFlatSegments(Segment.flat(0x8, true, true), Segment.flat(0x10, false, false));
        s.tr.selector = 0x18;
        s.tr.type = 0xb;
        s.gdtBase = 0x500;
        s.gdtLimit = 0x27;
        s.idtLimit = 0x3ff;
        s.cr0 = 0x80000011L;
        s.cr3 = 0x2000;
        s.cr4 = 0x20;
        s.efer = 0x500;
        s.apicBase = 0xfee00900L;
        return new VcpuState(2, KvmConstants.KVM_MP_STATE_HALTED, r, s, pattern(XSAVE, 1), pattern(KvmXcrs.SIZEOF, 2),
                pattern(KvmDebugregs.SIZEOF, 3), pattern(KvmLapicState.SIZEOF, 4), 2_995_200, CPUID, MSRS,
                pattern(KvmVcpuEvents.SIZEOF, 5));
    }

    static VmState sampleVm() {
        return new VmState(pattern(KvmPitState2.SIZEOF, 6),
                new ClockData(123_456_789_000L, KvmConstants.KVM_CLOCK_REALTIME | KvmConstants.KVM_CLOCK_TSC_STABLE,
                        1_700_000_000_000_000_000L, 0x1234_5678_9abcL),
                pattern(KvmIrqchip.CHIP_SIZE, 7), pattern(KvmIrqchip.CHIP_SIZE, 8), pattern(KvmIrqchip.CHIP_SIZE, 9));
    }

    static byte[] bytes(VcpuState v) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        v.write(new DataOutputStream(b));
        return b.toByteArray();
    }

    static byte[] bytes(VmState v) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        v.write(new DataOutputStream(b));
        return b.toByteArray();
    }

    static DataInputStream in(byte[] b) {
        return new DataInputStream(new ByteArrayInputStream(b));
    }

    static VcpuState readVcpu(byte[] b) throws IOException {
        return VcpuState.read(in(b), StateLimits.DEFAULT);
    }

    static byte[] patchInt(byte[] b, int offset, int value) {
        byte[] c = b.clone();
        ByteBuffer.wrap(c).putInt(offset, value);
        return c;
    }

    @Test
    void vcpuStateRoundTrips() throws IOException {
        VcpuState v = sampleVcpu();
        byte[] b = bytes(v);
        VcpuState back = readVcpu(b);
        assertEquals(2, back.vcpuId());
        assertEquals(KvmConstants.KVM_MP_STATE_HALTED, back.mpState());
        assertEquals(0x1122334455667788L, back.regs().rbx);
        assertEquals(-2, back.regs().r15);
        assertEquals(0x100b, back.regs().rip);
        assertEquals(0x202, back.regs().rflags);
        assertEquals(0x18, back.sregs().tr.selector);
        assertEquals(1, back.sregs().cs.l);
        assertEquals(0x27, back.sregs().gdtLimit);
        assertEquals(0x80000011L, back.sregs().cr0);
        assertEquals(0xfee00900L, back.sregs().apicBase);
        assertArrayEquals(v.xsave(), back.xsave());
        assertArrayEquals(v.xcrs(), back.xcrs());
        assertArrayEquals(v.debugregs(), back.debugregs());
        assertArrayEquals(v.lapic(), back.lapic());
        assertArrayEquals(v.vcpuEvents(), back.vcpuEvents());
        assertEquals(2_995_200, back.tscKhz());
        assertEquals(CPUID, back.cpuid());
        assertTrue(Arrays.deepEquals(MSRS, back.msrs()), "MSRs, index 0xC0000102 read back unsigned");
        assertArrayEquals(b, bytes(back), "written again, the same bytes");
    }

    @Test
    void vmStateRoundTrips() throws IOException {
        VmState v = sampleVm();
        byte[] b = bytes(v);
        VmState back = VmState.read(in(b));
        assertArrayEquals(v.pit2(), back.pit2());
        assertEquals(v.clock(), back.clock());
        assertArrayEquals(v.picMaster(), back.picMaster());
        assertArrayEquals(v.picSlave(), back.picSlave());
        assertArrayEquals(v.ioapic(), back.ioapic());
        assertArrayEquals(b, bytes(back));
    }

    @Test
    void statesFollowingEachOtherInOneStreamReadBackInTurn() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(b);
        sampleVm().write(out);
        sampleVcpu().write(out);
        sampleVcpu().write(out);
        out.writeInt(0xE0F);
        DataInputStream in = in(b.toByteArray());
        VmState.read(in);
        assertEquals(2, VcpuState.read(in, StateLimits.DEFAULT).vcpuId());
        assertEquals(2, VcpuState.read(in, StateLimits.DEFAULT).vcpuId());
        assertEquals(0xE0F, in.readInt(), "each read stops at the end of its state");
    }

    @Test
    void everyTruncationIsRefusedNamingTheField() throws IOException {
        byte[] vcpu = bytes(sampleVcpu());
        for (int cut = 0; cut < vcpu.length; cut++) {
            byte[] part = Arrays.copyOf(vcpu, cut);
            StateFormatException e = assertThrows(StateFormatException.class, () -> readVcpu(part), "cut at " + cut);
            assertTrue(e.getMessage().startsWith("VcpuState field " + e.field() + ": "), e.getMessage());
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
        assertEquals("magic", truncatedField(vcpu, 0));
        assertEquals("version", truncatedField(vcpu, 6));
        assertEquals("xsave", truncatedField(vcpu, XSAVE_LEN + 100));
        assertEquals("cpuid[1].ecx", truncatedField(vcpu, CPUID_COUNT + 4 + 28 + 5 * 4 + 1));
        assertEquals("msrs[2].value", truncatedField(vcpu, MSRS_COUNT + 4 + 2 * 12 + 4 + 3));
        assertEquals("vcpu_events", truncatedField(vcpu, vcpu.length - 1));

        byte[] vm = bytes(sampleVm());
        for (int cut = 0; cut < vm.length; cut++) {
            byte[] part = Arrays.copyOf(vm, cut);
            StateFormatException e = assertThrows(StateFormatException.class, () -> VmState.read(in(part)));
            assertTrue(e.getMessage().startsWith("VmState field " + e.field() + ": "), e.getMessage());
        }
        StateFormatException e = assertThrows(StateFormatException.class,
                () -> VmState.read(in(Arrays.copyOf(vm, 8 + 4 + KvmPitState2.SIZEOF + 8 + 2))));
        assertEquals("clock.flags", e.field());
        System.out.println("as expected: " + e.getMessage());
    }

    private static String truncatedField(byte[] b, int cut) {
        return assertThrows(StateFormatException.class, () -> readVcpu(Arrays.copyOf(b, cut))).field();
    }

    @Test
    void oversizedLengthsAndCountsAreRefusedBeforeAnythingIsAllocated() throws IOException {
        byte[] b = bytes(sampleVcpu());
        // followed by no data at all: only the length check can stop these
        assertRefused(Arrays.copyOf(patchInt(b, XSAVE_LEN, Integer.MAX_VALUE), XSAVE_LEN + 4), "xsave",
                "length 2147483647 is above the limit 65536");
        assertRefused(Arrays.copyOf(patchInt(b, XSAVE_LEN, -1), XSAVE_LEN + 4), "xsave", "length 4294967295 is above");
        assertRefused(patchInt(b, XSAVE_LEN, 100), "xsave", "length 100 is below the minimum 4096");
        assertRefused(Arrays.copyOf(patchInt(b, LAPIC_LEN, 1 << 30), LAPIC_LEN + 4), "lapic",
                "length 1073741824, expected 1024");
        assertRefused(patchInt(b, 16, KvmRegs.SIZEOF + 8), "regs", "expected 144");
        assertRefused(Arrays.copyOf(patchInt(b, CPUID_COUNT, 257), CPUID_COUNT + 4), "cpuid", "count 257 is outside 0..256");
        assertRefused(Arrays.copyOf(patchInt(b, MSRS_COUNT, Integer.MAX_VALUE), MSRS_COUNT + 4), "msrs",
                "count 2147483647 is outside 0..4096");
        assertRefused(Arrays.copyOf(patchInt(b, MSRS_COUNT, Integer.MIN_VALUE), MSRS_COUNT + 4), "msrs",
                "count 2147483648 is outside");

        byte[] vm = bytes(sampleVm());
        StateFormatException e = assertThrows(StateFormatException.class,
                () -> VmState.read(in(Arrays.copyOf(patchInt(vm, 8, Integer.MAX_VALUE), 12))));
        assertEquals("pit2", e.field());
        int ioapicLen = vm.length - 4 - KvmIrqchip.CHIP_SIZE;
        e = assertThrows(StateFormatException.class, () -> VmState.read(in(patchInt(vm, ioapicLen, 520))));
        assertEquals("ioapic", e.field());
        assertTrue(e.getMessage().contains("length 520, expected 512"), e.getMessage());
    }

    private static void assertRefused(byte[] b, String field, String problem) {
        StateFormatException e = assertThrows(StateFormatException.class, () -> readVcpu(b));
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
        System.out.println("as expected: " + e.getMessage());
    }

    @Test
    void tighterLimitsRefuseWhatTheDefaultsAccept() throws IOException {
        byte[] b = bytes(sampleVcpu());
        StateFormatException e = assertThrows(StateFormatException.class,
                () -> VcpuState.read(in(b), new StateLimits(4096, 4096, 256)));
        assertEquals("xsave", e.field());
        e = assertThrows(StateFormatException.class, () -> VcpuState.read(in(b), new StateLimits(XSAVE, 2, 256)));
        assertEquals("msrs", e.field());
        assertTrue(e.getMessage().contains("count 3 is outside 0..2"), e.getMessage());
        e = assertThrows(StateFormatException.class, () -> VcpuState.read(in(b), new StateLimits(XSAVE, 3, 2)));
        assertEquals("cpuid", e.field());
        assertEquals(3, VcpuState.read(in(b), new StateLimits(XSAVE, 3, 3)).msrs().length, "exactly at the limits");
        assertThrows(IllegalArgumentException.class, () -> new StateLimits(4095, 1, 1));
    }

    @Test
    void wrongVersionOrMagicIsRefused() throws IOException {
        byte[] b = bytes(sampleVcpu());
        assertRefused(patchInt(b, 4, 2), "version", "format version 2 is not supported (this jvmm reads version 1)");
        assertRefused(patchInt(b, 4, 0), "version", "format version 0");
        assertRefused(patchInt(b, 0, 0x12345678), "magic", "0x12345678 is not a VcpuState");
        assertRefused(bytes(sampleVm()), "magic", "is not a VcpuState");
        StateFormatException e = assertThrows(StateFormatException.class, () -> VmState.read(in(b)));
        assertEquals("magic", e.field());
        e = assertThrows(StateFormatException.class, () -> VmState.read(in(patchInt(bytes(sampleVm()), 4, 7))));
        assertEquals("version", e.field());
    }

    @Test
    void statesOfTheWrongShapeCannotBeBuilt() {
        VcpuState v = sampleVcpu();
        assertThrows(IllegalArgumentException.class, () -> new VcpuState(0, 0, v.regs(), v.sregs(), new byte[4095],
                v.xcrs(), v.debugregs(), v.lapic(), 1, List.of(), new long[0][], v.vcpuEvents()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new VcpuState(0, 0, v.regs(),
                v.sregs(), v.xsave(), v.xcrs(), v.debugregs(), new byte[1023], 1, List.of(), new long[0][],
                v.vcpuEvents()));
        assertTrue(e.getMessage().contains("lapic") && e.getMessage().contains("1024"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new VcpuState(0, 0, v.regs(), v.sregs(), v.xsave(), v.xcrs(),
                v.debugregs(), v.lapic(), 1, List.of(), new long[][] {{1}}, v.vcpuEvents()));
        assertThrows(IllegalArgumentException.class, () -> new VmState(new byte[KvmPitState2.SIZEOF], ClockData.of(0),
                new byte[KvmIrqchip.SIZEOF], new byte[KvmIrqchip.CHIP_SIZE], new byte[KvmIrqchip.CHIP_SIZE]));
    }

    @Test
    void sregsKeepTheInterruptBitmapThroughTheirBytes() {
        byte[] raw = sampleVcpu().sregs().toBytes();
        ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(KvmSregs.INTERRUPT_BITMAP + 8, 1L << 0x21);
        byte[] again = Sregs.fromBytes(raw).toBytes();
        assertArrayEquals(raw, again, "a pending external interrupt (vector 0x61) survives");
        assertArrayEquals(sampleVcpu().regs().toBytes(), Regs.fromBytes(sampleVcpu().regs().toBytes()).toBytes());
        assertThrows(IllegalArgumentException.class, () -> Regs.fromBytes(new byte[KvmRegs.SIZEOF - 1]));
    }

    @Test
    void clockAdvancesByRealtimeOnlyWhenOneWasRead() {
        ClockData withRealtime = sampleVm().clock();
        ClockData set = withRealtime.advancingByRealtime();
        assertEquals(KvmConstants.KVM_CLOCK_REALTIME, set.flags(), "only the flag KVM_SET_CLOCK acts on");
        assertEquals(withRealtime.realtime(), set.realtime());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new ClockData(5, KvmConstants.KVM_CLOCK_TSC_STABLE, 0, 0).advancingByRealtime());
        assertTrue(e.getMessage().contains("without KVM_CLOCK_REALTIME"), e.getMessage());
        assertEquals(new ClockData(5, 0, 0, 0), ClockData.of(5));
    }
}
