package dev.jvmm.sys.vfio;

import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.vfio.uapi.VfioInfoCapHeader;
import java.util.function.Function;

/**
 * The capability chains VFIO appends to its info answers ({@code VFIO_DEVICE_GET_REGION_INFO},
 * {@code VFIO_IOMMU_GET_INFO}): {@link VfioInfoCapHeader}s linked by offsets from the start of the answer, 0 at the
 * end. The kernel's answer is trusted no further than its length: a link or a body outside it is an error, and a
 * chain that loops ends after 16 links.
 */
public final class InfoCaps {
    private static final int MAX_LINKS = 16;

    private InfoCaps() {
    }

    /**
     * The offset of the capability with {@code id} in the chain starting at {@code first} of the {@code len}-byte
     * answer {@code b}, or -1 when the chain has none; {@code error} makes the exception for a broken chain.
     */
    public static int find(NativeBuffer b, int first, int len, int id, Function<String, RuntimeException> error) {
        int at = first;
        for (int links = 0; at != 0 && links < MAX_LINKS; links++) {
            if (at < 0 || at + VfioInfoCapHeader.SIZEOF > len) {
                throw error.apply("capability at " + at + " lies outside the " + len + "-byte answer");
            }
            if ((b.getShort(at + VfioInfoCapHeader.ID) & 0xffff) == id) {
                return at;
            }
            at = b.getInt(at + VfioInfoCapHeader.NEXT);
        }
        return -1;
    }

    /**
     * Checks that {@code n} entries of {@code entrySize} bytes from {@code entries} fit the {@code len}-byte answer;
     * {@code error} makes the exception that says they do not.
     */
    public static void checkEntries(int entries, int n, int entrySize, int len, String what,
            Function<String, RuntimeException> error) {
        if (n < 0 || entries + (long) n * entrySize > len) {
            throw error.apply(what + " with " + n + " entries does not fit the " + len + "-byte answer");
        }
    }
}
