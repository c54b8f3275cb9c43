package dev.jvmm.vfio.pci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The hand-made seeds of {@link VfioPciDeviceFuzzTest#configAndBars}, written as what they describe, and the input
 * layout they follow (read by {@link FakeVfioDevice#decode} and the target, front to back, little-endian):
 * <ol>
 * <li>device flags (u8: bit 0 not PCI, 1 reset, 2 conventional config space, 3 ROM, 4 irq counts from the input,
 *     5 config region read-only); the 64-byte header;</li>
 * <li>the capability count (u8 % 9), then per capability its kind (u8 % 6: MSI-X, MSI, PCIe, PM, other ID, vendor
 *     specific), its offset (u8) and fields (MSI-X: control u16, table u32, PBA u32; MSI: control u16; PCIe: flags
 *     u16, device capabilities u32; PM: PMC u16, PMCSR u16; other: ID u8; vendor: length u8), chained in order;</li>
 * <li>byte patches (u8 % 8, each offset u16, value u8); per BAR 0..5 its region (size exponent u8 + 1, 0 none;
 *     flags u8: 1 not readable, 2 not writable, 4 mappable, 8 sparse areas: count u8 % 3, each page offset u16,
 *     pages u16); the ROM's size exponent (u8) with flag 3; irq index count and counts (u16) with flag 4;</li>
 * <li>MSI-X shown (u8 % 4 != 0); the operation count (u8 % 128) and the operations, each a kind (u8 % 12) and
 *     its arguments as {@code VfioPciDeviceFuzzTest.op} reads them.</li>
 * </ol>
 * {@link #seedsAreTheDescribedDevices} checks the files against these descriptions; run it with
 * {@code -Djvmm.writeSeeds=true} to write them again.
 */
class VfioPciSeeds {
    /** Bytes in input order. */
    static final class In {
        private final ByteArrayOutputStream b = new ByteArrayOutputStream();

        In u8(int v) {
            b.write(v);
            return this;
        }

        In u16(int v) {
            return u8(v & 0xff).u8(v >>> 8 & 0xff);
        }

        In u32(long v) {
            return u16((int) v & 0xffff).u16((int) (v >>> 16) & 0xffff);
        }

        In u64(long v) {
            return u32(v).u32(v >>> 32);
        }

        /** A 64-byte type 0 header. */
        In header(int vendor, int device, int classCode, int[] bars, int pin) {
            byte[] h = new byte[64];
            put(h, 0, 2, vendor);
            put(h, 2, 2, device);
            put(h, 8, 4, classCode << 8 | 1);
            for (int i = 0; i < 6; i++) {
                put(h, 0x10 + 4 * i, 4, bars[i]);
            }
            put(h, 0x2c, 2, vendor);
            put(h, 0x2e, 2, 0x0001);
            h[0x3d] = (byte) pin;
            b.writeBytes(h);
            return this;
        }

        byte[] bytes() {
            return b.toByteArray();
        }

        private static void put(byte[] h, int at, int size, int v) {
            for (int i = 0; i < size; i++) {
                h[at + i] = (byte) (v >>> (8 * i));
            }
        }
    }

    /**
     * A typical NIC VF (Intel X710 VF): FLR, no INTx, BAR0 64-bit prefetchable 64 KiB, BAR3 64-bit prefetchable
     * 16 KiB holding the MSI-X table (5 vectors at 0) and PBA (at 0x2000), both mappable; MSI-X at 0x70, PCIe v2
     * endpoint at 0xa0. The guest enables memory and bus mastering, enables MSI-X, programs and unmasks vector 0,
     * moves BAR0, reads its header and writes Device Control.
     */
    static byte[] nicVf() {
        return new In().u8(0x02).header(0x8086, 0x154c, 0x020000, new int[] {0x0c, 0, 0, 0x0c, 0, 0}, 0)
                .u8(2)
                .u8(0).u8(0x70).u16(0x0004).u32(0x0000_0003).u32(0x0000_2003)
                .u8(2).u8(0xa0).u16(0x0002).u32(0x0000_8fe2)
                .u8(0)
                .u8(17).u8(4).u8(0).u8(0).u8(15).u8(4).u8(0).u8(0)
                .u8(1)
                .u8(9)
                .u8(3).u16(0x0006).u8(0)
                .u8(8).u16(0x8000).u8(0)
                .u8(5).u8(0).u16(0).u8(2).u8(0).u64(0xfee0_0000L)
                .u8(5).u8(0).u16(8).u8(2).u8(0).u64(0x41)
                .u8(5).u8(0).u16(12).u8(2).u8(0).u64(0)
                .u8(4).u8(0).u32(0xd0000)
                .u8(1).u8(0).u8(0).u8(2)
                .u8(10).u8(0).u8(1).u8(0).u8(8).u8(0).u32(0x2810)
                .u8(5).u8(1).u8(0).u8(3).u8(1)
                .bytes();
    }

    /**
     * A device with MSI only (no MSI-X, no INTx): BAR0 32-bit 16 KiB mappable; PM at 0x40, MSI (4 vectors, 64-bit)
     * at 0x50, a PCIe RCiEP at 0x70. The guest sizes and places BAR0, programs MSI's address and data, enables 4
     * vectors, masks one, puts the function in D3hot and back through PMCSR.
     */
    static byte[] msiOnly() {
        return new In().u8(0x02).header(0x1b4b, 0x9235, 0x010601, new int[] {0, 0, 0, 0, 0, 0}, 0)
                .u8(3)
                .u8(3).u8(0x40).u16(0x0003).u16(0x0008)
                .u8(1).u8(0x50).u16(0x0084)
                .u8(2).u8(0x70).u16(0x0092).u32(0)
                .u8(0)
                .u8(15).u8(4).u8(0).u8(0).u8(0).u8(0).u8(0)
                .u8(0)
                .u8(8)
                .u8(2).u8(0).u8(0)
                .u8(2).u8(0).u8(1).u32(0xe000_0000L)
                .u8(3).u16(0x0006).u8(0)
                .u8(7).u8(2).u8(4).u32(0xfee0_0000L)
                .u8(7).u8(1).u8(0xc).u32(0x4041)
                .u8(7).u8(1).u8(2).u32(0x0021)
                .u8(7).u8(2).u8(0x10).u32(0x2)
                .u8(10).u8(1).u8(1).u8(0).u8(4).u8(0).u32(0x0003)
                .bytes();
    }

    /**
     * An INTx-only device (a Realtek 8139): no capabilities, INTA#, BAR0 I/O 256 bytes, BAR1 32-bit memory 256 bytes
     * (below a page: trapped), a 64 KiB expansion ROM. The guest enables I/O, memory and bus mastering, writes and
     * reads ports, enables the ROM and reads it, then sets INTx disable.
     */
    static byte[] intxOnly() {
        return new In().u8(0x0a).header(0x10ec, 0x8139, 0x020000, new int[] {0x01, 0, 0, 0, 0, 0}, 1)
                .u8(0)
                .u8(0)
                .u8(9).u8(0).u8(9).u8(0).u8(0).u8(0).u8(0).u8(0)
                .u8(16)
                .u8(1)
                .u8(7)
                .u8(3).u16(0x0007).u8(0)
                .u8(6).u8(0).u64(0x37).u8(0).u8(0).u64(0x10)
                .u8(6).u8(0).u64(0x37).u8(0).u8(1)
                .u8(6).u8(1).u64(0x40).u8(2).u8(1)
                .u8(9).u8(1).u32(0x8000_0001L)
                .u8(11).u32(0x10).u8(2).u8(1)
                .u8(3).u16(0x0407).u8(1)
                .bytes();
    }

    static Map<String, byte[]> seeds() {
        Map<String, byte[]> m = new TreeMap<>();
        m.put("seed-nic-vf-msix-pcie", nicVf());
        m.put("seed-msi-only", msiOnly());
        m.put("seed-intx-only", intxOnly());
        return m;
    }

    @Test
    void seedsAreTheDescribedDevices() throws IOException {
        Path dir = Path.of(System.getProperty("jvmm.repo.root", "."), "vfio/src/test/resources/dev/jvmm/vfio/pci/"
                + "VfioPciDeviceFuzzTestInputs/configAndBars");
        for (Map.Entry<String, byte[]> e : seeds().entrySet()) {
            Path f = dir.resolve(e.getKey());
            if (Boolean.getBoolean("jvmm.writeSeeds")) {
                Files.createDirectories(dir);
                Files.write(f, e.getValue());
            }
            assertArrayEquals(e.getValue(), Files.readAllBytes(f), e.getKey());
        }
    }
}
