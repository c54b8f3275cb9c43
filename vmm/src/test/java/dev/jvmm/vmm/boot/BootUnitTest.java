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

    /**
     * A note whose name size, padded to 4 bytes, overflows an int is not the PVH note. Found by KernelLoaderFuzzTest
     * (the padded size made a negative offset).
     */
    @Test
    void aNoteWithAHugeNameSizeIsNoEntry() {
        byte[] note = {(byte) 0xfd, (byte) 0xff, (byte) 0xff, 0x7f, 4, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0, 0x23,
            0x01, 0x00, 0x01};
        assertEquals(-1, KernelLoader.pvhEntry(note));
    }

    /** A vmlinux with a PT_LOAD segment at 1 MiB and the PVH note, as the PVH seed of KernelLoaderFuzzTest. */
    static byte[] pvhElf() {
        java.nio.ByteBuffer e = java.nio.ByteBuffer.allocate(0x1100).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        e.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        e.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1).putLong(24, 0x100000).putLong(32, 64);
        e.putShort(52, (short) 64).putShort(54, (short) 56).putShort(56, (short) 2);
        e.putInt(64, 1).putInt(68, 5).putLong(72, 0x1000).putLong(80, 0x100000).putLong(88, 0x100000)
                .putLong(96, 0x100).putLong(104, 0x2000).putLong(112, 0x1000);
        e.putInt(120, 4).putInt(124, 4).putLong(128, 0x200).putLong(152, 24).putLong(160, 24).putLong(168, 4);
        e.putInt(0x200, 4).putInt(0x204, 8).putInt(0x208, 18).put(0x20c, (byte) 'X').put(0x20d, (byte) 'e')
                .put(0x20e, (byte) 'n').putLong(0x210, 0x100000);
        return e.array();
    }

    /**
     * Program header and segment offsets of 2^63 and above (negative as Java longs) or whose sum with the size
     * overflows are refused as IMAGE errors. Found by KernelLoaderFuzzTest: e_phoff 0xffff... reached FileChannel.read
     * as a negative position (IllegalArgumentException).
     */
    @Test
    void elfOffsetsPastTheFileAreImageErrors(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Layout layout = new Layout(16L << 20);
        try (dev.jvmm.core.GuestMemory mem = dev.jvmm.core.GuestMemory.create(List.of(
                new dev.jvmm.core.GuestMemory.Range(0, 16L << 20)))) {
            Path ok = Files.write(dir.resolve("ok"), pvhElf());
            assertEquals(BootEntry.Mode.PVH, KernelLoader.load(mem, layout, ok, null, "", 0).mode());
            long[][] cases = {{32, -8}, {32, Long.MIN_VALUE}, {72, Long.MAX_VALUE}, {128, -1}, {96, Long.MAX_VALUE}};
            String[] problems = {"bad ELF program header table", "bad ELF program header table",
                "ELF segment 0 lies outside the file", "ELF segment 1 lies outside the file",
                "ELF segment 0 lies outside the file"};
            for (int i = 0; i < cases.length; i++) {
                byte[] b = pvhElf();
                java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong((int) cases[i][0],
                        cases[i][1]);
                if (cases[i][0] == 96) { // filesz: keep memsz >= filesz
                    java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(104, Long.MAX_VALUE);
                }
                Path k = Files.write(dir.resolve("k" + i), b);
                VmmException e = assertThrows(VmmException.class, () -> KernelLoader.load(mem, layout, k, null, "", 0),
                        "case " + i);
                assertEquals(VmmException.Reason.IMAGE, e.reason());
                assertEquals(k + ": " + problems[i], e.getMessage());
            }
        }
    }
}
