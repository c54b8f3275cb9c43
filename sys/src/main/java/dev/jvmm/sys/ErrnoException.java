package dev.jvmm.sys;

import jnr.constants.platform.Errno;

/**
 * A failed system call: the operation (usually the ioctl's kernel name), errno and context.
 * The message reads like {@code KVM_IRQFD failed: EINVAL (Invalid argument) [gsi=24 fd=37]}.
 */
public class ErrnoException extends RuntimeException {
    private final String op;
    private final int errno;
    private final String context;

    public ErrnoException(String op, int errno, String context) {
        super(format(op, errno, context));
        this.op = op;
        this.errno = errno;
        this.context = context == null ? "" : context;
    }

    /** The failing operation, for example {@code KVM_CREATE_VCPU} or {@code open}. */
    public String op() {
        return op;
    }

    public int errno() {
        return errno;
    }

    /** Symbolic errno name, for example {@code EEXIST}. */
    public String errnoName() {
        return name(errno);
    }

    public String context() {
        return context;
    }

    public static String name(int errno) {
        Errno e = Errno.valueOf(errno);
        return e == null || e == Errno.__UNKNOWN_CONSTANT__ ? "errno " + errno : e.name();
    }

    public static String description(int errno) {
        Errno e = Errno.valueOf(errno);
        return e == null || e == Errno.__UNKNOWN_CONSTANT__ ? "unknown error" : e.description();
    }

    private static String format(String op, int errno, String context) {
        String s = op + " failed: " + name(errno) + " (" + description(errno) + ")";
        return context == null || context.isEmpty() ? s : s + " [" + context + "]";
    }
}
