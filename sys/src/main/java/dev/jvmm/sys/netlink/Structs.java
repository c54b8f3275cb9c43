package dev.jvmm.sys.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Small helpers to lay out fixed kernel structs as host-byte-order byte arrays. */
final class Structs {
    private Structs() {
    }

    static ByteBuffer alloc(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    static byte[] ints(int... v) {
        ByteBuffer b = alloc(4 * v.length);
        for (int x : v) {
            b.putInt(x);
        }
        return b.array();
    }
}
