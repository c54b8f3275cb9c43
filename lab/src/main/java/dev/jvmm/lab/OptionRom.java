package dev.jvmm.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The expansion ROM the lab gives L1's e1000e ({@code romfile=}), so that passing a ROM through is tested against a
 * known image: 64 KiB with a valid PCI ROM header (0xAA55, a "PCIR" data structure for 8086:10d3, one image, last
 * image bit set) whose code type is EFI (3), so SeaBIOS does not run it at L1's boot, and a fixed byte pattern after
 * the header. Linux reads it whole through {@code /sys/bus/pci/devices/BDF/rom}.
 */
public final class OptionRom {
    /** Size of the image: 128 units of 512 bytes. */
    public static final int SIZE = 64 * 1024;
    public static final String FILE = "e1000e.rom";

    private OptionRom() {
    }

    /** The image's bytes. */
    public static byte[] image() {
        byte[] b = new byte[SIZE];
        for (int i = 0x40; i < SIZE; i++) {
            b[i] = (byte) (i * 31 + (i >>> 8) * 7 + 0x5a);
        }
        b[0] = 0x55;
        b[1] = (byte) 0xaa;
        b[2] = (byte) (SIZE / 512);
        int pcir = 0x1c;
        b[0x18] = (byte) pcir;
        b[pcir] = 'P';
        b[pcir + 1] = 'C';
        b[pcir + 2] = 'I';
        b[pcir + 3] = 'R';
        put16(b, pcir + 4, 0x8086);
        put16(b, pcir + 6, 0x10d3);
        put16(b, pcir + 0x0a, 0x18); // length of the data structure
        b[pcir + 0x0f] = 0x02; // class: network controller (0x020000)
        put16(b, pcir + 0x10, SIZE / 512);
        b[pcir + 0x14] = 0x03; // code type: EFI
        b[pcir + 0x15] = (byte) 0x80; // last image
        return b;
    }

    private static void put16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
    }

    /** Writes the image into {@code dir} and returns its path. */
    public static Path write(Path dir) {
        Path p = dir.resolve(FILE);
        try {
            Files.write(p, image());
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot write " + p, e);
        }
        return p;
    }
}
