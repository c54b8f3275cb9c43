package dev.jvmm.core.pci;

import java.util.Arrays;

/**
 * The 4 KiB configuration space of one function (256 bytes conventional plus the PCIe extended space), with a
 * per-byte mask of guest-writable bits and a per-byte mask of write-1-to-clear bits. Accesses are little-endian,
 * 1, 2 or 4 bytes, naturally aligned; anything else reads as all ones and is dropped on write, as on hardware.
 * Also maintains the capability lists (§6.7 of PCI 3.0; PCIe 4.0 §7.6 for extended capabilities).
 */
public final class PciConfigSpace {
    public static final int SIZE = 4096;
    public static final int CONVENTIONAL_SIZE = 256;

    // Type 0 header registers (PCI Local Bus 3.0 §6.1).
    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_PROG = 0x09;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;

    public static final int COMMAND_IO = 0x1;
    public static final int COMMAND_MEMORY = 0x2;
    public static final int COMMAND_BUS_MASTER = 0x4;
    public static final int COMMAND_INTX_DISABLE = 0x400;
    public static final int STATUS_CAP_LIST = 0x10;
    public static final int STATUS_INTERRUPT = 0x08;

    private final byte[] data = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final byte[] w1c = new byte[SIZE];
    private final boolean extended;
    /** Offset of the last capability added (0: none), to chain the next one. */
    private int lastCap;
    private int nextCapOffset = 0x40;
    private int lastExtCap;
    private int nextExtCapOffset = 0x100;

    /** @param extended whether the function has PCIe extended config space (offsets 0x100..0xfff) */
    public PciConfigSpace(boolean extended) {
        this.extended = extended;
    }

    public boolean extended() {
        return extended;
    }

    /** Whether an access of {@code size} bytes at {@code offset} is valid (size 1/2/4, aligned, inside). */
    public boolean validAccess(int offset, int size) {
        int limit = extended ? SIZE : CONVENTIONAL_SIZE;
        return (size == 1 || size == 2 || size == 4) && (offset & (size - 1)) == 0 && offset >= 0
                && offset + size <= limit;
    }

    /** A guest read; invalid accesses read all ones. */
    public int read(int offset, int size) {
        if (!validAccess(offset, size)) {
            return size == 4 ? -1 : (1 << (size * 8)) - 1;
        }
        return get(offset, size);
    }

    /** A guest write: only writable bits change; write-1-to-clear bits clear where a 1 is written. */
    public void write(int offset, int size, int value) {
        if (!validAccess(offset, size)) {
            return;
        }
        for (int i = 0; i < size; i++) {
            int b = (value >>> (8 * i)) & 0xff;
            int o = offset + i;
            int wm = writable[o] & 0xff;
            int cm = w1c[o] & 0xff;
            int old = data[o] & 0xff;
            int nv = (old & ~wm) | (b & wm);
            nv &= ~(b & cm);
            data[o] = (byte) nv;
        }
    }

    /** A VMM-side read, no checks beyond bounds. */
    public int get(int offset, int size) {
        int v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (data[offset + i] & 0xff);
        }
        return v;
    }

    /** A VMM-side write that ignores the masks (device emulation updating read-only state). */
    public void set(int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            data[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    /** A copy of the whole space as it is now (for a saved state). */
    public byte[] copy() {
        return data.clone();
    }

    /**
     * Takes from {@code saved} (a {@link #copy()} of the same function) the bits the guest can change: its writable
     * and write-1-to-clear bits. Everything read-only (identity, capability layout, BAR types) stays as this
     * function was built, so a saved state cannot change what the function is.
     */
    public void restoreGuestBits(byte[] saved) {
        if (saved.length != SIZE) {
            throw new IllegalArgumentException("a saved config space is " + SIZE + " bytes, not " + saved.length);
        }
        for (int o = 0; o < SIZE; o++) {
            int m = (writable[o] | w1c[o]) & 0xff;
            data[o] = (byte) ((data[o] & ~m) | (saved[o] & m));
        }
    }

    /** Marks bits of {@code [offset, offset+size)} guest-writable. */
    public void setWritable(int offset, int size, int mask) {
        for (int i = 0; i < size; i++) {
            writable[offset + i] = (byte) (mask >>> (8 * i));
        }
    }

    /** Marks bits of {@code [offset, offset+size)} write-1-to-clear. */
    public void setW1c(int offset, int size, int mask) {
        for (int i = 0; i < size; i++) {
            w1c[offset + i] = (byte) (mask >>> (8 * i));
        }
    }

    /**
     * Appends a capability to the conventional list. {@code body} starts with the ID and next-pointer bytes,
     * which are filled in here; its length is rounded up to a dword. Returns the capability's offset.
     * {@code writableMask}, if non-null, has one mask byte per body byte.
     */
    public int addCapability(int id, byte[] body, byte[] writableMask) {
        int len = (body.length + 3) & ~3;
        if (body.length < 2 || nextCapOffset + len > CONVENTIONAL_SIZE) {
            throw new IllegalArgumentException(String.format("capability 0x%x (%d bytes) does not fit at 0x%x", id,
                    body.length, nextCapOffset));
        }
        int off = nextCapOffset;
        System.arraycopy(body, 0, data, off, body.length);
        data[off] = (byte) id;
        data[off + 1] = 0;
        if (writableMask != null) {
            System.arraycopy(writableMask, 0, writable, off, Math.min(writableMask.length, body.length));
            writable[off] = 0;
            writable[off + 1] = 0;
        }
        if (lastCap == 0) {
            data[CAPABILITIES_POINTER] = (byte) off;
        } else {
            data[lastCap + 1] = (byte) off;
        }
        set(STATUS, 2, get(STATUS, 2) | STATUS_CAP_LIST);
        lastCap = off;
        nextCapOffset = off + len;
        return off;
    }

    /**
     * Appends a PCIe extended capability (header: ID [15:0], version [19:16], next [31:20]). {@code body} holds the
     * whole capability including its 4-byte header, which is filled in here. Returns the offset.
     */
    public int addExtendedCapability(int id, int version, byte[] body, byte[] writableMask) {
        int len = (body.length + 3) & ~3;
        if (!extended || body.length < 4 || nextExtCapOffset + len > SIZE) {
            throw new IllegalArgumentException(String.format("extended capability 0x%x does not fit", id));
        }
        int off = nextExtCapOffset;
        System.arraycopy(body, 0, data, off, body.length);
        if (writableMask != null) {
            System.arraycopy(writableMask, 0, writable, off, Math.min(writableMask.length, body.length));
        }
        set(off, 4, (id & 0xffff) | (version & 0xf) << 16);
        setWritable(off, 4, 0);
        if (lastExtCap != 0) {
            set(lastExtCap, 4, get(lastExtCap, 4) & 0x000f_ffff | off << 20);
        }
        lastExtCap = off;
        nextExtCapOffset = off + len;
        return off;
    }

    /** Offsets of the capabilities with {@code id} in list order, by walking the list as a guest would. */
    public int[] findCapabilities(int id) {
        int[] found = new int[0];
        int p = (get(STATUS, 2) & STATUS_CAP_LIST) != 0 ? get(CAPABILITIES_POINTER, 1) & 0xfc : 0;
        for (int guard = 0; p != 0 && guard < 48; guard++) {
            if (get(p, 1) == id) {
                found = Arrays.copyOf(found, found.length + 1);
                found[found.length - 1] = p;
            }
            p = get(p + 1, 1) & 0xfc;
        }
        return found;
    }
}
