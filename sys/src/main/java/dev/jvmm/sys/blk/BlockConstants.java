package dev.jvmm.sys.blk;

import dev.jvmm.sys.Ioctl;
import dev.jvmm.sys.uapi.CConstants;

/**
 * Block-device ioctls ({@code <linux/fs.h>}) and fallocate(2) modes ({@code <linux/falloc.h>}) used by block
 * backends; each is checked against the headers by HeaderLayoutTest.
 */
@CConstants(headers = {"linux/fs.h", "linux/falloc.h"})
public final class BlockConstants {
    private BlockConstants() {
    }

    /** {@code _IOR(0x12,114,size_t)}: device size in bytes into a u64. */
    public static final long BLKGETSIZE64 = Ioctl.ior(0x12, 114, 8);
    /** {@code _IO(0x12,119)}: discard {@code u64 range[2] = {start, length}} (bytes). */
    public static final long BLKDISCARD = Ioctl.io(0x12, 119);
    /** {@code _IO(0x12,127)}: write zeroes over {@code u64 range[2]}. */
    public static final long BLKZEROOUT = Ioctl.io(0x12, 127);
    /** {@code _IO(0x12,104)}: logical sector size (int). */
    public static final long BLKSSZGET = Ioctl.io(0x12, 104);

    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
}
