package dev.jvmm.sys.uring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.LibC;
import dev.jvmm.sys.testing.HeaderCheck;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The io_uring ABI as gcc sees {@code <linux/io_uring.h>} and {@code <sys/syscall.h>}: the system call numbers,
 * the opcodes, flags and mmap offsets, and the layouts of io_uring_params, io_sqring_offsets, io_cqring_offsets,
 * io_uring_sqe and io_uring_cqe mirrored in {@code sys.uring.uapi}.
 */
class IoUringAbiTest {
    @Test
    void everyConstantAndStructLayoutMatchesTheHeader(@TempDir Path tmp) throws Exception {
        Path classes = Path.of(LibC.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<Class<?>> uring = HeaderCheck.classesUnder(classes, "dev.jvmm.sys.uring.uapi");
        HeaderCheck.Result r = HeaderCheck.check(uring, tmp);
        System.out.printf("io_uring layout: %d structs (%d sizeof, %d offsetof) and %d constants checked%n",
                r.structs(), r.sizes(), r.offsets(), r.constants());
        assertEquals(List.of(), r.mismatches(), "io_uring mirrors that differ from <linux/io_uring.h>");
        assertEquals(5, r.structs());
        int fields = 0;
        for (Class<?> c : uring) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isPublic(f.getModifiers()) && Modifier.isStatic(f.getModifiers())) {
                    fields++;
                    String key = c.getSimpleName() + "." + f.getName();
                    assertTrue(r.cSource().contains("\"" + key + "\""), key + " was not checked");
                }
            }
        }
        assertEquals(fields, r.checks(), "every public constant of the mirrors was compared");
        for (String must : List.of("IoUringConstants.__NR_io_uring_setup", "IoUringConstants.__NR_io_uring_enter",
                "IoUringConstants.__NR_io_uring_register", "IoUringConstants.IORING_OP_READV",
                "IoUringConstants.IORING_OP_WRITEV", "IoUringConstants.IORING_OP_FSYNC",
                "IoUringConstants.IORING_FSYNC_DATASYNC", "IoUringConstants.IORING_REGISTER_EVENTFD",
                "IoUringConstants.IORING_OFF_SQES", "IoUringConstants.IORING_OFF_CQ_RING", "IoUringParams.SIZEOF",
                "IoUringParams.SQ_OFF", "IoUringParams.CQ_OFF", "IoSqringOffsets.ARRAY", "IoCqringOffsets.CQES",
                "IoUringSqe.SIZEOF", "IoUringSqe.USER_DATA", "IoUringSqe.FSYNC_FLAGS", "IoUringCqe.SIZEOF",
                "IoUringCqe.RES")) {
            assertTrue(r.cSource().contains("\"" + must + "\""), must + " was not checked");
        }
    }

    @Test
    void systemCallNumbersAreTheX8664Ones() {
        // arch/x86/entry/syscalls/syscall_64.tbl, written out by hand
        assertEquals(425, dev.jvmm.sys.uring.uapi.IoUringConstants.__NR_io_uring_setup);
        assertEquals(426, dev.jvmm.sys.uring.uapi.IoUringConstants.__NR_io_uring_enter);
        assertEquals(427, dev.jvmm.sys.uring.uapi.IoUringConstants.__NR_io_uring_register);
    }
}
