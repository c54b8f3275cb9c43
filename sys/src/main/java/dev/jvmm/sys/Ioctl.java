package dev.jvmm.sys;

/**
 * ioctl request number encoding, as {@code _IOC()} in {@code <asm-generic/ioctl.h>}:
 * {@code dir << 30 | size << 16 | type << 8 | nr}.
 */
public final class Ioctl {
    public static final int IOC_NONE = 0;
    public static final int IOC_WRITE = 1;
    public static final int IOC_READ = 2;

    private static final int NRBITS = 8;
    private static final int TYPEBITS = 8;
    private static final int SIZEBITS = 14;
    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = NRSHIFT + NRBITS;
    private static final int SIZESHIFT = TYPESHIFT + TYPEBITS;
    private static final int DIRSHIFT = SIZESHIFT + SIZEBITS;

    private Ioctl() {
    }

    public static long ioc(int dir, int type, int nr, long size) {
        if (size < 0 || size >= (1 << SIZEBITS)) {
            throw new IllegalArgumentException("ioctl argument size " + size + " does not fit in " + SIZEBITS + " bits");
        }
        return ((long) dir << DIRSHIFT) | (size << SIZESHIFT) | ((long) type << TYPESHIFT) | ((long) nr << NRSHIFT);
    }

    /** {@code _IO(type, nr)}. */
    public static long io(int type, int nr) {
        return ioc(IOC_NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, size)}: the kernel writes the argument. */
    public static long ior(int type, int nr, long size) {
        return ioc(IOC_READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, size)}: the kernel reads the argument. */
    public static long iow(int type, int nr, long size) {
        return ioc(IOC_WRITE, type, nr, size);
    }

    /** {@code _IOWR(type, nr, size)}. */
    public static long iowr(int type, int nr, long size) {
        return ioc(IOC_READ | IOC_WRITE, type, nr, size);
    }
}
