package dev.jvmm.core;

import dev.jvmm.sys.Native;
import dev.jvmm.sys.kvm.ExitReason;
import dev.jvmm.sys.kvm.Kvm;
import dev.jvmm.sys.kvm.Regs;
import dev.jvmm.sys.kvm.Sregs;
import dev.jvmm.sys.kvm.VcpuFd;
import dev.jvmm.sys.kvm.VmFd;
import java.util.ArrayList;
import java.util.List;

/**
 * A hand-made guest for kvm-tier tests: 1 MiB of RAM at 0 (2 MiB identity-mapped in long mode, so the
 * second MiB is unbacked and reaches the MMIO bus), one vcpu, a run loop that feeds port I/O and MMIO to
 * {@link Bus}es and collects what the guest writes to the serial port 0x3f8.
 */
public final class TinyGuest implements AutoCloseable {
    public static final long RAM_SIZE = 0x100000;
    public static final long CODE = 0x1000;
    public static final int SERIAL = 0x3f8;
    /** A guest write here ends {@link #runUntilDone}. */
    public static final int DONE_PORT = 0x501;

    public final Kvm kvm;
    public final VmFd vm;
    public final GuestMemory mem;
    public VcpuFd vcpu;
    public final Bus pio = new Bus("pio");
    public final Bus mmio = new Bus("mmio");
    public final StringBuilder serial = new StringBuilder();
    /** Every port I/O exit seen, as "port:direction". */
    public final List<String> ioExits = new ArrayList<>();
    /** Called with each byte the guest writes to the serial port. */
    public volatile java.util.function.IntConsumer serialListener = c -> { };

