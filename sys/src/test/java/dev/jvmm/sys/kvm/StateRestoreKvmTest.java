package dev.jvmm.sys.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.sys.kvm.uapi.KvmDebugregs;
import dev.jvmm.sys.kvm.uapi.KvmIrqchip;
import dev.jvmm.sys.kvm.uapi.KvmPitChannelState;
import dev.jvmm.sys.kvm.uapi.KvmXsave;
import dev.jvmm.sys.testing.KvmTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * kvm tier: a vCPU's and a VM's state taken out of one VM (full in-kernel irqchip and PIT2), through the binary
 * encoding, and put into a second VM with a copy of the first one's memory, where the guest goes on counting.
 */
@KvmTest
class StateRestoreKvmTest {
    private static final long RAM = 0x10000;
    private static final int CODE = 0x1000;
    private static final int COUNTER = 0x1800;
    private static final int PORT = 0x500;
    private static final int MSR_IA32_SYSENTER_CS = 0x174;
    private static final int MSR_IA32_TSC = 0x10;
    private static final int APIC_SPIV = 0xF0;
    private static final int PIC_IMR = KvmIrqchip.CHIP_PIC_IMR - KvmIrqchip.CHIP;
    private static final int PIC_IRQ_BASE = KvmIrqchip.CHIP_PIC_IRQ_BASE - KvmIrqchip.CHIP;
    /** IOAPIC redirection entry 5 in the {@code chip} union: set from here (masked, vector 0x35). */
    private static final int IOAPIC_RTE5 = KvmIrqchip.CHIP_IOAPIC_REDIRTBL - KvmIrqchip.CHIP + 5 * 8;
    private static final long RTE5 = 0x10035L;

    /**
     * Real-mode guest: programs the PIC (mask 0xA5) and PIT channel 0 (mode 2, count 0x1000), all in the kernel, then
     * loops: {@code inc dword [COUNTER]; inc ebx; out PORT, al}. Each OUT is one exit, so after n exits the counter
     * and EBX are n.
     */
    private static final byte[] PRELUDE = {
        (byte) 0xB0, 0x11, (byte) 0xE6, 0x20,            // ICW1
        (byte) 0xB0, 0x20, (byte) 0xE6, 0x21,            // ICW2: vector base 0x20
        (byte) 0xB0, 0x04, (byte) 0xE6, 0x21,            // ICW3
        (byte) 0xB0, 0x01, (byte) 0xE6, 0x21,            // ICW4
        (byte) 0xB0, (byte) 0xA5, (byte) 0xE6, 0x21,     // OCW1: IMR = 0xA5
        (byte) 0xB0, 0x34, (byte) 0xE6, 0x43,            // PIT: channel 0, lobyte/hibyte, mode 2
        (byte) 0xB0, 0x00, (byte) 0xE6, 0x40,            // count low
        (byte) 0xB0, 0x10, (byte) 0xE6, 0x40,            // count high: 0x1000
        (byte) 0xBA, (byte) PORT, (byte) (PORT >> 8),    // mov dx, PORT
    };
    private static final int LOOP = CODE + PRELUDE.length;
    private static final byte[] LOOP_CODE = {
        0x66, (byte) 0xFF, 0x06, (byte) COUNTER, (byte) (COUNTER >> 8), // inc dword [COUNTER]
        0x66, 0x43,                                                     // inc ebx
        (byte) 0xEE,                                                    // out dx, al
        (byte) 0xEB, (byte) (-10),                                      // jmp LOOP
    };
    /** Where RIP is once an OUT has completed. */
    private static final int JMP = LOOP + 8;

    /** A VM with RAM at 0, the in-kernel irqchip and PIT2, as jvmm builds one. */
    private static VmFd newVm(Kvm kvm, Mmap ram) {
        VmFd vm = kvm.createVm();
        try {
            vm.setUserMemoryRegion(0, 0, 0, RAM, ram.address());
            vm.setTssAddr(0xfffbd000L);
            vm.createIrqchip();
            vm.createPit2(KvmConstants.KVM_PIT_SPEAKER_DUMMY);
            return vm;
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /** Runs until {@code n} OUTs to {@link #PORT}; any other exit but an interruption fails. */
    private static void runOuts(VcpuFd vcpu, int n) {
        int outs = 0;
        for (int exits = 0; outs < n; exits++) {
            assertTrue(exits < 1000, "guest made only " + outs + " of " + n + " OUTs");
            ExitReason r = vcpu.run();
            if (r == ExitReason.INTR) {
                continue;
            }
            assertEquals(ExitReason.IO, r, () -> "exit at rip 0x" + Long.toHexString(vcpu.getRegs().rip));
            assertEquals(PORT, vcpu.ioPort());
            assertTrue(vcpu.ioIsOut());
            outs++;
        }
    }

    private static int counter(Mmap ram) {
        return Native.getInt(ram.address() + COUNTER);
    }

    private static int le32(byte[] b, int off) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(off);
    }

    private static long le64(byte[] b, int off) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(off);
    }

