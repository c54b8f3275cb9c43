package dev.jvmm.vmm.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The sender's walk over a dirty bitmap, a word at a time: it finds every set page and nothing else. */
class SendWalkTest {
    private static List<Long> walk(long[] w, long pages) {
        List<Long> got = new ArrayList<>();
        for (long p = MigrationSender.nextSet(w, 0, pages); p < pages; p = MigrationSender.nextSet(w, p + 1, pages)) {
            got.add(p);
        }
        return got;
    }

    private static List<Long> bitByBit(long[] w, long pages) {
        List<Long> want = new ArrayList<>();
        for (long p = 0; p < pages; p++) {
            if ((w[(int) (p >>> 6)] & 1L << p) != 0) {
                want.add(p);
            }
        }
        return want;
    }

    @Test
    void findsExactlyTheSetPagesOfSparseDenseAndEdgeBitmaps() {
        assertEquals(List.of(), walk(new long[4], 256), "nothing set");
        assertEquals(List.of(0L, 63L, 64L, 255L), walk(new long[] {1L | 1L << 63, 1, 0, 1L << 63}, 256), "word edges");
        // bits past the last page (a region whose page count is not a multiple of 64) are never returned
        assertEquals(List.of(3L), walk(new long[] {1L << 3 | 1L << 40}, 40), "a short last word");
        assertEquals(40, MigrationSender.nextSet(new long[] {-1L}, 40, 40), "from the end: none");
        Random r = new Random(42);
        for (int round = 0; round < 200; round++) {
            long pages = 1 + r.nextInt(4096);
            long[] w = new long[(int) ((pages + 63) / 64)];
            double density = r.nextDouble() * r.nextDouble();
            for (long p = 0; p < pages; p++) {
                if (r.nextDouble() < density) {
                    w[(int) (p >>> 6)] |= 1L << p;
                }
            }
            assertEquals(bitByBit(w, pages), walk(w, pages), "round " + round + ", " + pages + " pages");
        }
    }
}
