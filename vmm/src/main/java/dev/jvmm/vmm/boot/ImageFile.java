package dev.jvmm.vmm.boot;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads image files: a small head into the Java heap, bulk data straight into guest RAM with read(2). */
final class ImageFile {
    private ImageFile() {
    }

    static byte[] head(Path p, int n) {
        try (InputStream in = Files.newInputStream(p)) {
            return in.readNBytes(n);
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.IMAGE, p + ": cannot read: " + e.getMessage(), e);
        }
    }

    static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.IMAGE, p + ": cannot stat: " + e.getMessage(), e);
        }
    }

    /**
     * Copies {@code len} bytes at {@code fileOffset} of {@code p} to guest-physical {@code gpa}: one bounds check,
     * then read(2) directly into guest RAM (no copy through the Java heap).
     */
    static void load(Path p, long fileOffset, long len, GuestMemory mem, long gpa) {
        long host = mem.hostAddress(gpa, len);
        try (Fd fd = Fd.open(p.toString(), Native.O_RDONLY | Native.O_CLOEXEC);
                NativeBuffer iov = new NativeBuffer(16)) {
            long done = 0;
            while (done < len) {
                iov.putLong(0, host + done);
                iov.putLong(8, len - done);
                long n = Native.LIBC.preadv(fd.fd(), iov.address(), 1, fileOffset + done);
                if (n < 0 && Native.errno() == Errno.EINTR) {
                    continue;
                }
                if (n <= 0) {
                    throw shortRead(p, fileOffset, len, n);
                }
                done += n;
            }
        }
    }

    private static VmmException shortRead(Path p, long off, long len, long n) {
        if (n < 0) {
            return new VmmException(VmmException.Reason.IMAGE, p + ": read failed",
                    new ErrnoException("read", Native.errno(), p.toString()));
        }
        return new VmmException(VmmException.Reason.IMAGE, String.format(
                "%s: file ended early (wanted 0x%x bytes at offset 0x%x)", p, len, off));
    }
}
