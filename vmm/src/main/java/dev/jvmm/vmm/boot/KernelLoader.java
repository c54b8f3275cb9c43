package dev.jvmm.vmm.boot;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.vmm.VmmException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads a kernel into guest RAM: a bzImage per the Linux x86 boot protocol (zero page with the setup header,
 * e820, command line, initrd, ACPI RSDP address), or a vmlinux ELF through its PVH entry (hvm_start_info with a
 * memory map, command line and initrd module). Every image error names the file and what is wrong with it.
 */
public final class KernelLoader {
    private static final byte[] ELF_MAGIC = {0x7f, 'E', 'L', 'F'};
    /** XEN_ELFNOTE_PHYS32_ENTRY, in a note named "Xen". */
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    static final int HVM_START_MAGIC = 0x336ec578;

    private KernelLoader() {
    }

    /**
     * Loads {@code kernel} (and {@code initrd}) and writes the boot information.
     *
     * @param rsdp guest-physical address of the ACPI RSDP (0 for none)
     */
    public static BootEntry load(GuestMemory mem, Layout layout, Path kernel, Path initrd, String cmdline, long rsdp) {
        long size = ImageFile.size(kernel);
        byte[] head = ImageFile.head(kernel, BzImage.HEADER_BYTES);
        if (BzImage.looksLike(head)) {
            return loadBzImage(mem, layout, kernel, head, size, initrd, cmdline, rsdp);
        }
        if (head.length >= 4 && java.util.Arrays.equals(java.util.Arrays.copyOf(head, 4), ELF_MAGIC)) {
            return loadPvh(mem, layout, kernel, size, initrd, cmdline, rsdp);
        }
        throw new VmmException(VmmException.Reason.IMAGE, kernel
                + ": not a kernel image jvmm can boot (neither a bzImage with a \"HdrS\" setup header nor an ELF vmlinux)");
    }

    static BootEntry loadBzImage(GuestMemory mem, Layout layout, Path kernel, byte[] head, long fileSize, Path initrd,
            String cmdline, long rsdp) {
        String name = kernel.toString();
        BzImage h = BzImage.parse(head, fileSize, name);
        long kernelBytes = fileSize - h.kernelOffset();
        long kernelEnd = Layout.KERNEL_LOAD + Math.max(kernelBytes, h.initSize());
        if (kernelEnd > layout.lowRamEnd()) {
            throw new VmmException(VmmException.Reason.IMAGE, String.format(
                    "%s: the kernel needs 0x%x bytes from 1 MiB, more than the VM's low RAM (%d MiB); give it more --memory",
                    name, kernelEnd - Layout.KERNEL_LOAD, layout.lowRamEnd() >> 20));
        }
        byte[] cmd = cmdline.getBytes(StandardCharsets.US_ASCII);
        long maxCmd = h.version() >= 0x0206 ? h.cmdlineSize() : 255;
        if (cmd.length > maxCmd || cmd.length >= Layout.CMDLINE_MAX) {
            throw new VmmException(VmmException.Reason.CONFIG, String.format(
                    "--cmdline: %d bytes, but this kernel accepts at most %d", cmd.length, maxCmd));
        }
        ImageFile.load(kernel, h.kernelOffset(), kernelBytes, mem, Layout.KERNEL_LOAD);

        // The zero page: start from the image's own setup header (copied verbatim), then fill in the loader fields.
        mem.fill(Layout.ZERO_PAGE, 4096, (byte) 0);
        mem.write(Layout.ZERO_PAGE + BzImage.OFF_SETUP_SECTS, head, BzImage.OFF_SETUP_SECTS,
                h.headerEnd() - BzImage.OFF_SETUP_SECTS);
        long zp = Layout.ZERO_PAGE;
        mem.putByte(zp + BzImage.OFF_TYPE_OF_LOADER, 0xff);
        mem.putByte(zp + BzImage.OFF_LOADFLAGS, h.loadflags() | BzImage.CAN_USE_HEAP);
        mem.putShort(zp + BzImage.OFF_HEAP_END_PTR, 0xfe00);
        mem.putInt(zp + BzImage.OFF_CODE32_START, (int) Layout.KERNEL_LOAD);
        mem.write(Layout.CMDLINE, cmd);
        mem.putByte(Layout.CMDLINE + cmd.length, 0);
        mem.putInt(zp + BzImage.OFF_CMD_LINE_PTR, (int) Layout.CMDLINE);
        mem.putInt(zp + BzImage.OFF_CMDLINE_SIZE, cmd.length + 1);
        if (initrd != null) {
            long max = h.initrdAddrMax() == 0 ? 0x37ff_ffffL : h.initrdAddrMax();
            long[] at = placeInitrd(mem, layout, initrd, kernelEnd, max);
            mem.putInt(zp + BzImage.OFF_RAMDISK_IMAGE, (int) at[0]);
            mem.putInt(zp + BzImage.OFF_RAMDISK_SIZE, (int) at[1]);
            mem.putInt(zp + BzImage.BP_EXT_RAMDISK_IMAGE, (int) (at[0] >>> 32));
            mem.putInt(zp + BzImage.BP_EXT_RAMDISK_SIZE, (int) (at[1] >>> 32));
        }
        if (rsdp != 0 && h.version() >= 0x020e) {
            mem.putLong(zp + BzImage.BP_ACPI_RSDP_ADDR, rsdp);
        }
        List<E820.Entry> e820 = E820.build(layout);
        mem.putByte(zp + BzImage.BP_E820_ENTRIES, e820.size());
        for (int i = 0; i < e820.size(); i++) {
            long o = zp + BzImage.BP_E820_TABLE + 20L * i;
            mem.putLong(o, e820.get(i).addr());
            mem.putLong(o + 8, e820.get(i).size());
            mem.putInt(o + 16, e820.get(i).type());
        }
        if (h.has64BitEntry()) {
            return new BootEntry(BootEntry.Mode.LONG64, Layout.KERNEL_LOAD + 0x200, zp,
                    "bzImage (boot protocol " + h.versionString() + "), 64-bit entry");
        }
        return new BootEntry(BootEntry.Mode.PROTECTED32, Layout.KERNEL_LOAD, zp,
                "bzImage (boot protocol " + h.versionString() + "), 32-bit entry");
    }

