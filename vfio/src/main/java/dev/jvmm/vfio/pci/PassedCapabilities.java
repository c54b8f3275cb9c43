package dev.jvmm.vfio.pci;

import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.core.pci.PciFunction;
import dev.jvmm.vfio.VfioDeviceIo;
import java.util.ArrayList;
import java.util.List;

/**
 * The device's own capability list, and the capabilities shown to the guest as the device has them: PCI Express
 * and Power Management. Each is a copy in the guest's config space (at an offset of the guest's list) whose reads
 * and writes go to the device's capability (where vfio-pci applies its own virtualisation), except for the bytes
 * jvmm emulates: the ID and next pointer, and for a PCIe endpoint on the VM's root bus the port type (a Root Complex
 * Integrated Endpoint there, since a plain endpoint needs a root port above it) and the link registers, which such
 * an endpoint does not have (read as 0, writes dropped). QEMU presents a device on its q35 root bus the same way.
 *
 * <p>MSI and MSI-X are emulated by {@link VfioPciDevice}; every other capability is hidden, and so is the whole
 * extended list (SR-IOV, ARI, resizable BAR, AER...): the guest's extended space is empty.
 */
final class PassedCapabilities {
    static final int CAP_PM = 0x01;
    static final int CAP_EXP = 0x10;
    private static final int EXP_FLAGS = 0x02;
    private static final int EXP_TYPE_ENDPOINT = 0x0;
    private static final int EXP_TYPE_RC_END = 0x9;
    /** Link Capabilities/Control/Status and their "2" versions in the PCIe capability, as offsets and lengths. */
    private static final int[][] EXP_LINK_REGS = {{0x0c, 4}, {0x10, 2}, {0x12, 2}, {0x2c, 4}, {0x30, 2}, {0x32, 2}};

    /** One capability of the device's list. */
    record Cap(int id, int offset) {
    }

    /** A capability shown as the device has it: {@code length} bytes at {@code virt} (guest) and {@code phys} (device). */
    private record Passed(int id, int virt, int phys, int length, byte[] emulated) {
        boolean holds(int offset, int size) {
            return offset >= virt && offset + size <= virt + length;
        }
    }

    private final VfioDeviceIo dev;
    private final List<Passed> passed = new ArrayList<>();

    /** Device config bytes no passed capability may write: the device's MSI and MSI-X capabilities (jvmm's own). */
    private final boolean[] foreign = new boolean[256];

    /** @param caps the device's capability list: a passed one that overlaps its MSI or MSI-X never writes those bytes */
    PassedCapabilities(VfioDeviceIo dev, List<Cap> caps) {
        this.dev = dev;
        for (Cap c : caps) {
            int len = c.id() == 0x05 ? 0x18 : c.id() == 0x11 ? 12 : 0;
            for (int i = c.offset(); i < Math.min(c.offset() + len, foreign.length); i++) {
                foreign[i] = true;
            }
        }
    }

