package dev.jvmm.probe;

import java.nio.file.Path;

/**
 * Where the probe looks for the host's pseudo file systems. {@link #host()} is the running system; tests build
 * fake trees under one directory with {@link #under(Path)} ({@code base/sys}, {@code base/proc}, {@code base/dev},
 * {@code base/etc}, {@code base/lib/modules}).
 *
 * @param sys     the sysfs mount ({@code /sys})
 * @param proc    the procfs mount ({@code /proc})
 * @param dev     the device directory ({@code /dev})
 * @param etc     the configuration directory ({@code /etc})
 * @param modules the kernel module tree ({@code /lib/modules})
 */
public record Roots(Path sys, Path proc, Path dev, Path etc, Path modules) {
    /** The running host. */
    public static Roots host() {
        return new Roots(Path.of("/sys"), Path.of("/proc"), Path.of("/dev"), Path.of("/etc"), Path.of("/lib/modules"));
    }

    /** A fake host under {@code base}. */
    public static Roots under(Path base) {
        return new Roots(base.resolve("sys"), base.resolve("proc"), base.resolve("dev"), base.resolve("etc"),
                base.resolve("lib/modules"));
    }

    /** True when these roots are the running host's, so native probes (KVM ioctls, rlimits) describe them. */
    public boolean isHost() {
        return equals(host());
    }
}
