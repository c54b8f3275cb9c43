package dev.jvmm.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A tiny built-in kernel for runs of jvmm's own code with no guest of interest: it writes "j" and a newline to the
 * 16550, then powers the VM off through the ACPI sleep register. The launcher's AppCDS training launch boots it, and
 * a migration's destination runs it in its warm-up VM.
 */
public final class TinyKernel {
    private TinyKernel() {
    }

    /** The bzImage (boot protocol 2.15, its 64-bit entry at +0x200 of the protected-mode part). */
    public static byte[] bzImage() {
        byte[] code = {
            0x66, (byte) 0xba, (byte) 0xf8, 0x03,      // mov dx, 0x3f8
            (byte) 0xb0, 'j', (byte) 0xee,             // mov al, 'j'; out dx, al
            (byte) 0xb0, '\n', (byte) 0xee,            // mov al, '\n'; out dx, al
            0x66, (byte) 0xba, 0x00, 0x06,             // mov dx, 0x600 (ACPI sleep control)
            (byte) 0xb0, 0x34, (byte) 0xee,            // SLP_TYP=5 | SLP_EN
            (byte) 0xf4, (byte) 0xeb, (byte) 0xfd};    // hlt; jmp hlt
        ByteBuffer b = ByteBuffer.allocate(1024 + 0x1000).order(ByteOrder.LITTLE_ENDIAN);
        b.put(BzImage.OFF_SETUP_SECTS, (byte) 1);
        b.putShort(BzImage.OFF_BOOT_FLAG, (short) BzImage.BOOT_FLAG);
        b.put(BzImage.OFF_JUMP, (byte) 0xeb).put(BzImage.OFF_JUMP + 1, (byte) 0x66);
        b.putInt(BzImage.OFF_HEADER, BzImage.HDRS_MAGIC);
        b.putShort(BzImage.OFF_VERSION, (short) 0x020f);
        b.put(BzImage.OFF_LOADFLAGS, (byte) BzImage.LOADED_HIGH);
        b.putInt(BzImage.OFF_CODE32_START, 0x100000);
        b.putInt(BzImage.OFF_INITRD_ADDR_MAX, 0x7fffffff);
        b.putInt(BzImage.OFF_KERNEL_ALIGNMENT, 0x200000);
        b.put(BzImage.OFF_RELOCATABLE, (byte) 1);
        b.putShort(BzImage.OFF_XLOADFLAGS, (short) (BzImage.XLF_KERNEL_64 | BzImage.XLF_CAN_BE_LOADED_ABOVE_4G));
        b.putInt(BzImage.OFF_CMDLINE_SIZE, 2048);
        b.putInt(BzImage.OFF_INIT_SIZE, 0x10000);
        b.position(1024 + 0x200);
        b.put(code);
        return b.array();
    }
}