    public TinyGuest(boolean irqchip) {
        kvm = Kvm.open();
        vm = kvm.createVm();
        mem = GuestMemory.create(List.of(new GuestMemory.Range(0, RAM_SIZE)));
        mem.registerSlots(vm::setUserMemoryRegion, 0);
        vm.setTssAddr(0xfffbd000L);
        if (irqchip) {
            vm.createIrqchip();
        }
        pio.register(SERIAL, 8, new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return offset == 5 ? 0x60 : 0; // LSR: transmitter empty
            }

            @Override
            public void write(long offset, int size, long value) {
                if (offset == 0) {
                    serial.append((char) (value & 0xff));
                    serialListener.accept((int) (value & 0xff));
                }
            }
        }, "serial");
    }

    public void createVcpu() {
        vcpu = vm.createVcpu(0);
    }

    /** Real mode, CS = DS = 0, entry at {@link #CODE}. */
    public void realMode(byte[] code) {
        mem.write(CODE, code);
        if (vcpu == null) {
            createVcpu();
        }
        Sregs s = vcpu.getSregs();
        s.cs.base = 0;
        s.cs.selector = 0;
        s.ds.base = 0;
        s.ds.selector = 0;
        s.ss.base = 0;
        s.ss.selector = 0;
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = CODE;
        r.rsp = 0x8000;
        r.rflags = 2;
        vcpu.setRegs(r);
    }

    /** 64-bit long mode with 4-level paging: PML4 0x2000 → PDPT 0x3000 → PD 0x4000, one 2 MiB page at 0. */
    public void longMode(byte[] code) {
        mem.write(CODE, code);
        mem.putLong(0x2000, 0x3000 | 3);
        mem.putLong(0x3000, 0x4000 | 3);
        mem.putLong(0x4000, 0x83); // present, writable, 2 MiB page
        if (vcpu == null) {
            createVcpu();
        }
        // KVM on real VT-x/AMD-V refuses EFER.LME (KVM_SET_SREGS: EINVAL) unless the vcpu's CPUID offers long mode
        vcpu.setCpuid(kvm.supportedCpuid());
        Sregs s = vcpu.getSregs();
        s.enterLongMode(0x2000);
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = CODE;
        r.rsp = 0x8000;
        r.rflags = 2;
        vcpu.setRegs(r);
    }

    /**
     * Runs until HLT, a write to {@link #DONE_PORT}, or an unexpected exit (which throws). Port I/O goes to
     * {@link #pio}, MMIO to {@link #mmio}.
     */
    public ExitReason runUntilDone(int maxExits) {
        for (int n = 0; n < maxExits; n++) {
            ExitReason r = vcpu.run();
            switch (r) {
                case IO -> {
                    int port = vcpu.ioPort();
                    ioExits.add(port + ":" + (vcpu.ioIsOut() ? "out" : "in"));
                    if (port == DONE_PORT) {
                        return r;
                    }
                    for (int i = 0; i < vcpu.ioCount(); i++) {
                        long a = vcpu.ioDataAddress(i);
                        int size = vcpu.ioSize();
                        if (vcpu.ioIsOut()) {
                            pio.write(port, size, Native.getSized(a, size));
                        } else {
                            Native.putSized(a, size, pio.read(port, size));
                        }
                    }
                }
                case MMIO -> {
                    long a = vcpu.mmioDataAddress();
                    int len = vcpu.mmioLen();
                    if (vcpu.mmioIsWrite()) {
                        mmio.write(vcpu.mmioPhysAddr(), len, Native.getSized(a, len));
                    } else {
                        Native.putSized(a, len, mmio.read(vcpu.mmioPhysAddr(), len));
                    }
                }
                case HLT -> {
                    return r;
                }
                case INTR -> {
                }
                default -> throw new IllegalStateException("unexpected exit " + r + " (raw " + vcpu.rawExitReason()
                        + ") at rip 0x" + Long.toHexString(vcpu.getRegs().rip));
            }
        }
        throw new IllegalStateException("guest did not finish within " + maxExits + " exits; serial so far: " + serial);
    }

    /** Real-mode code that initialises the master/slave PIC (vector base 0x20) and sets the master mask. */
    public static byte[] picInit(int masterMask) {
        return new byte[] {
            (byte) 0xFA,                                    // cli
            (byte) 0xB0, 0x11, (byte) 0xE6, 0x20,           // ICW1: edge, cascade, ICW4
            (byte) 0xB0, 0x20, (byte) 0xE6, 0x21,           // ICW2: vector base 0x20
            (byte) 0xB0, 0x04, (byte) 0xE6, 0x21,           // ICW3
            (byte) 0xB0, 0x01, (byte) 0xE6, 0x21,           // ICW4: 8086
            (byte) 0xB0, (byte) masterMask, (byte) 0xE6, 0x21, // OCW1
        };
    }

    /** Real-mode tail: print 'R' (ready), enable interrupts and halt in a loop. */
    public static byte[] readyThenWait() {
        return new byte[] {
            (byte) 0xBA, (byte) 0xF8, 0x03,               // mov dx, 0x3f8
            (byte) 0xB0, 'R', (byte) 0xEE,                // out 'R'
            (byte) 0xFB,                                  // sti
            (byte) 0xF4,                                  // hlt
            (byte) 0xEB, (byte) 0xFD,                     // jmp hlt
        };
    }

    /** Enables the LAPIC in software with LINT0 = ExtINT (the PIC) and LINT1 = NMI, as a VMM does. */
    public void enableLapic() {
        byte[] lapic = vcpu.getLapic();
        putLe32(lapic, 0xF0, 0x1FF);
        putLe32(lapic, 0x350, 0x700);
        putLe32(lapic, 0x360, 0x400);
        vcpu.setLapic(lapic);
    }

    private static void putLe32(byte[] b, int off, int v) {
        for (int i = 0; i < 4; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }

    /** Installs a real-mode interrupt handler for {@code vector} at {@code handler}. */
    public void ivt(int vector, int handler, byte[] code) {
        mem.putShort(vector * 4L, handler);
        mem.putShort(vector * 4L + 2, 0);
        mem.write(handler, code);
    }

    /**
     * Runs the vcpu on a new thread; once the guest printed 'R' calls {@code fire}, then waits for the run to
     * end and returns its exit.
     */
    public ExitReason runFiringWhenReady(Runnable fire) throws Exception {
        java.util.concurrent.CountDownLatch ready = new java.util.concurrent.CountDownLatch(1);
        serialListener = c -> {
            if (c == 'R') {
                ready.countDown();
            }
        };
        java.util.concurrent.CompletableFuture<ExitReason> run = new java.util.concurrent.CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                run.complete(runUntilDone(100));
            } catch (Throwable e) {
                run.completeExceptionally(e);
            }
        }, "vcpu-0");
        t.setDaemon(true);
        t.start();
        if (!ready.await(60, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IllegalStateException("guest never became ready; serial: " + serial);
        }
        if (run.isDone()) {
            throw new IllegalStateException("guest left KVM_RUN before the interrupt: " + run.get());
        }
        fire.run();
        return run.get(60, java.util.concurrent.TimeUnit.SECONDS);
    }

    public static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    @Override
    public void close() {
        if (vcpu != null) {
            vcpu.close();
        }
        mem.close();
        vm.close();
        kvm.close();
    }
}
