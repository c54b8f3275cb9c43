package dev.jvmm.vmm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A minimal bzImage for kvm-tier tests: a real setup header (boot protocol 2.15, XLF_KERNEL_64) and one sector of
 * setup code, followed by a hand-assembled 64-bit payload at +0x200 of the protected-mode part, which is where
 * jvmm's 64-bit entry jumps. It goes through the same loader path as a Debian kernel.
 */
final class FakeKernel {
    private FakeKernel() {
    }

    static byte[] header(int initSize) {
        ByteBuffer b = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) 1); // setup_sects
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x200, (byte) 0xeb).put(0x201, (byte) 0x66); // jmp to the end of the header: header ends at 0x268
        b.putInt(0x202, 0x53726448); // "HdrS"
        b.putShort(0x206, (short) 0x020f);
        b.put(0x211, (byte) 0x01); // LOADED_HIGH
        b.putInt(0x214, 0x100000);
        b.putInt(0x22c, 0x7fffffff);
        b.putInt(0x230, 0x200000);
        b.put(0x234, (byte) 1);
        b.putShort(0x236, (short) 0x3); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
        b.putInt(0x238, 2048);
        b.putInt(0x260, initSize);
        return b.array();
    }

    /** Header + payload placed at offset 0x200 of the protected-mode kernel. */
    static Path write(Path dir, String name, byte[] code64) throws IOException {
        byte[] pm = new byte[0x1000];
        System.arraycopy(code64, 0, pm, 0x200, code64.length);
        byte[] img = new byte[1024 + pm.length];
        System.arraycopy(header(0x10000), 0, img, 0, 1024);
        System.arraycopy(pm, 0, img, 1024, pm.length);
        Path p = dir.resolve(name);
        Files.write(p, img);
        return p;
    }

    static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    /** Prints "OK", the first cmdline byte (via the zero page's cmd_line_ptr), "\n", then ACPI S5 → exit 0. */
    static final byte[] HELLO_POWEROFF = bytes(
            0x66, 0xba, 0xf8, 0x03,             // mov dx, 0x3f8
            0xb0, 'O', 0xee,                    // mov al,'O'; out dx,al
            0xb0, 'K', 0xee,
            0x8b, 0x86, 0x28, 0x02, 0x00, 0x00, // mov eax, [rsi+0x228] (cmd_line_ptr)
            0x8a, 0x00, 0xee,                   // mov al, [rax]; out dx, al
            0xb0, '\n', 0xee,
            0x66, 0xba, 0x00, 0x06,             // mov dx, 0x600 (sleep control)
            0xb0, 0x34, 0xee,                   // SLP_TYP=5, SLP_EN
            0xf4, 0xeb, 0xfd);                  // hlt; jmp hlt

    /** ud2 with an empty IDT: #UD → #NP → #DF → triple fault. */
    static final byte[] TRIPLE_FAULT = bytes(0x0f, 0x0b);

    /** BSP: INIT + SIPI (vector 0x08) to APIC id 1, wait for the AP's flag at 0x6f00, print 'B', power off. */
    static final byte[] SMP_BSP = bytes(
            0xb8, 0x00, 0x03, 0xe0, 0xfe,                   // mov eax, 0xfee00300 (ICR low)
            0xc7, 0x40, 0x10, 0x00, 0x00, 0x00, 0x01,       // mov dword [rax+0x10], 1<<24 (ICR high: APIC id 1)
            0xc7, 0x00, 0x00, 0x45, 0x00, 0x00,             // mov dword [rax], 0x4500 (INIT)
            0xc7, 0x00, 0x08, 0x46, 0x00, 0x00,             // mov dword [rax], 0x4608 (SIPI, vector 8 → 0x8000)
            0xbb, 0x00, 0x6f, 0x00, 0x00,                   // mov ebx, 0x6f00
            0x80, 0x3b, 0x01, 0x75, 0xfb,                   // wait: cmp byte [rbx],1; jne wait
            0x66, 0xba, 0xf8, 0x03, 0xb0, 'B', 0xee, 0xb0, '\n', 0xee,
            0x66, 0xba, 0x00, 0x06, 0xb0, 0x34, 0xee,
            0xf4, 0xeb, 0xfd);

    /** AP, real mode at 0x8000: print 'A', set the flag, halt. */
    static final byte[] SMP_AP = bytes(
            0xba, 0xf8, 0x03, 0xb0, 'A', 0xee, // mov dx,0x3f8; mov al,'A'; out dx,al
            0xc6, 0x06, 0x00, 0x6f, 0x01,   // mov byte [0x6f00], 1
            0xf4, 0xeb, 0xfd);
}
