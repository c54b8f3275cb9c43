package dev.jvmm.virtio;

import static dev.jvmm.virtio.VirtQueue.VIRTQ_DESC_F_INDIRECT;
import static dev.jvmm.virtio.VirtQueue.VIRTQ_DESC_F_NEXT;
import static dev.jvmm.virtio.VirtQueue.VIRTQ_DESC_F_WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.core.GuestMemory;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The split virtqueue against a simulated driver, including hostile chains. */
class VirtQueueTest {
    /** RAM: [0, 64 KiB) and [1 MiB, 1 MiB + 64 KiB); everything else is a hole. */
    private GuestMemory mem;
    private TestDriver drv;
    private static final long BUF = 0x8000;

    @BeforeEach
    void setUp() {
        mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 0x10000), new GuestMemory.Range(0x100000, 0x10000)));
        drv = new TestDriver(mem, 8, 0x1000);
    }

    @AfterEach
    void tearDown() {
        mem.close();
    }

    @Test
    void pendingCountsPublishedChainsNotYetPopped() {
        VirtQueue q = drv.queue(16, false, false);
        assertEquals(0, q.pending());
        for (int i = 0; i < 3; i++) {
            drv.desc(i, BUF + 0x100L * i, 16, VIRTQ_DESC_F_WRITE, 0);
            drv.publish(i);
        }
        assertEquals(3, q.pending(), "three chains published");
        assertEquals(0, q.pop().head());
        assertEquals(2, q.pending(), "one popped");
        q.pop();
        q.pop();
        assertEquals(0, q.pending());
        assertFalse(q.hasAvailable());
        q.reset();
        drv.publish(0);
        assertEquals(0, q.pending(), "a queue that is not ready has nothing pending");
    }

    @Test
    void popsAChainSplitIntoReadableThenWritableSegments() {
        VirtQueue q = drv.queue(16, false, false);
        assertNull(q.pop(), "nothing published yet");
        drv.desc(3, BUF, 16, VIRTQ_DESC_F_NEXT, 5);
        drv.desc(5, BUF + 0x100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6);
        drv.desc(6, 0x100000, 1, VIRTQ_DESC_F_WRITE, 0);
        drv.publish(3);
        DescriptorChain c = q.pop();
        assertEquals(3, c.head());
        assertEquals(3, c.count());
        assertEquals(1, c.readableCount());
        assertEquals(16, c.readableBytes());
        assertEquals(513, c.writableBytes());
        assertEquals(mem.hostAddress(BUF + 0x100, 512), c.address(1));
        assertEquals(mem.hostAddress(0x100000, 1), c.address(2));
        q.addUsed(c.head(), 513);
        assertEquals(1, drv.usedIdx());
        assertEquals(3, drv.usedId(0));
        assertEquals(513, drv.usedLen(0));
        assertTrue(q.needsInterrupt());
        assertNull(q.pop());
    }

    @Test
    void followsAnIndirectTable() {
        VirtQueue q = drv.queue(16, false, true);
        long table = 0x4000;
        drv.desc(table, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
        drv.desc(table, 1, BUF + 16, 100, VIRTQ_DESC_F_WRITE, 0);
        drv.desc(0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
        drv.publish(0);
        DescriptorChain c = q.pop();
        assertEquals(2, c.count());
        assertEquals(100, c.writableBytes());
    }

    @Test
    void eventIdxAsksForAKickOnlyOnceDrainedAndRechecks() {
        VirtQueue q = drv.queue(16, true, false);
        for (int i = 0; i < 2; i++) {
            drv.desc(i, BUF + 0x100L * i, 8, VIRTQ_DESC_F_WRITE, 0);
            drv.publish(i);
        }
        assertEquals(0, q.pop().head());
        assertEquals(0, drv.availEvent(), "busy: no kick wanted for chains the device will find anyway");
        assertEquals(1, q.pop().head());
        assertEquals(0, drv.availEvent());
        assertNull(q.pop(), "drained");
        assertEquals(2, drv.availEvent(), "drained: kick me when the driver publishes past avail idx 2");
        // the driver published one more right after: the next pop finds it without a kick
        drv.desc(2, BUF + 0x200, 8, VIRTQ_DESC_F_WRITE, 0);
        drv.publish(2);
        assertEquals(2, q.pop().head());
        assertNull(q.pop());
        assertEquals(3, drv.availEvent());
    }

    @Test
    void eventIdxSuppressesInterruptsUntilUsedEventIsPassed() {
        VirtQueue q = drv.queue(16, true, false);
        for (int i = 0; i < 3; i++) {
            drv.desc(i, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
            drv.publish(i);
        }
        drv.setUsedEvent(2); // driver: interrupt me when used idx passes 2
        q.addUsed(q.pop().head(), 8);
        assertTrue(q.needsInterrupt(), "first notification is always sent");
        assertEquals(0, drv.availEvent(), "avail_event is not moved while chains are still pending");
        q.addUsed(q.pop().head(), 8);
        assertFalse(q.needsInterrupt(), "used idx 2 has not passed used_event 2");
        q.addUsed(q.pop().head(), 8);
        assertTrue(q.needsInterrupt(), "used idx 3 passed used_event 2");
    }

    // ---- hostile drivers: each must be refused with a reason, touching nothing outside guest RAM

    private GuestProtocolException refused(VirtQueue q) {
        return assertThrows(GuestProtocolException.class, q::pop);
    }

    @Test
    void loopIsDetected() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
        drv.desc(1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.DESCRIPTOR_LOOP, refused(q).reason());
    }

    @Test
    void loopInsideAnIndirectTableIsDetected() {
        VirtQueue q = drv.queue(64, false, true);
        long table = 0x4000;
        drv.desc(table, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
        drv.desc(table, 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
        drv.desc(0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.DESCRIPTOR_LOOP, refused(q).reason());
    }

    @Test
    void addressesOutsideGuestRamAreRefused() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, 0xdead_0000_0000L, 8, 0, 0);
        drv.publish(0);
        GuestProtocolException e = refused(q);
        assertEquals(GuestProtocolException.Reason.OUT_OF_BOUNDS, e.reason());
        assertTrue(e.getMessage().contains("gpa=0xdead00000000"), e.getMessage());
    }

    @Test
    void bufferStraddlingTheEndOfARegionIntoTheHoleIsRefused() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, 0xfff0, 0x20, VIRTQ_DESC_F_WRITE, 0); // 16 bytes in RAM, 16 in the hole
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.OUT_OF_BOUNDS, refused(q).reason());
    }

    @Test
    void hugeLengthThatWouldWrapIsRefused() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, BUF, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.OUT_OF_BOUNDS, refused(q).reason());
    }

    @Test
    void zeroLengthIsRefused() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, BUF, 0, 0, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.ZERO_LENGTH, refused(q).reason());
    }

    @Test
    void tooManyDescriptorsAreRefused() {
        VirtQueue q = drv.queue(4, false, false); // the device takes at most 4 segments
        for (int i = 0; i < 6; i++) {
            drv.desc(i, BUF, 8, VIRTQ_DESC_F_NEXT, i + 1);
        }
        drv.desc(6, BUF, 8, 0, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.TOO_MANY_DESCRIPTORS, refused(q).reason());
    }

    @Test
    void readableAfterWritableIsRefused() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        drv.desc(1, BUF, 8, 0, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.WRONG_DIRECTION, refused(q).reason());
    }

    @Test
    void badIndirectTablesAreRefused() {
        long table = 0x4000;
        VirtQueue noFeature = drv.queue(16, false, false);
        drv.desc(0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.BAD_INDIRECT, refused(noFeature).reason());

        for (int[] bad : new int[][] {{33, VIRTQ_DESC_F_INDIRECT}, {32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT}}) {
            setUp();
            VirtQueue q = drv.queue(16, false, true);
            drv.desc(0, table, bad[0], bad[1], 1);
            drv.desc(1, BUF, 8, 0, 0);
            drv.publish(0);
            assertEquals(GuestProtocolException.Reason.BAD_INDIRECT, refused(q).reason());
        }
        setUp();
        VirtQueue nested = drv.queue(16, false, true);
        drv.desc(table, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
        drv.desc(0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.BAD_INDIRECT, refused(nested).reason());
    }

    @Test
    void outOfRangeIndicesAreRefused() {
        VirtQueue q = drv.queue(16, false, false);
        drv.publish(9); // head ≥ queue size 8
        assertEquals(GuestProtocolException.Reason.BAD_INDEX, refused(q).reason());

        setUp();
        VirtQueue q2 = drv.queue(16, false, false);
        drv.desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 200);
        drv.publish(0);
        assertEquals(GuestProtocolException.Reason.BAD_INDEX, refused(q2).reason());

        setUp();
        VirtQueue q3 = drv.queue(16, false, false);
        drv.setAvailIdx(100); // claims 100 new entries in a ring of 8
        assertEquals(GuestProtocolException.Reason.BAD_INDEX, refused(q3).reason());
    }

    @Test
    void ringsOutsideGuestRamCannotBeEnabled() {
        VirtQueue q = new VirtQueue(mem, 0, 8, 16);
        q.setAddresses(0xffc0, 0x1000, 0x2000); // the 128-byte descriptor table runs into the hole
        assertEquals(GuestProtocolException.Reason.OUT_OF_BOUNDS,
                assertThrows(GuestProtocolException.class, q::enable).reason());
        assertFalse(q.isReady());
        assertNull(q.pop(), "a queue that is not ready pops nothing");
    }

    @Test
    void theChainObjectIsReusedAcrossPops() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, BUF, 8, 0, 0);
        drv.desc(1, BUF, 8, 0, 0);
        drv.publish(0);
        drv.publish(1);
        DescriptorChain a = q.pop();
        DescriptorChain b = q.pop();
        assertSame(a, b, "no allocation per request");
        assertEquals(1, b.head());
    }

    /** The guest-physical addresses of the pages harvested (the VMM's writes only: no KVM here). */
    private List<Long> harvest() {
        List<Long> out = new java.util.ArrayList<>();
        dev.jvmm.core.DirtyBitmap.forEachDirtyPage(mem.harvestDirty(null), out::add);
        return out;
    }

    @Test
    void addUsedOfAChainMarksItsWritableSegmentsAndTheUsedRingButNotItsReadableOnes() {
        VirtQueue q = drv.queue(16, false, false);
        mem.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        drv.desc(0, 0x3000, 16, VIRTQ_DESC_F_NEXT, 1);                                   // readable
        drv.desc(1, 0x5ff0, 0x20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);            // writable over two pages
        drv.desc(2, 0x100000 + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);                        // writable, other region
        drv.publish(0);
        assertEquals(List.of(), harvest(), "the driver's own writes are the guest's: KVM logs them");
        DescriptorChain c = q.pop();
        q.addUsed(c, 0x21);
        // the rings are all in page 0x1000 (desc 0x1000, avail 0x1080, used 0x1098)
        assertEquals(List.of(0x1000L, 0x5000L, 0x6000L, 0x102000L), harvest());
        assertEquals(1, drv.usedIdx());
        assertEquals(0x21, drv.usedLen(0));
    }

    @Test
    void addUsedByHeadAndTheAvailEventOfPopMarkTheUsedRing() {
        TestDriver far = new TestDriver(mem, 8, 0x100000 + 0x4000); // used ring at 0x104098
        VirtQueue q = far.queue(16, true, false);
        mem.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        assertNull(q.pop(), "drained: writes avail_event into the used ring");
        assertEquals(0, far.availEvent());
        assertEquals(List.of(0x104000L), harvest());
        far.desc(0, 0x6000, 8, VIRTQ_DESC_F_WRITE, 0);
        far.publish(0);
        assertEquals(List.of(), harvest());
        q.addUsed(q.pop().head(), 8);
        assertEquals(List.of(0x104000L), harvest(), "the used ring only: the device did not say it wrote the buffer");
    }

    @Test
    void withLoggingOffNothingIsRecordedAndAnewLogStartsEmpty() {
        VirtQueue q = drv.queue(16, false, false);
        drv.desc(0, 0x5000, 16, VIRTQ_DESC_F_WRITE, 0);
        drv.publish(0);
        q.addUsed(q.pop(), 16);
        assertEquals(1, drv.usedIdx(), "addUsed works the same without logging");
        mem.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        assertEquals(List.of(), harvest());
        mem.stopDirtyLog((slot, flags, gpa, size, hva) -> { });
        drv.publish(0);
        q.addUsed(q.pop(), 16);
        mem.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        assertEquals(List.of(), harvest(), "what was written while logging was off is the first round's");
    }
}