    /** The device's capability list in its order (at most 48 entries, so a looping list cannot hang us). */
    static List<Cap> list(VfioDeviceIo dev) {
        List<Cap> l = new ArrayList<>();
        if ((dev.readConfig(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAP_LIST) == 0) {
            return l;
        }
        int p = dev.readConfig(PciConfigSpace.CAPABILITIES_POINTER, 1) & 0xfc;
        for (int i = 0; p >= 0x40 && i < 48; i++) {
            l.add(new Cap(dev.readConfig(p, 1), p));
            p = dev.readConfig(p + 1, 1) & 0xfc;
        }
        return l;
    }

    static int find(List<Cap> caps, int id) {
        for (Cap c : caps) {
            if (c.id() == id) {
                return c.offset();
            }
        }
        return -1;
    }

    /**
     * Shows the device's PCIe capability at {@code phys}: an endpoint becomes a Root Complex Integrated Endpoint
     * without link registers; an RCiEP stays as it is. Returns what the guest sees, or null when the capability is
     * hidden (a legacy endpoint, a port or a bridge: none is valid on the VM's root bus).
     */
    String passExpress(PciFunction fn, int phys) {
        int flags = dev.readConfig(phys + EXP_FLAGS, 2);
        int type = (flags >>> 4) & 0xf;
        int length = (flags & 0xf) >= 2 ? 0x3c : 0x14;
        if (type != EXP_TYPE_ENDPOINT && type != EXP_TYPE_RC_END) {
            return null;
        }
        byte[] body = copy(phys, length);
        byte[] emulated = new byte[length];
        if (type == EXP_TYPE_ENDPOINT) {
            int f = (flags & ~0xf0) | EXP_TYPE_RC_END << 4;
            body[EXP_FLAGS] = (byte) f;
            emulated[EXP_FLAGS] = (byte) 0xf0;
            for (int[] r : EXP_LINK_REGS) {
                for (int i = 0; i < r[1] && r[0] + i < length; i++) {
                    body[r[0] + i] = 0;
                    emulated[r[0] + i] = (byte) 0xff;
                }
            }
        }
        add(fn, CAP_EXP, phys, body, emulated);
        return "PCIe v" + (flags & 0xf) + (type == EXP_TYPE_ENDPOINT ? " (endpoint shown as an RCiEP)" : " RCiEP");
    }

    /** Shows the device's Power Management capability at {@code phys} as it is (PMCSR writes reach vfio-pci). */
    String passPowerManagement(PciFunction fn, int phys) {
        add(fn, CAP_PM, phys, copy(phys, 8), new byte[8]);
        return "PM";
    }

    private byte[] copy(int phys, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i += 4) {
            int v = dev.readConfig(phys + i, 4);
            for (int k = 0; k < 4 && i + k < length; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }

    private void add(PciFunction fn, int id, int phys, byte[] body, byte[] emulated) {
        emulated[0] = (byte) 0xff; // ID and next pointer are the guest's list
        emulated[1] = (byte) 0xff;
        for (int i = 0; i < emulated.length; i++) {
            if (phys + i >= foreign.length || foreign[phys + i]) {
                emulated[i] = (byte) 0xff; // a malformed list overlaps MSI/MSI-X, or runs past 0xff: not written
            }
        }
        int virt = fn.config().addCapability(id, body, null);
        passed.add(new Passed(id, virt, phys, body.length, emulated));
    }

    /**
     * A guest read that falls in a passed capability: the device's bits merged with the emulated ones from
     * {@code virtual} (what the guest's config space holds). Null when the access is not in one.
     */
    Integer read(int offset, int size, int virtual) {
        Passed p = at(offset, size);
        if (p == null) {
            return null;
        }
        int mask = emulatedMask(p, offset, size);
        if (mask == (size == 4 ? -1 : (1 << (8 * size)) - 1)) {
            return virtual;
        }
        int hw = dev.readConfig(p.phys() + offset - p.virt(), size);
        return (hw & ~mask) | (virtual & mask);
    }

    /**
     * A guest write that falls in a passed capability goes to the device, byte by byte where part of it is emulated
     * (those bytes are not written). Returns whether the access was in one.
     */
    boolean write(int offset, int size, int value) {
        Passed p = at(offset, size);
        if (p == null) {
            return false;
        }
        int at = p.phys() + offset - p.virt();
        if (emulatedMask(p, offset, size) == 0) {
            dev.writeConfig(at, size, value);
            return true;
        }
        for (int i = 0; i < size; i++) {
            if (p.emulated()[offset - p.virt() + i] == 0) {
                dev.writeConfig(at + i, 1, (value >>> (8 * i)) & 0xff);
            }
        }
        return true;
    }

    private Passed at(int offset, int size) {
        for (Passed p : passed) {
            if (p.holds(offset, size)) {
                return p;
            }
        }
        return null;
    }

    private static int emulatedMask(Passed p, int offset, int size) {
        int m = 0;
        for (int i = size - 1; i >= 0; i--) {
            m = (m << 8) | (p.emulated()[offset - p.virt() + i] & 0xff);
        }
        return m;
    }
}