    @Test
    void guestGoesOnCountingInASecondVmAfterStateAndMemoryAreCarriedOver() throws IOException {
        try (Kvm kvm = Kvm.open(); Mmap ram1 = Mmap.anonymous(RAM, "ram-1"); VmFd vm1 = newVm(kvm, ram1);
                VcpuFd cpu1 = vm1.createVcpu(0)) {
            Native.put(ram1.address() + CODE, PRELUDE, 0, PRELUDE.length);
            Native.put(ram1.address() + LOOP, LOOP_CODE, 0, LOOP_CODE.length);
            cpu1.setCpuid(kvm.supportedCpuid());
            Sregs s = cpu1.getSregs();
            for (Segment seg : new Segment[] {s.cs, s.ds, s.ss}) {
                seg.base = 0;
                seg.selector = 0;
            }
            cpu1.setSregs(s);
            Regs r = new Regs();
            r.rip = CODE;
            r.rsp = 0x8000;
            r.rflags = 2;
            cpu1.setRegs(r);
            // state the guest does not touch, set from here so that its arrival can be checked
            cpu1.setMsrs(new long[][] {{MSR_IA32_SYSENTER_CS, 0x1234}});
            byte[] dr = cpu1.getDebugregs();
            ByteBuffer.wrap(dr).order(ByteOrder.LITTLE_ENDIAN).putLong(KvmDebugregs.DB, 0xdead0000L);
            cpu1.setDebugregs(dr);
            byte[] lapic = cpu1.getLapic();
            ByteBuffer.wrap(lapic).order(ByteOrder.LITTLE_ENDIAN).putInt(APIC_SPIV, 0x1FF);
            cpu1.setLapic(lapic);
            byte[] ioapic = vm1.getIrqchip(KvmConstants.KVM_IRQCHIP_IOAPIC);
            ByteBuffer.wrap(ioapic).order(ByteOrder.LITTLE_ENDIAN).putLong(IOAPIC_RTE5, RTE5);
            vm1.setIrqchip(KvmConstants.KVM_IRQCHIP_IOAPIC, ioapic);

            runOuts(cpu1, 5);
            assertEquals(5, counter(ram1));
            assertEquals(ExitReason.INTR, cpu1.completePendingIo(), "the OUT completes without running the guest");
            assertEquals(JMP, cpu1.getRegs().rip, "RIP past the OUT");

            int xsaveSize = vm1.xsaveSize();
            VcpuState vcpuState = VcpuState.capture(cpu1, kvm, xsaveSize);
            VmState vmState = VmState.capture(vm1);
            assertEquals(KvmConstants.KVM_MP_STATE_RUNNABLE, vcpuState.mpState());
            assertEquals(5, vcpuState.regs().rbx);
            assertEquals(Math.max(KvmXsave.SIZEOF, xsaveSize), vcpuState.xsave().length);
            assertTrue(vcpuState.cpuid().size() > 1, "CPUID read back: " + vcpuState.cpuid().size());
            assertTrue(Arrays.stream(vcpuState.msrs()).anyMatch(m -> m[0] == MSR_IA32_SYSENTER_CS && m[1] == 0x1234));
            assertTrue(Arrays.stream(vcpuState.msrs()).anyMatch(m -> m[0] == MSR_IA32_TSC), "TSC among the MSRs");
            assertEquals(0xA5, vmState.picMaster()[PIC_IMR] & 0xff, "the guest's PIC mask");
            assertEquals(0x20, vmState.picMaster()[PIC_IRQ_BASE], "the guest's PIC vector base");
            assertEquals(2, vmState.pit2()[KvmPitChannelState.MODE], "PIT channel 0 in mode 2");
            assertEquals(0x1000, le32(vmState.pit2(), KvmPitChannelState.COUNT));
            assertEquals(RTE5, le64(vmState.ioapic(), IOAPIC_RTE5));

            // through the state file's encoding
            ByteArrayOutputStream file = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(file);
            vmState.write(out);
            vcpuState.write(out);
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(file.toByteArray()));
            VmState vmBack = VmState.read(in);
            VcpuState vcpuBack = VcpuState.read(in, StateLimits.DEFAULT);

            try (Mmap ram2 = Mmap.anonymous(RAM, "ram-2"); VmFd vm2 = newVm(kvm, ram2);
                    VcpuFd cpu2 = vm2.createVcpu(0)) {
                Native.copy(ram1.address(), ram2.address(), RAM);
                assertNotEquals(0xA5, vm2.getIrqchip(KvmConstants.KVM_IRQCHIP_PIC_MASTER)[PIC_IMR] & 0xff,
                        "a new VM's PIC is not the guest's yet");
                vmBack.restore(vm2);
                vcpuBack.restore(cpu2);

                Regs r2 = cpu2.getRegs();
                assertEquals(JMP, r2.rip);
                assertEquals(5, r2.rbx);
                assertEquals(0x1234, cpu2.getMsr(MSR_IA32_SYSENTER_CS));
                assertEquals(0xdead0000L, le64(cpu2.getDebugregs(), KvmDebugregs.DB));
                assertEquals(0x1FF, le32(cpu2.getLapic(), APIC_SPIV));
                // not the whole master PIC: the PIT (IRQ 0) keeps latching its IRR bit, masked or not
                byte[] master = vm2.getIrqchip(KvmConstants.KVM_IRQCHIP_PIC_MASTER);
                assertEquals(0xA5, master[PIC_IMR] & 0xff);
                assertEquals(0x20, master[PIC_IRQ_BASE]);
                assertArrayEquals(vmState.picSlave(), vm2.getIrqchip(KvmConstants.KVM_IRQCHIP_PIC_SLAVE));
                assertEquals(RTE5, le64(vm2.getIrqchip(KvmConstants.KVM_IRQCHIP_IOAPIC), IOAPIC_RTE5));
                byte[] pit2 = vm2.getPit2();
                assertEquals(2, pit2[KvmPitChannelState.MODE]);
                assertEquals(0x1000, le32(pit2, KvmPitChannelState.COUNT));
                long clock2 = vm2.getClock();
                assertTrue(clock2 >= vmState.clock().clock() - 1_000_000 && clock2 < vmState.clock().clock() + 60_000_000_000L,
                        "kvmclock goes on from the captured " + vmState.clock().clock() + " ns: " + clock2);

                runOuts(cpu2, 3);
                assertEquals(8, counter(ram2), "the counter went on from 5");
                assertEquals(8, cpu2.getRegs().rbx, "and so did EBX");
                assertEquals(5, counter(ram1), "the first VM's memory is untouched");
                System.out.printf("kvm state: counter 5 -> 8 in the second VM; xsave %d bytes, %d MSRs, %d CPUID entries,"
                        + " TSC %d kHz, clock %d ns (flags 0x%x), %d bytes encoded%n", vcpuState.xsave().length,
                        vcpuState.msrs().length, vcpuState.cpuid().size(), vcpuState.tscKhz(), vmState.clock().clock(),
                        vmState.clock().flags(), file.size());
            }
        }
    }

    @Test
    void msrIndexListAndXsaveSizeAnswer() {
        try (Kvm kvm = Kvm.open(); Mmap ram = Mmap.anonymous(RAM, "ram"); VmFd vm = newVm(kvm, ram);
                VcpuFd cpu = vm.createVcpu(0)) {
            int[] list = kvm.msrIndexList();
            assertTrue(Arrays.stream(list).anyMatch(i -> i == MSR_IA32_TSC), "MSR_IA32_TSC listed");
            assertTrue(vm.xsaveSize() >= KvmXsave.SIZEOF);
            cpu.setCpuid(kvm.supportedCpuid());
            List<Integer> unreadable = new ArrayList<>();
            long[][] msrs = cpu.getMsrs(list, unreadable::add);
            assertEquals(list.length, msrs.length + unreadable.size());
            System.out.printf("kvm: %d MSRs listed, %d readable, unreadable %s; xsave %d bytes%n", list.length,
                    msrs.length, unreadable.stream().map(Integer::toHexString).toList(), vm.xsaveSize());
        }
    }

    @Test
    void stateIoctlsThatFailNameTheIoctl() {
        try (Kvm kvm = Kvm.open(); VmFd bare = kvm.createVm(); VcpuFd cpu = bare.createVcpu(0)) {
            // a VM without the in-kernel irqchip and PIT: VM state capture fails at its first step
            ErrnoException e = assertThrows(ErrnoException.class, () -> VmState.capture(bare));
            assertEquals("KVM_GET_PIT2", e.op());
            e = assertThrows(ErrnoException.class, () -> bare.getIrqchip(KvmConstants.KVM_IRQCHIP_IOAPIC));
            assertEquals("KVM_GET_IRQCHIP", e.op());
            assertTrue(e.getMessage().contains("chip_id=2"), e.getMessage());
            // no kvmclock in the guest: the call callers tolerate
            e = assertThrows(ErrnoException.class, cpu::kvmclockCtrl);
            assertEquals("KVM_KVMCLOCK_CTRL", e.op());
            e = assertThrows(ErrnoException.class, () -> cpu.setMpState(0x7fff));
            assertEquals("KVM_SET_MP_STATE", e.op());
            System.out.println("as expected: " + e.getMessage());
        }
    }

    @Test
    void stateOfOneVcpuIdIsNotRestoredIntoAnother() {
        try (Kvm kvm = Kvm.open(); Mmap ram = Mmap.anonymous(RAM, "ram"); VmFd vm = newVm(kvm, ram);
                VcpuFd cpu0 = vm.createVcpu(0); VcpuFd cpu1 = vm.createVcpu(1)) {
            VcpuState s = VcpuState.capture(cpu0, kvm, vm.xsaveSize());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.restore(cpu1));
            assertTrue(e.getMessage().contains("vcpu 0 cannot be restored into vcpu 1"), e.getMessage());
        }
    }
}
