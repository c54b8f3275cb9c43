package dev.jvmm.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.sys.Native;
import java.util.List;

/**
 * Fuzz target: the split virtqueue (descriptor tables, indirect tables, avail and used rings, EVENT_IDX) as a
 * hostile driver lays it out. Guest RAM is two 64 KiB regions with a hole between them; the input picks the queue's
 * size, features and ring addresses, then fills the first region (the rings, the tables, the buffers). The target
 * serves the queue as a device would: pop, read every readable byte, write every writable byte, add to the used ring,
 * ask whether to interrupt.
 * <p>Invariants: the only exception is {@link GuestProtocolException} (the transport turns it into NEEDS_RESET); every
 * host address the queue computes lies in guest RAM ({@link MemoryGuard}, on in the fuzz build and its regression
 * runs); no chain is longer than the queue allows; the queue works again after a reset.
 */
class VirtQueueFuzzTest {
    private static final long HOLE_END = 0x100000;
    private static final int REGION = 0x10000;
    private static final int MAX_SEGMENTS = 64;

    @FuzzTest(maxDuration = "5m")
    void splitQueue(FuzzedDataProvider in) {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        try (GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION),
                new GuestMemory.Range(HOLE_END, REGION)))) {
            VirtQueue q = new VirtQueue(mem, 0, 256, MAX_SEGMENTS);
            int size = in.consumeInt(0, 300);
            boolean eventIdx = in.consumeBoolean(), indirect = in.consumeBoolean();
            long desc = address(in), avail = address(in), used = address(in);
            int rounds = in.consumeInt(1, 3);
            // the rest of the input is the start of RAM (rings and tables mostly sit in the first 4 KiB), and its
            // last bytes sit at the end of the first region, against the hole
            byte[] ram = in.consumeRemainingAsBytes();
            mem.write(0, ram, 0, Math.min(ram.length, REGION));
            int t = Math.min(ram.length, 256);
            mem.write(REGION - t, ram, ram.length - t, t);
            try {
                q.setSize(size);
                q.setAddresses(desc, avail, used);
                q.setFeatures(eventIdx, indirect);
                q.enable();
                for (int r = 0; r < rounds; r++) {
                    serve(q, mem);
                    // the driver publishes more: its avail idx moves on
                    mem.putShort(avail + 2, (short) (mem.getShort(avail + 2) + 1 + r));
                }
            } catch (GuestProtocolException expected) {
                // what the transport turns into NEEDS_RESET
            }
            recoversAfterReset(q, mem);
        }
    }

    /** A ring address near the regions' edges, in the hole, or anywhere. */
    private static long address(FuzzedDataProvider in) {
        return switch (in.consumeInt(0, 3)) {
            case 0 -> in.consumeLong(0, 0x1000);
            case 1 -> in.consumeLong(HOLE_END - 16, HOLE_END + REGION + 16);
            case 2 -> in.consumeLong(REGION - 64, REGION);
            default -> in.consumeLong();
        };
    }

    /** Serves every chain available: reads what is readable, writes what is writable, returns it. */
    private static void serve(VirtQueue q, GuestMemory mem) {
        byte[] scratch = new byte[4096];
        DescriptorChain c;
        int popped = 0;
        while ((c = q.pop()) != null) {
            assertTrue(c.count() >= 1 && c.count() <= MAX_SEGMENTS, "chain of " + c.count() + " descriptors");
            long written = 0;
            for (int i = 0; i < c.count(); i++) {
                long a = c.address(i), len = c.length(i);
                if (i < c.readableCount()) {
                    for (long off = 0; off < len; off += scratch.length) {
                        Native.get(a + off, scratch, 0, (int) Math.min(scratch.length, len - off));
                    }
                } else {
                    Native.fill(a, len, (byte) 0x5a);
                    written += len;
                }
            }
            q.addUsed(c, written);
            q.needsInterrupt();
            assertTrue(++popped <= 2 * q.size(), "popped more chains than the avail ring can hold");
        }
    }

    /** After a reset, a well-formed queue set up by a driver serves one chain. */
    private static void recoversAfterReset(VirtQueue q, GuestMemory mem) {
        q.reset();
        TestDriver d = new TestDriver(mem, 8, 0x1000);
        mem.write(0x1000, new byte[0x400], 0, 0x400);
        q.setSize(8);
        q.setAddresses(d.desc, d.avail, d.used);
        q.setFeatures(false, false);
        q.enable();
        d.desc(0, 0x8000, 64, VirtQueue.VIRTQ_DESC_F_WRITE, 0);
        d.publish(0);
        DescriptorChain c = q.pop();
        assertEquals(0, c.head());
        q.addUsed(c, 64);
        assertEquals(1, d.usedIdx(), "the reset queue works again");
        q.reset();
    }
}
