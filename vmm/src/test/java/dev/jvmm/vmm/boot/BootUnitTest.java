package dev.jvmm.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class BootUnitTest {
    /** A real Debian bzImage: the lab kit's (cached under /var/tmp/jvmm-lab), or $JVMM_TEST_BZIMAGE. */
    static Optional<Path> debianBzImage() throws IOException {
        String env = System.getenv("JVMM_TEST_BZIMAGE");
        if (env != null) {
            return Optional.of(Path.of(env));
        }
        Path kit = Path.of("/var/tmp/jvmm-lab/kit");
        if (!Files.isDirectory(kit)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(kit)) {
            return s.map(d -> d.resolve("vmlinuz")).filter(Files::isRegularFile).findFirst();
        }
    }

    @Test
    void parsesTheRealDebianBzImageHeader() throws IOException {
        Optional<Path> k = debianBzImage();
        assumeTrue(k.isPresent(), "no Debian bzImage here: build the lab kit (jvmm lab) or set JVMM_TEST_BZIMAGE");
        byte[] head;
        try (InputStream in = Files.newInputStream(k.get())) {
            head = in.readNBytes(BzImage.HEADER_BYTES);
        }
        BzImage h = BzImage.parse(head, Files.size(k.get()), k.get().toString());
        assertTrue(h.version() >= 0x020f, "Debian 6.x kernels use boot protocol 2.15+, got " + h.versionString());
        assertTrue(h.has64BitEntry());
        assertTrue(h.relocatable());
        assertEquals(0x100000, h.code32Start());
        assertEquals(2047, h.cmdlineSize());
        assertTrue(h.initSize() > Files.size(k.get()), "init_size covers the decompressed kernel");
        assertEquals(0x200000, h.kernelAlignment());
        // The same header on a cut file: refused before anything is loaded (the guest would halt silently).
        VmmException e = assertThrows(VmmException.class, () -> BzImage.parse(head, 3_000_000, "cut.bzImage"));
        assertTrue(e.getMessage().matches("cut\\.bzImage: truncated: 3000000 bytes, but its setup header says \\d+ .*"),
                e.getMessage());
    }

    @Test
    void rejectsImagesThatAreNotBzImages() {
        byte[] junk = new byte[BzImage.HEADER_BYTES];
        VmmException e = assertThrows(VmmException.class, () -> BzImage.parse(junk, 1 << 20, "junk.img"));
        assertTrue(e.getMessage().startsWith("junk.img: not a bzImage"), e.getMessage());
        byte[] old = new byte[BzImage.HEADER_BYTES];
        old[0x1fe] = 0x55;
        old[0x1ff] = (byte) 0xaa;
        old[0x202] = 'H';
        old[0x203] = 'd';
        old[0x204] = 'r';
        old[0x205] = 'S';
        old[0x206] = 0x02;
        old[0x207] = 0x02;
        e = assertThrows(VmmException.class, () -> BzImage.parse(old, 1 << 20, "old.img"));
        assertTrue(e.getMessage().contains("boot protocol 2.02 is too old"), e.getMessage());
    }

    @Test
    void e820CoversRamHoleAndEcam() {
        List<E820.Entry> small = E820.build(new Layout(512L << 20));
        assertEquals(List.of(new E820.Entry(0, 0x9fc00, E820.RAM), new E820.Entry(0x9fc00, 0x60400, E820.RESERVED),
                new E820.Entry(0x100000, (512L << 20) - 0x100000, E820.RAM),
                new E820.Entry(0xe000_0000L, 0x1000_0000L, E820.RESERVED)), small);
        List<E820.Entry> big = E820.build(new Layout(4L << 30));
        assertEquals(new E820.Entry(0x100000, 0xc000_0000L - 0x100000, E820.RAM), big.get(2));
        assertEquals(new E820.Entry(0x1_0000_0000L, 1L << 30, E820.RAM), big.get(4));
        long ram = big.stream().filter(x -> x.type() == E820.RAM).mapToLong(E820.Entry::size).sum();
        assertEquals((4L << 30) - 0x60400, ram); // all RAM but the EBDA/BIOS hole below 1 MiB
        assertEquals(0x1_4000_0000L, new Layout(4L << 30).mmio64Start());
    }

    @Test
    void gdtEntriesMatchTheFlatDescriptors() {
        assertEquals(0x00af_9b00_0000_ffffL, CpuBoot.gdtEntry(0xa09b, 0, 0xfffff));
        assertEquals(0x00cf_9300_0000_ffffL, CpuBoot.gdtEntry(0xc093, 0, 0xfffff));
    }

    @Test
    void findsThePvhNote() {
        // namesz=4 "Xen\0", descsz=4, type 18, entry 0x1000123
        byte[] note = {4, 0, 0, 0, 4, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0, 0x23, 0x01, 0x00, 0x01};
        assertEquals(0x1000123L, KernelLoader.pvhEntry(note));
        note[8] = 17;
        assertEquals(-1, KernelLoader.pvhEntry(note));
    }
}
