package dev.jvmm.sys.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.FlexArray;
import dev.jvmm.sys.LibC;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.testing.HeaderCheck;
import dev.jvmm.sys.vhost.VhostFd.MemoryRegion;
import dev.jvmm.sys.vhost.uapi.VhostConstants;
import dev.jvmm.sys.vhost.uapi.VhostIoctls;
import dev.jvmm.sys.vhost.uapi.VhostMemory;
import dev.jvmm.sys.vhost.uapi.VhostMemoryRegion;
import dev.jvmm.sys.vhost.uapi.VhostVringAddr;
import dev.jvmm.sys.vhost.uapi.VhostVringFile;
import dev.jvmm.sys.vhost.uapi.VhostVringState;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vhost ABI as gcc sees {@code <linux/vhost.h>}: every ioctl number, constant and struct layout mirrored in
 * {@code sys.vhost.uapi}, and the bytes VhostFd's encoders write, read back by a C program through the kernel's own
 * struct definitions.
 */
class VhostAbiTest {
    private static final int FILL = 0xa5;

    @Test
    void everyIoctlNumberConstantAndStructLayoutMatchesTheHeader(@TempDir Path tmp) throws Exception {
        Path classes = Path.of(LibC.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<Class<?>> vhost = HeaderCheck.classesUnder(classes, "dev.jvmm.sys.vhost.uapi");
        HeaderCheck.Result r = HeaderCheck.check(vhost, tmp);
        System.out.printf("vhost layout: %d structs (%d sizeof, %d offsetof) and %d constants/ioctl numbers checked%n",
                r.structs(), r.sizes(), r.offsets(), r.constants());
        assertEquals(List.of(), r.mismatches(), "vhost mirrors that differ from <linux/vhost.h>");
        assertEquals(5, r.structs());
        // every public constant of every mirror class was compared (none is left out as @NotC or unannotated)
        int fields = 0;
        for (Class<?> c : vhost) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isPublic(f.getModifiers()) && Modifier.isStatic(f.getModifiers())) {
                    fields++;
                    String key = c.getSimpleName() + "." + f.getName();
                    assertTrue(r.cSource().contains("\"" + key + "\""), key + " was not checked");
                }
            }
        }
        assertEquals(fields, r.checks());
        for (String must : List.of("VhostIoctls.VHOST_GET_FEATURES", "VhostIoctls.VHOST_SET_FEATURES",
                "VhostIoctls.VHOST_SET_OWNER", "VhostIoctls.VHOST_RESET_OWNER", "VhostIoctls.VHOST_SET_MEM_TABLE",
                "VhostIoctls.VHOST_SET_LOG_BASE", "VhostIoctls.VHOST_SET_LOG_FD", "VhostIoctls.VHOST_SET_VRING_NUM",
                "VhostIoctls.VHOST_SET_VRING_ADDR", "VhostIoctls.VHOST_SET_VRING_BASE", "VhostIoctls.VHOST_GET_VRING_BASE",
                "VhostIoctls.VHOST_SET_VRING_KICK", "VhostIoctls.VHOST_SET_VRING_CALL", "VhostIoctls.VHOST_SET_VRING_ERR",
                "VhostIoctls.VHOST_NET_SET_BACKEND", "VhostIoctls.VHOST_GET_BACKEND_FEATURES",
                "VhostIoctls.VHOST_SET_BACKEND_FEATURES", "VhostIoctls.VHOST_VSOCK_SET_GUEST_CID",
                "VhostIoctls.VHOST_VSOCK_SET_RUNNING", "VhostConstants.VHOST_F_LOG_ALL",
                "VhostConstants.VHOST_NET_F_VIRTIO_NET_HDR", "VhostConstants.VHOST_VRING_F_LOG",
                "VhostConstants.VIRTIO_F_VERSION_1", "VhostConstants.VIRTIO_RING_F_EVENT_IDX",
                "VhostConstants.VIRTIO_RING_F_INDIRECT_DESC", "VhostConstants.VIRTIO_F_ACCESS_PLATFORM",
                "VhostMemory.SIZEOF", "VhostMemory.REGIONS", "VhostMemoryRegion.SIZEOF", "VhostMemoryRegion.FLAGS_PADDING",
                "VhostVringState.SIZEOF", "VhostVringFile.SIZEOF", "VhostVringFile.FD", "VhostVringAddr.SIZEOF",
                "VhostVringAddr.LOG_GUEST_ADDR")) {
            assertTrue(r.cSource().contains("\"" + must + "\""), must + " was not checked");
        }
    }

    @Test
    void ioctlNumbersAreTheOnesStraceDecodes() {
        // dir << 30 | size << 16 | 0xAF << 8 | nr, written out by hand
        assertEquals(0x8008AF00L, VhostIoctls.VHOST_GET_FEATURES);
        assertEquals(0x4008AF00L, VhostIoctls.VHOST_SET_FEATURES);
        assertEquals(0xAF01L, VhostIoctls.VHOST_SET_OWNER);
        assertEquals(0xAF02L, VhostIoctls.VHOST_RESET_OWNER);
        assertEquals(0x4008AF03L, VhostIoctls.VHOST_SET_MEM_TABLE);
        assertEquals(0x4008AF04L, VhostIoctls.VHOST_SET_LOG_BASE);
        assertEquals(0x4004AF07L, VhostIoctls.VHOST_SET_LOG_FD);
        assertEquals(0x4008AF10L, VhostIoctls.VHOST_SET_VRING_NUM);
        assertEquals(0x4028AF11L, VhostIoctls.VHOST_SET_VRING_ADDR);
        assertEquals(0x4008AF12L, VhostIoctls.VHOST_SET_VRING_BASE);
        assertEquals(0xC008AF12L, VhostIoctls.VHOST_GET_VRING_BASE);
        assertEquals(0x4008AF20L, VhostIoctls.VHOST_SET_VRING_KICK);
        assertEquals(0x4008AF21L, VhostIoctls.VHOST_SET_VRING_CALL);
        assertEquals(0x4008AF22L, VhostIoctls.VHOST_SET_VRING_ERR);
        assertEquals(0x4008AF25L, VhostIoctls.VHOST_SET_BACKEND_FEATURES);
        assertEquals(0x8008AF26L, VhostIoctls.VHOST_GET_BACKEND_FEATURES);
        assertEquals(0x4008AF30L, VhostIoctls.VHOST_NET_SET_BACKEND);
        assertEquals(0x4008AF60L, VhostIoctls.VHOST_VSOCK_SET_GUEST_CID);
        assertEquals(0x4004AF61L, VhostIoctls.VHOST_VSOCK_SET_RUNNING);
        assertEquals(1L << 26 | 1L << 27 | 1L << 28 | 1L << 29 | 1L << 32 | 1L << 33,
                1L << VhostConstants.VHOST_F_LOG_ALL | 1L << VhostConstants.VHOST_NET_F_VIRTIO_NET_HDR
                        | 1L << VhostConstants.VIRTIO_RING_F_INDIRECT_DESC | 1L << VhostConstants.VIRTIO_RING_F_EVENT_IDX
                        | 1L << VhostConstants.VIRTIO_F_VERSION_1 | 1L << VhostConstants.VIRTIO_F_ACCESS_PLATFORM);
    }

    // Values with every byte distinct from FILL and from each other's neighbours, the high bits set where a
    // sign or width mistake would show.
    private static final int INDEX = 0x8000_0001;
    private static final int NUM = 0x0000_fffe;
    private static final long DESC = 0x7f01_0203_0405_1000L;
    private static final long USED = 0x7f11_1213_1415_3000L;
    private static final long AVAIL = 0x7f21_2223_2425_2000L;
    private static final long LOG = 0x8031_3233_3435_3000L;
    private static final List<MemoryRegion> REGIONS = List.of(new MemoryRegion(0, 0x8000_0000L, 0x7f00_0000_0000L),
            new MemoryRegion(0x1_0000_0000L, 0x4000_0000L, 0xfedc_ba98_7654_3000L),
            new MemoryRegion(0xfeb0_0000L, 0x1000L, 0x7f12_3456_7000L));

    @Test
    void encodersWriteEveryFieldAtTheHeaderOffsetsAndNothingBeyond() {
        try (NativeBuffer b = filled(64)) {
            VhostFd.putVringState(b, INDEX, NUM);
            ByteBuffer want = image(64);
            want.putInt(VhostVringState.INDEX, INDEX).putInt(VhostVringState.NUM, NUM);
            assertBytes(want, b, "vhost_vring_state");
        }
        try (NativeBuffer b = filled(64)) {
            VhostFd.putVringFile(b, 1, -1);
            ByteBuffer want = image(64);
            want.putInt(VhostVringFile.INDEX, 1).putInt(VhostVringFile.FD, -1);
            assertBytes(want, b, "vhost_vring_file");
        }
        try (NativeBuffer b = filled(64)) {
            VhostFd.putVringAddr(b, INDEX, 1 << VhostConstants.VHOST_VRING_F_LOG, DESC, USED, AVAIL, LOG);
            ByteBuffer want = image(64);
            want.putInt(VhostVringAddr.INDEX, INDEX).putInt(VhostVringAddr.FLAGS, 1)
                    .putLong(VhostVringAddr.DESC_USER_ADDR, DESC).putLong(VhostVringAddr.USED_USER_ADDR, USED)
                    .putLong(VhostVringAddr.AVAIL_USER_ADDR, AVAIL).putLong(VhostVringAddr.LOG_GUEST_ADDR, LOG);
            assertBytes(want, b, "vhost_vring_addr");
        }
        try (FlexArray t = new FlexArray(VhostMemory.SIZEOF, VhostMemoryRegion.SIZEOF, REGIONS.size())) {
            int size = (int) t.buffer().size();
            assertEquals(8 + 3 * 32, size);
            fill(t.buffer());
            VhostFd.putMemTable(t, REGIONS);
            ByteBuffer want = image(size);
            want.putInt(VhostMemory.NREGIONS, 3).putInt(VhostMemory.PADDING, 0);
            for (int i = 0; i < REGIONS.size(); i++) {
                int o = VhostMemory.REGIONS + i * VhostMemoryRegion.SIZEOF;
                MemoryRegion r = REGIONS.get(i);
                want.putLong(o + VhostMemoryRegion.GUEST_PHYS_ADDR, r.guestPhysAddr())
                        .putLong(o + VhostMemoryRegion.MEMORY_SIZE, r.memorySize())
                        .putLong(o + VhostMemoryRegion.USERSPACE_ADDR, r.userspaceAddr())
                        .putLong(o + VhostMemoryRegion.FLAGS_PADDING, 0);
            }
            assertBytes(want, t.buffer(), "vhost_memory with 3 regions");
        }
        try (FlexArray t = new FlexArray(VhostMemory.SIZEOF, VhostMemoryRegion.SIZEOF, 2)) {
            assertThrows(IllegalArgumentException.class, () -> VhostFd.putMemTable(t, REGIONS));
        }
    }

    @Test
    void gccReadsTheEncodedStructsBackThroughTheKernelsDefinitions(@TempDir Path tmp) throws Exception {
        Path state = tmp.resolve("state.bin");
        Path file = tmp.resolve("file.bin");
        Path addr = tmp.resolve("addr.bin");
        Path mem = tmp.resolve("mem.bin");
        try (NativeBuffer b = filled(VhostVringState.SIZEOF)) {
            VhostFd.putVringState(b, INDEX, NUM);
            Files.write(state, bytes(b));
        }
        try (NativeBuffer b = filled(VhostVringFile.SIZEOF)) {
            VhostFd.putVringFile(b, 1, -1);
            Files.write(file, bytes(b));
        }
        try (NativeBuffer b = filled(VhostVringAddr.SIZEOF)) {
            VhostFd.putVringAddr(b, INDEX, 1 << VhostConstants.VHOST_VRING_F_LOG, DESC, USED, AVAIL, LOG);
            Files.write(addr, bytes(b));
        }
        try (FlexArray t = new FlexArray(VhostMemory.SIZEOF, VhostMemoryRegion.SIZEOF, REGIONS.size())) {
            fill(t.buffer());
            VhostFd.putMemTable(t, REGIONS);
            Files.write(mem, bytes(t.buffer()));
        }
        String c = """
                #include <stdio.h>
                #include <stdlib.h>
                #include <linux/vhost.h>
                #define P(name, v) printf("%s %llx\\n", name, (unsigned long long)(v))
                /* The whole file, in a zeroed buffer far larger than any of the structs. */
                static void *load(const char *path, size_t *len) {
                    FILE *f = fopen(path, "rb");
                    if (!f) { perror(path); exit(2); }
                    void *b = calloc(1, 65536);
                    *len = fread(b, 1, 65536, f);
                    fclose(f);
                    return b;
                }
                int main(int argc, char **argv) {
                    size_t n;
                    struct vhost_vring_state *s = load(argv[1], &n);
                    P("state.bytes", n); P("state.sizeof", sizeof *s); P("state.index", s->index); P("state.num", s->num);
                    struct vhost_vring_file *f = load(argv[2], &n);
                    P("file.bytes", n); P("file.sizeof", sizeof *f); P("file.index", f->index); P("file.fd", f->fd);
                    struct vhost_vring_addr *a = load(argv[3], &n);
                    P("addr.bytes", n); P("addr.sizeof", sizeof *a); P("addr.index", a->index); P("addr.flags", a->flags);
                    P("addr.desc_user_addr", a->desc_user_addr); P("addr.used_user_addr", a->used_user_addr);
                    P("addr.avail_user_addr", a->avail_user_addr); P("addr.log_guest_addr", a->log_guest_addr);
                    struct vhost_memory *m = load(argv[4], &n);
                    P("mem.bytes", n); P("mem.sizeof", sizeof *m + m->nregions * sizeof m->regions[0]);
                    P("mem.nregions", m->nregions); P("mem.padding", m->padding);
                    for (unsigned i = 0; i < m->nregions && i < 16; i++) {
                        char k[64];
                        snprintf(k, sizeof k, "mem.regions[%u].guest_phys_addr", i); P(k, m->regions[i].guest_phys_addr);
                        snprintf(k, sizeof k, "mem.regions[%u].memory_size", i); P(k, m->regions[i].memory_size);
                        snprintf(k, sizeof k, "mem.regions[%u].userspace_addr", i); P(k, m->regions[i].userspace_addr);
                        snprintf(k, sizeof k, "mem.regions[%u].flags_padding", i); P(k, m->regions[i].flags_padding);
                    }
                    return 0;
                }
                """;
        String out = HeaderCheck.compileAndRun("vhost_decode", c, tmp, state.toString(), file.toString(), addr.toString(),
                mem.toString());
        Map<String, String> got = new LinkedHashMap<>();
        for (String line : out.strip().split("\n")) {
            String[] kv = line.split(" ");
            got.put(kv[0], kv[1]);
        }
        Map<String, String> want = new LinkedHashMap<>();
        want.put("state.bytes", hex(8));
        want.put("state.sizeof", hex(8));
        want.put("state.index", hex(Integer.toUnsignedLong(INDEX)));
        want.put("state.num", hex(NUM));
        want.put("file.bytes", hex(8));
        want.put("file.sizeof", hex(8));
        want.put("file.index", hex(1));
        want.put("file.fd", hex(-1L)); // int, sign-extended by the cast: -1 reaches the kernel as -1
        want.put("addr.bytes", hex(40));
        want.put("addr.sizeof", hex(40));
        want.put("addr.index", hex(Integer.toUnsignedLong(INDEX)));
        want.put("addr.flags", hex(1));
        want.put("addr.desc_user_addr", hex(DESC));
        want.put("addr.used_user_addr", hex(USED));
        want.put("addr.avail_user_addr", hex(AVAIL));
        want.put("addr.log_guest_addr", hex(LOG));
        want.put("mem.bytes", hex(8 + 3 * 32));
        want.put("mem.sizeof", hex(8 + 3 * 32));
        want.put("mem.nregions", hex(3));
        want.put("mem.padding", hex(0));
        for (int i = 0; i < REGIONS.size(); i++) {
            MemoryRegion r = REGIONS.get(i);
            want.put("mem.regions[" + i + "].guest_phys_addr", hex(r.guestPhysAddr()));
            want.put("mem.regions[" + i + "].memory_size", hex(r.memorySize()));
            want.put("mem.regions[" + i + "].userspace_addr", hex(r.userspaceAddr()));
            want.put("mem.regions[" + i + "].flags_padding", hex(0));
        }
        assertEquals(want, got, "fields as the C compiler reads them from VhostFd's bytes");
    }

    private static NativeBuffer filled(int size) {
        NativeBuffer b = new NativeBuffer(size);
        fill(b);
        return b;
    }

    private static void fill(NativeBuffer b) {
        for (long i = 0; i < b.size(); i++) {
            b.putByte(i, FILL);
        }
    }

    /** The expected bytes: FILL everywhere, little-endian fields put at the header's offsets. */
    private static ByteBuffer image(int size) {
        byte[] a = new byte[size];
        Arrays.fill(a, (byte) FILL);
        return ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] bytes(NativeBuffer b) {
        byte[] a = new byte[(int) b.size()];
        b.get(0, a, 0, a.length);
        return a;
    }

    private static void assertBytes(ByteBuffer want, NativeBuffer b, String what) {
        byte[] got = bytes(b);
        assertEquals(HexFormat.of().formatHex(want.array()), HexFormat.of().formatHex(got), what);
    }

    private static String hex(long v) {
        return Long.toHexString(v);
    }
}
