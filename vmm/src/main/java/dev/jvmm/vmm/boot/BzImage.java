package dev.jvmm.vmm.boot;

import dev.jvmm.vmm.VmmException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The real-mode setup header of a bzImage (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header").
 * Parsed from the first sectors of the file; {@link #parse} refuses anything that is not a bzImage jvmm can boot.
 */
public record BzImage(int setupSects, int version, int loadflags, long code32Start, long initrdAddrMax,
        long kernelAlignment, boolean relocatable, int xloadflags, long cmdlineSize, long prefAddress, long initSize,
        int headerEnd) {
    public static final int HDR_OFFSET = 0x1f1;
    public static final int HDRS_MAGIC = 0x53726448; // "HdrS"
    public static final int BOOT_FLAG = 0xaa55;
    public static final int LOADED_HIGH = 0x01;
    public static final int CAN_USE_HEAP = 0x80;
    public static final int XLF_KERNEL_64 = 0x01;
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
    /** Bytes of the file needed to parse the header. */
    public static final int HEADER_BYTES = 0x270;

    /** Offsets in the setup header / boot_params. */
    public static final int OFF_SETUP_SECTS = 0x1f1, OFF_BOOT_FLAG = 0x1fe, OFF_JUMP = 0x200, OFF_HEADER = 0x202,
            OFF_VERSION = 0x206, OFF_TYPE_OF_LOADER = 0x210, OFF_LOADFLAGS = 0x211, OFF_CODE32_START = 0x214,
            OFF_RAMDISK_IMAGE = 0x218, OFF_RAMDISK_SIZE = 0x21c, OFF_HEAP_END_PTR = 0x224, OFF_CMD_LINE_PTR = 0x228,
            OFF_INITRD_ADDR_MAX = 0x22c, OFF_KERNEL_ALIGNMENT = 0x230, OFF_RELOCATABLE = 0x234,
            OFF_XLOADFLAGS = 0x236, OFF_CMDLINE_SIZE = 0x238, OFF_PREF_ADDRESS = 0x258, OFF_INIT_SIZE = 0x260,
            OFF_SYSSIZE = 0x1f4;
    /** boot_params fields outside the setup header. */
    public static final int BP_ACPI_RSDP_ADDR = 0x070, BP_EXT_RAMDISK_IMAGE = 0x0c0, BP_EXT_RAMDISK_SIZE = 0x0c4,
            BP_EXT_CMD_LINE_PTR = 0x0c8, BP_E820_ENTRIES = 0x1e8, BP_E820_TABLE = 0x2d0;

    /** Whether {@code head} starts like a bzImage (boot flag and "HdrS"), without validating further. */
    public static boolean looksLike(byte[] head) {
        if (head.length < HEADER_BYTES) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        return (b.getShort(OFF_BOOT_FLAG) & 0xffff) == BOOT_FLAG && b.getInt(OFF_HEADER) == HDRS_MAGIC;
    }

    /** Parses and validates the header; {@code fileSize} checks that the protected-mode kernel is present. */
    public static BzImage parse(byte[] head, long fileSize, String name) {
        if (head.length < HEADER_BYTES || !looksLike(head)) {
            throw new VmmException(VmmException.Reason.IMAGE, name
                    + ": not a bzImage (no 0xAA55 boot flag and \"HdrS\" setup header at 0x1fe/0x202)");
        }
        ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        int setupSects = b.get(OFF_SETUP_SECTS) & 0xff;
        if (setupSects == 0) {
            setupSects = 4;
        }
        int version = b.getShort(OFF_VERSION) & 0xffff;
        if (version < 0x0206) {
            throw new VmmException(VmmException.Reason.IMAGE, String.format(
                    "%s: boot protocol %d.%02d is too old (jvmm needs 2.06 or later)", name, version >> 8, version & 0xff));
        }
        int loadflags = b.get(OFF_LOADFLAGS) & 0xff;
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new VmmException(VmmException.Reason.IMAGE, name + ": a zImage (not loaded high) cannot be booted");
        }
        int xlf = version >= 0x020c ? b.getShort(OFF_XLOADFLAGS) & 0xffff : 0;
        long prefAddress = version >= 0x020a ? b.getLong(OFF_PREF_ADDRESS) : Layout.KERNEL_LOAD;
        long initSize = version >= 0x020a ? b.getInt(OFF_INIT_SIZE) & 0xffff_ffffL : 0;
        int jump = b.get(OFF_JUMP + 1) & 0xff;
        int headerEnd = Math.min(OFF_JUMP + 2 + jump, HEADER_BYTES);
        long setupBytes = (setupSects + 1L) * 512;
        if (fileSize <= setupBytes) {
            throw new VmmException(VmmException.Reason.IMAGE, String.format(
                    "%s: truncated: %d bytes, but the setup code alone is %d bytes", name, fileSize, setupBytes));
        }
        // syssize (protocol 2.04+): the protected-mode code in 16-byte units. A shorter file would be decompressed
        // from a cut payload, and the guest's decompressor halts with no word on the console: refuse it here.
        long protectedBytes = (b.getInt(OFF_SYSSIZE) & 0xffff_ffffL) * 16;
        if (fileSize < setupBytes + protectedBytes) {
            throw new VmmException(VmmException.Reason.IMAGE, String.format(
                    "%s: truncated: %d bytes, but its setup header says %d (setup %d + kernel %d)", name, fileSize,
                    setupBytes + protectedBytes, setupBytes, protectedBytes));
        }
        return new BzImage(setupSects, version, loadflags, b.getInt(OFF_CODE32_START) & 0xffff_ffffL,
                b.getInt(OFF_INITRD_ADDR_MAX) & 0xffff_ffffL, b.getInt(OFF_KERNEL_ALIGNMENT) & 0xffff_ffffL,
                b.get(OFF_RELOCATABLE) != 0, xlf, b.getInt(OFF_CMDLINE_SIZE) & 0xffff_ffffL, prefAddress, initSize,
                headerEnd);
    }

    /** Offset of the protected-mode kernel in the file. */
    public long kernelOffset() {
        return (setupSects + 1L) * 512;
    }

    /** Whether the 64-bit entry point (startup_64 at load address + 0x200) may be used. */
    public boolean has64BitEntry() {
        return version >= 0x020c && (xloadflags & XLF_KERNEL_64) != 0;
    }

    public String versionString() {
        return String.format("%d.%02d", version >> 8, version & 0xff);
    }
}