    /** Places the initrd page-aligned as high as allowed (below {@code max}, below the hole); returns {addr, size}. */
    static long[] placeInitrd(GuestMemory mem, Layout layout, Path initrd, long kernelEnd, long max) {
        long size = ImageFile.size(initrd);
        long top = Math.min(max + 1, layout.lowRamEnd());
        long addr = (top - size) & ~0xfffL;
        if (size == 0 || addr < ((kernelEnd + 0xfff) & ~0xfffL)) {
            throw new VmmException(VmmException.Reason.IMAGE, String.format(size == 0 ? "%s: the initrd is empty"
                    : "%s: the initrd (%d MiB) does not fit between the kernel and the top of low RAM; give the VM more --memory",
                    initrd, size >> 20));
        }
        ImageFile.load(initrd, 0, size, mem, addr);
        return new long[] {addr, size};
    }

    static BootEntry loadPvh(GuestMemory mem, Layout layout, Path kernel, long fileSize, Path initrd, String cmdline,
            long rsdp) {
        String name = kernel.toString();
        byte[] eh = ImageFile.head(kernel, 64);
        ByteBuffer b = ByteBuffer.wrap(eh).order(ByteOrder.LITTLE_ENDIAN);
        if (eh.length < 64 || eh[4] != 2 || eh[5] != 1 || (b.getShort(18) & 0xffff) != 62) {
            throw new VmmException(VmmException.Reason.IMAGE, name + ": not a little-endian ELF64 x86-64 image");
        }
        long phoff = b.getLong(32);
        int phentsize = b.getShort(54) & 0xffff;
        int phnum = b.getShort(56) & 0xffff;
        // e_phoff is a u64: one at or above 2^63 reads as negative here (and would be a negative file position)
        if (phentsize < 56 || phnum == 0 || phnum > 64 || phoff < 0 || phoff > fileSize - (long) phnum * phentsize) {
            throw new VmmException(VmmException.Reason.IMAGE, name + ": bad ELF program header table");
        }
        byte[] ph = readRange(kernel, phoff, phnum * phentsize);
        ByteBuffer p = ByteBuffer.wrap(ph).order(ByteOrder.LITTLE_ENDIAN);
        long entry = -1;
        long kernelEnd = 0;
        for (int i = 0; i < phnum; i++) {
            int o = i * phentsize;
            int type = p.getInt(o);
            long off = p.getLong(o + 8);
            long paddr = p.getLong(o + 24);
            long filesz = p.getLong(o + 32);
            long memsz = p.getLong(o + 40);
            if (off < 0 || filesz < 0 || off > fileSize - filesz || memsz < filesz) { // (no overflow in the sum)
                throw new VmmException(VmmException.Reason.IMAGE, name + ": ELF segment " + i + " lies outside the file");
            }
            if (type == 1) { // PT_LOAD
                if (paddr < Layout.HIGH_MEMORY || !mem.contains(paddr, memsz) || paddr + memsz > layout.lowRamEnd()) {
                    throw new VmmException(VmmException.Reason.IMAGE, String.format(
                            "%s: ELF segment %d [0x%x, +0x%x) does not fit in the VM's low RAM", name, i, paddr, memsz));
                }
                ImageFile.load(kernel, off, filesz, mem, paddr);
                mem.fill(paddr + filesz, memsz - filesz, (byte) 0);
                kernelEnd = Math.max(kernelEnd, paddr + memsz);
            } else if (type == 4 && filesz < (1 << 20)) { // PT_NOTE
                long e = pvhEntry(readRange(kernel, off, (int) filesz));
                if (e >= 0) {
                    entry = e;
                }
            }
        }
        if (entry < 0) {
            throw new VmmException(VmmException.Reason.IMAGE, name
                    + ": this ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); boot its bzImage instead");
        }
        byte[] cmd = cmdline.getBytes(StandardCharsets.US_ASCII);
        mem.write(Layout.CMDLINE, cmd);
        mem.putByte(Layout.CMDLINE + cmd.length, 0);
        // hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h), version 1, then modlist and memmap.
        long si = Layout.PVH_START_INFO;
        long modlist = si + 64;
        long memmap = modlist + 32;
        mem.fill(si, 0x400, (byte) 0);
        mem.putInt(si, HVM_START_MAGIC);
        mem.putInt(si + 4, 1);
        mem.putLong(si + 24, Layout.CMDLINE);
        mem.putLong(si + 32, rsdp);
        if (initrd != null) {
            long[] at = placeInitrd(mem, layout, initrd, kernelEnd, layout.lowRamEnd() - 1);
            mem.putInt(si + 12, 1);
            mem.putLong(si + 16, modlist);
            mem.putLong(modlist, at[0]);
            mem.putLong(modlist + 8, at[1]);
        }
        List<E820.Entry> e820 = E820.build(layout);
        mem.putLong(si + 40, memmap);
        mem.putInt(si + 48, e820.size());
        for (int i = 0; i < e820.size(); i++) {
            long o = memmap + 24L * i;
            mem.putLong(o, e820.get(i).addr());
            mem.putLong(o + 8, e820.get(i).size());
            mem.putInt(o + 16, e820.get(i).type());
        }
        return new BootEntry(BootEntry.Mode.PVH, entry, si, "ELF vmlinux, PVH entry");
    }

