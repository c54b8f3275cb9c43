package dev.jvmm.vmm.cli;

import dev.jvmm.vmm.boot.BzImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The AppCDS training launch of the {@code ./jvmm} launcher (docs/performance.md): a complete {@code jvmm launch}
 * of a tiny built-in bzImage (one serial byte, then ACPI S5 power-off) with an initrd, so that the dynamic archive
 * holds every class a real launch loads up to and through the vCPU run loop and the exit path, not only those up to
 * a failing kernel check. Without a usable /dev/kvm it stops where the launch fails, and archives what it loaded.
 */
public final class LaunchTraining {
    private LaunchTraining() {
    }

    /** A minimal bzImage (boot protocol 2.15, 64-bit entry at +0x200 of the protected-mode part). */
    static byte[] tinyBzImage() {
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

    public static void main(String[] args) throws IOException {
        Path dir = Files.createTempDirectory("jvmm-training");
        Path kernel = dir.resolve("bzImage");
        Path initrd = dir.resolve("initrd");
        Files.write(kernel, tinyBzImage());
        Files.write(initrd, new byte[4096]);
        kernel.toFile().deleteOnExit();
        initrd.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        LaunchCommand.main(new String[] {"--kernel", kernel.toString(), "--initrd", initrd.toString(),
            "--memory", "64M", "--cpus", "1", "--cmdline", "console=ttyS0"});
    }
}
