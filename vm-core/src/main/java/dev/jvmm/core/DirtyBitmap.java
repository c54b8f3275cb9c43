package dev.jvmm.core;

import java.util.List;
import java.util.function.LongConsumer;

/**
 * The dirty pages of one region of guest RAM: one bit per 4 KiB page, page {@code i} (at guest-physical
 * {@code region.guestPhysAddr() + i * 4096}) at bit {@code i % 64} of {@code words()[i / 64]}; bits past the last page
 * are 0. Made by {@link GuestMemory#harvestDirty} and {@link GuestMemory#allPages}; the caller owns it.
 */
public final class DirtyBitmap {
    /** Bytes of guest RAM per bit. */
    public static final int PAGE_SIZE = GuestMemory.PAGE;
    private final GuestMemory.Region region;
    private final long[] words;

    DirtyBitmap(GuestMemory.Region region, long[] words) {
        this.region = region;
        this.words = words;
    }

    /** 64-bit words needed for {@code pages} bits. */
    static int wordsFor(long pages) {
        return Math.toIntExact((pages + 63) >>> 6);
    }

    public GuestMemory.Region region() {
        return region;
    }

    /** Pages in the region (bits that count). */
    public long pages() {
        return region.size() / PAGE_SIZE;
    }

    /** The bitmap itself, not a copy (this object owns no other state; change it at will). */
    public long[] words() {
        return words;
    }

    public boolean isDirty(long page) {
        if (page < 0 || page >= pages()) {
            throw new IndexOutOfBoundsException("page " + page + " of " + pages());
        }
        return (words[(int) (page >>> 6)] & 1L << page) != 0;
    }

    /** Whether the page holding guest-physical address {@code gpa} is dirty (false outside the region). */
    public boolean isDirtyGpa(long gpa) {
        return region.contains(gpa, 1) && isDirty((gpa - region.guestPhysAddr()) / PAGE_SIZE);
    }

    /** Number of dirty pages. */
    public long count() {
        long n = 0;
        for (long w : words) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** Calls {@code gpa} with the guest-physical address of each dirty page, in ascending order. */
    public void forEachDirtyPage(LongConsumer gpa) {
        long base = region.guestPhysAddr();
        for (int i = 0; i < words.length; i++) {
            long w = words[i];
            while (w != 0) {
                int b = Long.numberOfTrailingZeros(w);
                gpa.accept(base + ((long) i * 64 + b) * PAGE_SIZE);
                w &= w - 1;
            }
        }
    }

    /** Dirty pages in all of {@code bitmaps}. */
    public static long count(List<DirtyBitmap> bitmaps) {
        long n = 0;
        for (DirtyBitmap b : bitmaps) {
            n += b.count();
        }
        return n;
    }

    /** Calls {@code gpa} for each dirty page of each bitmap. */
    public static void forEachDirtyPage(List<DirtyBitmap> bitmaps, LongConsumer gpa) {
        for (DirtyBitmap b : bitmaps) {
            b.forEachDirtyPage(gpa);
        }
    }

    @Override
    public String toString() {
        return String.format("DirtyBitmap[gpa=0x%x, %d of %d pages]", region.guestPhysAddr(), count(), pages());
    }
}