    /** Walks ELF notes; returns the PVH entry or -1. */
    static long pvhEntry(byte[] notes) {
        ByteBuffer n = ByteBuffer.wrap(notes).order(ByteOrder.LITTLE_ENDIAN);
        int o = 0;
        while (o + 12 <= notes.length) {
            int namesz = n.getInt(o);
            int descsz = n.getInt(o + 4);
            int type = n.getInt(o + 8);
            int nameOff = o + 12;
            // in long: a name size near 2^31 padded to 4 bytes overflows an int (and made a negative offset)
            long descAt = nameOff + ((namesz + 3L) & ~3L);
            if (namesz < 0 || descsz < 0 || descAt + descsz > notes.length) {
                return -1;
            }
            int descOff = (int) descAt;
            String nm = new String(notes, nameOff, Math.max(0, namesz - 1), StandardCharsets.US_ASCII);
            if (nm.equals("Xen") && type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
                return descsz >= 8 ? n.getLong(descOff) : n.getInt(descOff) & 0xffff_ffffL;
            }
            o = descOff + ((descsz + 3) & ~3);
        }
        return -1;
    }

    private static byte[] readRange(Path p, long off, int len) {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p)) {
            ByteBuffer bb = ByteBuffer.allocate(len);
            while (bb.hasRemaining()) {
                if (ch.read(bb, off + bb.position()) < 0) {
                    throw new VmmException(VmmException.Reason.IMAGE, p + ": file ended early");
                }
            }
            return bb.array();
        } catch (java.io.IOException e) {
            throw new VmmException(VmmException.Reason.IMAGE, p + ": cannot read: " + e.getMessage(), e);
        }
    }
}
