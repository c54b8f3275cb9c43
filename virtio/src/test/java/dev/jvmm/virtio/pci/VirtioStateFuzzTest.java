package dev.jvmm.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.virtio.VirtioConstants;
import dev.jvmm.virtio.blk.AioMode;
import dev.jvmm.virtio.blk.BlockBackend;
import dev.jvmm.virtio.blk.CacheMode;
import dev.jvmm.virtio.blk.VirtioBlk;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Fuzz target: a virtio device's section of a saved state (a snapshot's or a migration's), restored the way a
 * restore loads it: {@link VirtioPciDevice#restoreState} of a virtio-blk transport with two queues over a small image
 * and 1 MiB of guest RAM (the MSI-X table, feature selects, driver features against those offered, status, each
 * queue's vector and ring state, checked against guest RAM, the device's own state, the PCI config space; a state
 * with DRIVER_OK activates the device on the restored rings). Seeds are states saved by a transport that a driver
 * had negotiated (PciTestDriver).
 * <p>Invariants: a state the transport refuses fails only with a {@link StateFormatException} whose message names
 * the device and the field, never another exception; every ring address the restored queues use lies in guest RAM
 * ({@link MemoryGuard}); an accepted state saves again (quiesced) to bytes that restore into a fresh transport, which
 * saves the same bytes when the device is not active (an active one serves its rings on its own threads meanwhile).
 */
class VirtioStateFuzzTest {
    static final String NAME = "virtio-blk-0";
    private static final Path IMG = image();

    @FuzzTest(maxDuration = "5m")
    void transportState(byte[] state) throws IOException {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        try (GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 1 << 20)));
                TestIrqs irqs = new TestIrqs();
                VirtioPciDevice dev = transport(mem, irqs)) {
            try {
                restore(dev, state);
            } catch (StateFormatException e) {
                assertTrue(e.getMessage().startsWith(NAME), e.getMessage());
                return;
            }
            // an active device (DRIVER_OK) serves its restored rings on its own threads: quiesced, as a save is
            dev.quiesce();
            byte[] saved = save(dev);
            boolean active = (dev.bar0().read(VirtioPciLayout.CommonCfg.DEVICE_STATUS, 1) & VirtioConstants.VIRTIO_CONFIG_S_DRIVER_OK) != 0;
            try (TestIrqs irqs2 = new TestIrqs(); VirtioPciDevice again = transport(mem, irqs2)) {
                restore(again, saved);
                again.quiesce();
                if (!active) { // (an active one may have served or signalled more before it was quiesced)
                    assertArrayEquals(saved, save(again), "the restored transport saves the state it took");
                }
            }
        }
    }

    static VirtioPciDevice transport(GuestMemory mem, TestIrqs irqs) {
        VirtioBlk blk = new VirtioBlk(NAME, BlockBackend.open(IMG.toString(), false, CacheMode.WRITEBACK), 2,
                "jvmm-fuzz", AioMode.THREADS);
        return new VirtioPciDevice(blk, mem, irqs, null, -1);
    }

    static void restore(VirtioPciDevice dev, byte[] state) throws IOException {
        dev.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), NAME));
    }

    static byte[] save(VirtioPciDevice dev) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        dev.saveState(new DataOutputStream(b));
        return b.toByteArray();
    }

    private static Path image() {
        try {
            Path p = Files.createTempFile("jvmm-virtio-state-fuzz", ".img");
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(1 << 20);
            }
            p.toFile().deleteOnExit();
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
