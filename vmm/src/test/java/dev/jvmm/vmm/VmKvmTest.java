package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.testing.KvmTest;
import dev.jvmm.vmm.config.ConsoleSpec;
import dev.jvmm.vmm.config.VmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tiny hand-made kernels through the real launch path (bzImage loader, ACPI, devices, vCPU threads) on /dev/kvm. */
@KvmTest
class VmKvmTest {
    @TempDir
    Path tmp;

    private VmConfig config(Path kernel, int cpus, Path consoleFile) {
        return new VmConfig(kernel, null, "Zcmdline", 64L << 20, cpus,
                new ConsoleSpec(ConsoleSpec.Kind.FILE, consoleFile), VmConfig.OnReboot.EXIT);
    }

    private static java.util.Map<Integer, String> openFds() {
        return dev.jvmm.sys.testing.OpenFds.now();
    }

    @Test
    void bzImageWritesToSerialAndPowersOffThroughAcpi() throws Exception {
        Path k = FakeKernel.write(tmp, "hello.bzImage", FakeKernel.HELLO_POWEROFF);
        Path out = tmp.resolve("console.txt");
        java.util.Map<Integer, String> before = openFds();
        VmExit e = VmRunner.run(config(k, 1, out));
        assertEquals(VmExit.Kind.POWEROFF, e.kind(), e.message());
        assertEquals("OKZ\n", Files.readString(out)); // 'Z': first byte of the cmdline, found through the zero page
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(before), "every fd of the VM is closed after the run");
    }

    @Test
    void tripleFaultIsReportedWithRip() throws Exception {
        Path k = FakeKernel.write(tmp, "tf.bzImage", FakeKernel.TRIPLE_FAULT);
        VmExit e = VmRunner.run(config(k, 1, tmp.resolve("c.txt")));
        assertEquals(VmExit.Kind.TRIPLE_FAULT, e.kind());
        assertTrue(e.message().startsWith("guest triple-faulted (KVM_EXIT_SHUTDOWN) on vcpu 0 at rip 0x"), e.message());
        assertTrue(e.crashed());
    }

    @Test
    void corruptKernelFailsCleanlyAndLeavesNoFd() throws Exception {
        Path k = tmp.resolve("corrupt");
        byte[] junk = new byte[8192];
        new java.util.Random(1).nextBytes(junk);
        Files.write(k, junk);
        java.util.Map<Integer, String> before = openFds();
        try (Console c = Console.open(new ConsoleSpec(ConsoleSpec.Kind.FILE, tmp.resolve("c.txt")))) {
            VmmException x = assertThrows(VmmException.class, () -> VmBuilder.build(config(k, 1, null), c));
            assertEquals(VmmException.Reason.IMAGE, x.reason());
            assertTrue(x.getMessage().contains("not a kernel image jvmm can boot"), x.getMessage());
        }
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(before), "the failed build unwound every fd (kvm, vm, memory)");
    }

    @Test
    void secondVcpuStartsThroughInitSipi() throws Exception {
        Path k = FakeKernel.write(tmp, "smp.bzImage", FakeKernel.SMP_BSP);
        Path out = tmp.resolve("smp.txt");
        try (Console c = Console.open(new ConsoleSpec(ConsoleSpec.Kind.FILE, out));
                Vm vm = VmBuilder.build(config(k, 2, out), c)) {
            vm.memory().write(0x8000, FakeKernel.SMP_AP);
            assertEquals(2, vm.vcpuCount());
            VmExit e = vm.run();
            assertEquals(VmExit.Kind.POWEROFF, e.kind(), e.message());
        }
        assertEquals("AB\n", Files.readString(out));
    }

    @Test
    void extensionsAttachBeforeTheVcpusAndUnwindWithTheVm() throws Exception {
        Path k = FakeKernel.write(tmp, "ext.bzImage", FakeKernel.HELLO_POWEROFF);
        Path out = tmp.resolve("ext.txt");
        java.util.concurrent.atomic.AtomicInteger closed = new java.util.concurrent.atomic.AtomicInteger();
        long[] bar = new long[1];
        VmExtension ok = ctx -> {
            assertEquals(1, ctx.cpus());
            bar[0] = ctx.mmio32().allocate(0x4000, 0x4000);
            ctx.pio().register(0x5000, 4, new dev.jvmm.core.BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0x12;
                }

                @Override
                public void write(long offset, int size, long value) {
                }
            }, "test-dev");
            ctx.resources().push(closed::incrementAndGet);
        };
        java.util.Map<Integer, String> before = openFds();
        // with a virtio disk in the VM, the extension's MMIO32 space starts after the disk's BAR
        Path disk = tmp.resolve("ext-disk.img");
        java.nio.file.Files.write(disk, new byte[1 << 20]);
        VmConfig withDisk = config(k, 1, out).withDevices(java.util.List.of(new dev.jvmm.vmm.config.DiskConfig(disk, false,
                dev.jvmm.virtio.blk.CacheMode.WRITEBACK, null, 1)), java.util.List.of());
        try (Console c = Console.open(new ConsoleSpec(ConsoleSpec.Kind.FILE, out));
                Vm vm = VmBuilder.build(withDisk, c, java.util.List.of(ok))) {
            assertEquals(0x12, vm.pio().read(0x5000, 1));
            assertTrue(bar[0] >= dev.jvmm.vmm.boot.Layout.MMIO32_START + dev.jvmm.virtio.pci.VirtioPciDevice.BAR_SIZE,
                    "extension BAR at 0x" + Long.toHexString(bar[0]) + " overlaps the virtio disk's BAR");
            assertEquals(VmExit.Kind.POWEROFF, vm.run().kind());
            assertEquals(0, closed.get());
        }
        assertEquals(1, closed.get(), "the extension's resource closed with the VM");

        VmExtension failing = ctx -> {
            ctx.resources().push(closed::incrementAndGet);
            throw new VmmException(VmmException.Reason.CONFIG, "--disk: no such file");
        };
        try (Console c = Console.open(new ConsoleSpec(ConsoleSpec.Kind.FILE, out))) {
            VmmException x = assertThrows(VmmException.class,
                    () -> VmBuilder.build(config(k, 1, out), c, java.util.List.of(failing)));
            assertEquals("--disk: no such file", x.getMessage());
        }
        assertEquals(2, closed.get(), "a failing extension's resources are unwound");
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(before), "no fd left after either build");
    }
}
