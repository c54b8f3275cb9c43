package dev.jvmm.iommu;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.pci.IommuGroups;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.vfio.uapi.VfioConstants;
import dev.jvmm.sys.vfio.uapi.VfioGroupStatus;
import dev.jvmm.sys.vfio.uapi.VfioIoctls;
import java.nio.charset.StandardCharsets;
import dev.jvmm.sys.pci.VfioUsers;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A VFIO group ({@code /dev/vfio/N}): the unit of isolation the IOMMU gives to userspace. Made and owned by
 * {@link VfioContainer#group}; {@link #close()} (idempotent) releases the group, which detaches it from the container.
 */
public final class VfioGroup implements AutoCloseable {
    private final int id;
    private final Fd fd;
    private final IommuGroups groups;

    private VfioGroup(int id, Fd fd, IommuGroups groups) {
        this.id = id;
        this.fd = fd;
        this.groups = groups;
    }

    /** Opens {@code devVfio/N} and checks {@code VFIO_GROUP_FLAGS_VIABLE}; the error names the devices in the way. */
    static VfioGroup open(Path devVfio, int id, IommuGroups groups) {
        Path node = devVfio.resolve(Integer.toString(id));
        Fd fd;
        try {
            fd = Fd.open(node.toString(), Native.O_RDWR);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.ENOENT) {
                IommuGroups.Viability v = IommuException.mapping(() -> groups.viability(id));
                if (!v.viable()) {
                    throw IommuException.of(v.notViable());
                }
                throw new IommuException(IommuException.Reason.NOT_BOUND_TO_VFIO, node + " is missing: no device of "
                        + "IOMMU group " + id + " " + v.devices() + " is bound to vfio-pci", e);
            }
            if (e.errno() == Errno.EBUSY) {
                throw busy(node, id, e);
            }
            throw new IommuException(IommuException.Reason.IOCTL, "cannot open " + node + ": " + e.getMessage(), e);
        }
        VfioGroup g = new VfioGroup(id, fd, groups);
        try {
            if ((g.status() & VfioConstants.VFIO_GROUP_FLAGS_VIABLE) == 0) {
                IommuGroups.Viability v = IommuException.mapping(() -> groups.viability(id));
                throw v.viable() ? new IommuException(IommuException.Reason.GROUP_NOT_VIABLE, "IOMMU group " + id
                        + " is not viable (VFIO_GROUP_GET_STATUS), although sysfs shows every device of "
                        + v.devices() + " bound to vfio-pci or no driver") : IommuException.of(v.notViable());
            }
            return g;
        } catch (RuntimeException e) {
            g.close();
            throw e;
        }
    }

    /** EBUSY on open: VFIO gives a group to one user at a time; the error names who holds it, from /proc. */
    private static IommuException busy(Path node, int id, ErrnoException e) {
        String who;
        try {
            VfioUsers users = VfioUsers.scan(Path.of("/proc"));
            List<VfioUsers.User> holders = users.of(node.toString());
            who = holders.isEmpty() ? "no process jvmm can see holds it" + (users.unreadable() > 0
                    ? " (" + users.unreadable() + " process(es) could not be read: run as root to see them)" : "")
                    : holders.stream().map(VfioUsers.User::toString).collect(Collectors.joining(", "));
        } catch (RuntimeException scan) {
            who = "its holder could not be found: " + scan.getMessage();
        }
        return new IommuException(IommuException.Reason.GROUP_BUSY, "IOMMU group " + id + " (" + node
                + ") is in use by another process: " + who + "; VFIO lets one process hold a group: stop it, or pass "
                + "the device to that VM", e);
    }

    public int id() {
        return id;
    }

    /** {@code VFIO_GROUP_GET_STATUS}: {@code VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET}. */
    public int status() {
        try (NativeBuffer b = new NativeBuffer(VfioGroupStatus.SIZEOF)) {
            b.putInt(VfioGroupStatus.ARGSZ, VfioGroupStatus.SIZEOF);
            ioctl("VFIO_GROUP_GET_STATUS", VfioIoctls.VFIO_GROUP_GET_STATUS, b.address());
            return b.getInt(VfioGroupStatus.FLAGS);
        }
    }

    void setContainer(Fd container) {
        try (NativeBuffer b = new NativeBuffer(4)) {
            b.putInt(0, container.fd());
            ioctl("VFIO_GROUP_SET_CONTAINER", VfioIoctls.VFIO_GROUP_SET_CONTAINER, b.address());
        }
    }

    /**
     * {@code VFIO_GROUP_GET_DEVICE_FD}: the device fd of {@code bdf}, which must be a member of this group and bound
     * to vfio-pci (checked first, so that the error says so). The caller owns the returned fd.
     */
    public Fd openDevice(String bdf) {
        PciAddress a = IommuException.mapping(() -> PciAddress.parse(bdf));
        String b = a.toString();
        int g = IommuException.mapping(() -> groups.requireVfioReady(a));
        if (g != id) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT, "PCI device " + b + " is in IOMMU group "
                    + g + ", not in group " + id);
        }
        byte[] name = b.getBytes(StandardCharsets.US_ASCII);
        try (NativeBuffer s = new NativeBuffer(name.length + 1)) {
            s.put(0, name, 0, name.length);
            int dfd = ioctl("VFIO_GROUP_GET_DEVICE_FD", VfioIoctls.VFIO_GROUP_GET_DEVICE_FD, s.address());
            return new Fd(dfd, "vfio device " + b);
        }
    }

    private int ioctl(String op, long req, long arg) {
        try {
            return fd.ioctl(op, req, arg, "/dev/vfio/" + id);
        } catch (ErrnoException e) {
            throw new IommuException(IommuException.Reason.IOCTL, e.getMessage(), e);
        }
    }

    /** The raw group fd, for {@code KVM_DEV_VFIO_GROUP_ADD}. */
    public int fd() {
        return fd.fd();
    }

    public boolean isOpen() {
        return fd.isOpen();
    }

    @Override
    public void close() {
        fd.close();
    }
}
