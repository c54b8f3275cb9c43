package dev.jvmm.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzz target: the kernel file a user passes with {@code --kernel} (and an initrd), loaded by {@link
 * KernelLoader#load} into the guest RAM of a 16 MiB VM: a bzImage (setup header, boot protocol, syssize, init_size,
 * cmdline limit, zero page, E820) or an ELF vmlinux with a PVH note (program headers, PT_LOAD segments, PT_NOTE
 * walk, hvm_start_info). The input's last bytes pick the command line and whether an initrd is given; the rest is
 * the kernel file (seeds: the test kernels of {@code FakeKernel} and a small PVH ELF).
 * <p>Invariants: a file jvmm cannot boot is refused only with a {@link VmmException} of reason IMAGE (or CONFIG for a
 * command line the kernel does not accept) naming the file (or the option), never another exception (no index,
 * buffer or argument exception from an offset or size in the file); every write lands in guest RAM ({@link
 * GuestMemory} checks each range, {@link MemoryGuard} each native access); a loaded kernel has its boot data where
 * the boot protocol says (the "HdrS" zero page or the PVH start info).
 */
class KernelLoaderFuzzTest {
    private static final long MEMORY = 16L << 20;
    private static final Path DIR = scratch();
    private static final Path KERNEL = DIR.resolve("kernel");
    private static final Path INITRD = DIR.resolve("initrd");
    private static final Layout LAYOUT = new Layout(MEMORY);
    private static GuestMemory mem;

    @FuzzTest(maxDuration = "5m")
    void kernelFile(FuzzedDataProvider in) throws IOException {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        boolean initrd = in.consumeBoolean();
        String cmdline = switch (in.consumeInt(0, 2)) {
            case 0 -> "";
            case 1 -> "console=ttyS0 panic=-1";
            default -> "x".repeat(300);
        };
        Files.write(KERNEL, in.consumeRemainingAsBytes());
        GuestMemory m = memory();
        BootEntry e;
        try {
            e = KernelLoader.load(m, LAYOUT, KERNEL, initrd ? INITRD : null, cmdline, 0xe0000);
        } catch (VmmException x) {
            assertTrue(x.reason() == VmmException.Reason.IMAGE || x.reason() == VmmException.Reason.CONFIG,
                    x.reason() + ": " + x.getMessage());
            assertTrue(x.getMessage().startsWith(KERNEL.toString()) || x.getMessage().startsWith("--cmdline")
                    || initrd && x.getMessage().startsWith(INITRD.toString()), x.getMessage());
            return;
        }
        assertNotNull(e.description());
        if (e.mode() == BootEntry.Mode.PVH) {
            assertEquals(KernelLoader.HVM_START_MAGIC, m.getInt(Layout.PVH_START_INFO));
        } else {
            assertEquals(BzImage.HDRS_MAGIC, m.getInt(Layout.ZERO_PAGE + BzImage.OFF_HEADER));
            assertEquals(Layout.KERNEL_LOAD, e.mode() == BootEntry.Mode.LONG64 ? e.rip() - 0x200 : e.rip());
        }
    }

    /** One guest RAM for every run (a kernel only writes into it). */
    private static GuestMemory memory() {
        if (mem == null) {
            List<GuestMemory.Range> r = new ArrayList<>();
            for (Layout.Ram ram : LAYOUT.ram()) {
                r.add(new GuestMemory.Range(ram.start(), ram.size()));
            }
            mem = GuestMemory.create(r);
        }
        return mem;
    }

    private static Path scratch() {
        try {
            Path d = Files.createTempDirectory("jvmm-kernel-fuzz");
            Files.write(d.resolve("initrd"), new byte[8192]);
            d.toFile().deleteOnExit();
            d.resolve("initrd").toFile().deleteOnExit();
            d.resolve("kernel").toFile().deleteOnExit();
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
