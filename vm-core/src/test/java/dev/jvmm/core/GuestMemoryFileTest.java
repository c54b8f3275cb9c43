package dev.jvmm.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Guest RAM dumped to a sparse file ({@link GuestMemory#writeTo}) and brought back copy-on-write ({@link GuestMemory#mapPrivate}). */
class GuestMemoryFileTest {
    private static final long MIB = 1L << 20;
    private static final long HIGH = 1L << 30;
    private static final int PAGE = GuestMemory.PAGE;
    /** 4 MiB at 0 and 2 MiB at 1 GiB: region 1 starts at file offset 4 MiB. */
    private static final List<GuestMemory.Range> RANGES = List.of(new GuestMemory.Range(0, 4 * MIB),
            new GuestMemory.Range(HIGH, 2 * MIB));
    private static final long TOTAL = 6 * MIB;

    /** A page's worth of a pattern that depends on the page's address, so that a page landing elsewhere shows. */
    private static byte[] pattern(long gpa) {
        byte[] b = new byte[PAGE];
        for (int i = 0; i < PAGE; i++) {
            b[i] = (byte) (gpa >>> 12 ^ i * 31 ^ 0x5a);
        }
        return b;
    }

    /** The patterned pages: full pages, a run of three, region boundaries, and a page whose only non-zero byte is its last. */
    private static final long[] FULL = {0, 5 * PAGE, 6 * PAGE, 7 * PAGE, 0x12_3000, 4 * MIB - PAGE, HIGH, HIGH + 2 * MIB - PAGE};
    private static final long LAST_BYTE_ONLY = 0x20_0000 + 9 * PAGE;

    /** File offset of a guest-physical address under the layout "regions back to back in gpa order". */
    private static long fileOffset(long gpa) {
        return gpa >= HIGH ? 4 * MIB + gpa - HIGH : gpa;
    }

    private static GuestMemory patterned() {
        GuestMemory m = GuestMemory.create(RANGES);
        for (long gpa : FULL) {
            m.write(gpa, pattern(gpa));
        }
        m.putByte(LAST_BYTE_ONLY + PAGE - 1, 0x7f);
        return m;
    }

    private static long nonZeroPages() {
        return FULL.length + 1;
    }

    private static void assertPatterned(GuestMemory m) {
        byte[] page = new byte[PAGE];
        for (long gpa : FULL) {
            m.read(gpa, page, 0, PAGE);
            assertArrayEquals(pattern(gpa), page, "page at gpa 0x" + Long.toHexString(gpa));
        }
        assertEquals(0x7f, m.getByte(LAST_BYTE_ONLY + PAGE - 1));
        long nonZeroLongs = 0;
        for (GuestMemory.Region r : m.regions()) {
            for (long gpa = r.guestPhysAddr(); gpa < r.end(); gpa += 8) {
                if (m.getLong(gpa) != 0) {
                    nonZeroLongs++;
                }
            }
        }
        long patternedLongs = 0;
        for (long gpa : FULL) {
            byte[] p = pattern(gpa);
            for (int i = 0; i < PAGE; i += 8) {
                long v = 0;
                for (int k = 7; k >= 0; k--) {
                    v = v << 8 | (p[i + k] & 0xff);
                }
                patternedLongs += v != 0 ? 1 : 0;
            }
        }
        assertEquals(patternedLongs + 1, nonZeroLongs, "everything outside the patterned pages reads as zero");
    }

    private static java.util.Map<Integer, String> openFds() {
        return dev.jvmm.sys.testing.OpenFds.now();
    }

    /** The lines of /proc/self/maps that overlap {@code [start, end)}: {start, end, file offset, path}. */
    private static List<String[]> mappings(long start, long end) throws IOException {
        List<String[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            String[] range = f[0].split("-");
            long s = Long.parseUnsignedLong(range[0], 16);
            long e = Long.parseUnsignedLong(range[1], 16);
            if (s < end && e > start) {
                out.add(new String[] {range[0], range[1], f[2], f.length > 5 ? f[5] : ""});
            }
        }
        return out;
    }

    @Test
    void dumpIsTheRegionsBackToBackWithOnlyTheNonZeroPagesWritten(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("ram");
        try (GuestMemory m = patterned()) {
            long written = m.writeTo(file);
            assertEquals(nonZeroPages() * PAGE, written);
        }
        assertEquals(TOTAL, Files.size(file));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(file)));
        byte[] content = Files.readAllBytes(file);
        for (long gpa : FULL) {
            byte[] page = new byte[PAGE];
            System.arraycopy(content, (int) fileOffset(gpa), page, 0, PAGE);
            assertArrayEquals(pattern(gpa), page, "file page of gpa 0x" + Long.toHexString(gpa));
        }
        assertEquals(0x7f, content[(int) fileOffset(LAST_BYTE_ONLY) + PAGE - 1]);
    }

    @Test
    void dumpIsSparse(@TempDir Path dir) throws Exception {
        Path probe = dir.resolve("probe");
        try (RandomAccessFile f = new RandomAccessFile(probe.toFile(), "rw")) {
            f.seek(16 * MIB);
            f.write(1);
        }
        assumeTrue(allocatedBytes(probe) < MIB, "the file system of " + dir + " has no holes: a 16 MiB file with one"
                + " byte written takes " + allocatedBytes(probe) + " bytes");
        Path file = dir.resolve("ram");
        try (GuestMemory m = patterned()) {
            long written = m.writeTo(file);
            long allocated = allocatedBytes(file);
            assertTrue(allocated >= written, allocated + " bytes allocated for " + written + " written");
            assertTrue(allocated < TOTAL / 4, allocated + " bytes allocated for a " + TOTAL + "-byte dump of "
                    + nonZeroPages() + " non-zero pages: the zero pages were written");
        }
    }

    private static long allocatedBytes(Path file) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor(), out);
        String[] f = out.split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }

    @Test
    void restoreMapsTheFileInPlaceCopyOnWrite(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("ram");
        try (GuestMemory m = patterned()) {
            m.writeTo(file);
        }
        byte[] before = Files.readAllBytes(file);
        // the ranges in another order: the layout follows guest-physical order, not the order given
        GuestMemory r = GuestMemory.create(List.of(RANGES.get(1), RANGES.get(0)));
        List<GuestMemory.Region> regions = r.regions();
        r.mapPrivate(file);
        try {
            assertEquals(regions, r.regions(), "host addresses unchanged: KVM slots are registered by host address");
            long offset = 0;
            for (GuestMemory.Region g : regions) {
                long start = g.hostAddress();
                long end = start + g.size();
                List<String[]> maps = mappings(start, end);
                assertFalse(maps.isEmpty());
                for (int i = 1; i < maps.size(); i++) {
                    assertEquals(maps.get(i - 1)[1], maps.get(i)[0], "no hole in the region");
                }
                for (String[] map : maps) {
                    assertEquals(file.toString(), map[3], "region at gpa 0x" + Long.toHexString(g.guestPhysAddr())
                            + " is mapped from the file: " + String.join(" ", map));
                    long s = Long.parseUnsignedLong(map[0], 16);
                    long from = Math.max(s, start);
                    assertEquals(offset + from - start, Long.parseLong(map[2], 16) + from - s,
                            "file offset of host address 0x" + Long.toHexString(from));
                }
                assertTrue(Long.parseUnsignedLong(maps.get(0)[0], 16) <= start, "the region's first page is mapped");
                assertTrue(Long.parseUnsignedLong(maps.get(maps.size() - 1)[1], 16) >= end,
                        "the region's last page is mapped");
                offset += g.size();
            }
            assertPatterned(r);

            r.putLong(0, -1L);
            r.putLong(HIGH + 0x1000, 0x1122334455667788L);
            r.fill(3 * MIB, MIB, (byte) 0xee);
            assertEquals(-1L, r.getLong(0));
            assertEquals(0x1122334455667788L, r.getLong(HIGH + 0x1000));
            assertEquals((byte) 0xee, r.getByte(4 * MIB - 1));
            assertArrayEquals(before, Files.readAllBytes(file), "the guest's writes never reach the file");
        } finally {
            r.close();
        }
        for (GuestMemory.Region g : regions) {
            for (String[] map : mappings(g.hostAddress(), g.hostAddress() + g.size())) {
                assertFalse(map[3].equals(file.toString()), "still mapped after close: " + String.join(" ", map));
            }
        }
        // unmapped: the file is no longer guarded, so it can be written again
        try (GuestMemory m = patterned()) {
            assertEquals(nonZeroPages() * PAGE, m.writeTo(file));
        }
    }

    @Test
    void aFileOfTheWrongSizeIsRefusedAndTheMemoryStaysAsItWas(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("ram");
        try (GuestMemory m = patterned()) {
            m.writeTo(file);
        }
        java.util.Map<Integer, String> fds = openFds();
        try (GuestMemory r = GuestMemory.create(RANGES)) {
            r.putLong(HIGH + 8, 42);
            for (long size : new long[] {TOTAL - PAGE, TOTAL + PAGE, 0}) {
                try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                    f.setLength(size);
                }
                VmCoreException e = assertThrows(VmCoreException.class, () -> r.mapPrivate(file));
                assertEquals(VmCoreException.Reason.INVALID, e.reason());
                assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
                assertTrue(e.getMessage().contains(size + " bytes, guest RAM is " + TOTAL + " bytes"), e.getMessage());
            }
            assertEquals(42, r.getLong(HIGH + 8), "memory untouched");
            assertEquals(0, r.getLong(0));
            r.putLong(0, 7);
            assertEquals(7, r.getLong(0));
            for (GuestMemory.Region g : r.regions()) {
                for (String[] map : mappings(g.hostAddress(), g.hostAddress() + g.size())) {
                    assertEquals("", map[3], "still anonymous: " + String.join(" ", map));
                }
            }
        }
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(fds), "no file descriptor left open");
    }

    @Test
    void failuresNameTheFileAndLeakNoDescriptor(@TempDir Path dir) throws IOException {
        java.util.Map<Integer, String> fds = openFds();
        try (GuestMemory m = patterned()) {
            Path missing = dir.resolve("no/such/dir/ram");
            VmCoreException e = assertThrows(VmCoreException.class, () -> m.writeTo(missing));
            assertEquals(VmCoreException.Reason.IO, e.reason());
            assertTrue(e.getMessage().startsWith("cannot write guest RAM to " + missing + ": "), e.getMessage());
            assertTrue(e.getMessage().contains("ENOENT"), e.getMessage());

            // opened fine, then the first pwrite fails: the descriptor is closed all the same
            Path full = Path.of("/dev/full");
            assumeTrue(Files.isWritable(full), "/dev/full is not writable here");
            e = assertThrows(VmCoreException.class, () -> m.writeTo(full));
            assertEquals(VmCoreException.Reason.IO, e.reason());
            assertTrue(e.getMessage().contains("/dev/full") && e.getMessage().contains("pwrite")
                    && e.getMessage().contains("ENOSPC"), e.getMessage());

            e = assertThrows(VmCoreException.class, () -> m.mapPrivate(missing));
            assertEquals(VmCoreException.Reason.IO, e.reason());
            assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
            assertEquals(pattern(0)[5], m.getByte(5), "memory untouched");
        }
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(fds), "no file descriptor left open");
    }

    @Test
    void theFileBehindRestoredMemoryIsNotOverwritten(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("ram");
        try (GuestMemory m = patterned()) {
            m.writeTo(file);
        }
        byte[] before = Files.readAllBytes(file);
        Path link = dir.resolve("link");
        Files.createSymbolicLink(link, file);
        try (GuestMemory r = GuestMemory.create(RANGES); GuestMemory other = patterned()) {
            r.mapPrivate(file);
            r.putLong(8, 99);
            for (Path target : List.of(file, link)) {
                VmCoreException e = assertThrows(VmCoreException.class, () -> r.writeTo(target));
                assertEquals(VmCoreException.Reason.INVALID, e.reason());
                assertTrue(e.getMessage().contains(target.toString()) && e.getMessage().contains("mapPrivate"),
                        e.getMessage());
                // nor by another memory of the process: truncating it would take the restored guest's pages away
                assertThrows(VmCoreException.class, () -> other.writeTo(target));
            }
            assertArrayEquals(before, Files.readAllBytes(file));
            // a dump of restored memory to another file holds the file's pages and the guest's writes
            Path again = dir.resolve("again");
            assertEquals(nonZeroPages() * PAGE, r.writeTo(again));
            byte[] after = Files.readAllBytes(again);
            assertEquals(99, java.nio.ByteBuffer.wrap(after, 8, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong());
            System.arraycopy(before, 8, after, 8, 8);
            assertArrayEquals(before, after, "the rest is the file's");
        }
    }

    @Test
    void mappingAFileIsRefusedOnceKvmHasTheMemoryOrAfterClose(@TempDir Path dir) {
        Path file = dir.resolve("ram");
        GuestMemory m = patterned();
        m.writeTo(file);
        List<String> calls = new ArrayList<>();
        m.registerSlots((slot, flags, gpa, size, hva) -> calls.add(slot + ":" + size), 0);
        VmCoreException e = assertThrows(VmCoreException.class, () -> m.mapPrivate(file));
        assertEquals(VmCoreException.Reason.INVALID, e.reason());
        assertTrue(e.getMessage().contains("registerSlots"), e.getMessage());
        assertEquals(pattern(0)[9], m.getByte(9));
        m.close();
        assertEquals(VmCoreException.Reason.INVALID, assertThrows(VmCoreException.class, () -> m.mapPrivate(file)).reason());
        assertEquals(VmCoreException.Reason.INVALID, assertThrows(VmCoreException.class, () -> m.writeTo(file)).reason());
    }

    @Test
    void zeroPageCheck() {
        try (GuestMemory m = GuestMemory.create(List.of(new GuestMemory.Range(0, 4 * PAGE)))) {
            long a = m.hostAddress(0, 4 * PAGE);
            assertTrue(GuestMemory.isZeroPage(a));
            for (int at : new int[] {0, 7, 8, 63, 64, 2048, PAGE - 1}) {
                m.putByte(at, 1);
                assertFalse(GuestMemory.isZeroPage(a), "byte " + at);
                m.putByte(at, 0);
            }
            m.putByte(PAGE, 1); // the next page is not looked at
            m.putByte(3 * PAGE - 1, 1);
            assertTrue(GuestMemory.isZeroPage(a));
            assertFalse(GuestMemory.isZeroPage(a + PAGE));
            assertFalse(GuestMemory.isZeroPage(a + 2 * PAGE));
            assertTrue(GuestMemory.isZeroPage(a + 3 * PAGE));
        }
    }
}
