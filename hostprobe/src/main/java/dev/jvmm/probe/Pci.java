package dev.jvmm.probe;

import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciDevices;
import java.util.Optional;

/** Walks PCI config space (read through {@link PciDevices}) for the capabilities the IOMMU checks look at: ACS. */
final class Pci {
    private final PciDevices pci;

    Pci(PciDevices pci) {
        this.pci = pci;
    }

    /** A PCI config space image (as much as was readable). */
    record Config(byte[] b) {
        int u8(int off) {
            return off < b.length ? b[off] & 0xff : -1;
        }

        int u16(int off) {
            return off + 1 < b.length ? (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 : -1;
        }

        long u32(int off) {
            return off + 3 < b.length ? (u16(off) & 0xffffL) | (long) u16(off + 2) << 16 : -1;
        }

        /** Offset of standard capability {@code id}, or -1. */
        int capability(int id) {
            if ((u16(6) & 0x10) == 0) {
                return -1; // no capability list
            }
            int p = u8(0x34) & 0xfc;
            for (int guard = 0; p >= 0x40 && guard < 48; guard++) {
                if (u8(p) == id) {
                    return p;
                }
                p = u8(p + 1) & 0xfc;
            }
            return -1;
        }

        /** Offset of extended capability {@code id}, or -1 (also when the extended space was not readable). */
        int extCapability(int id) {
            int p = 0x100;
            for (int guard = 0; p >= 0x100 && p + 3 < b.length && guard < 512; guard++) {
                long hdr = u32(p);
                if (hdr == 0 || hdr == 0xffffffffL) {
                    return -1;
                }
                if ((hdr & 0xffff) == id) {
                    return p;
                }
                p = (int) ((hdr >>> 20) & 0xffc);
            }
            return -1;
        }
    }

    Optional<Config> config(PciAddress a) {
        return pci.config(a, 4096).map(Config::new);
    }

    /** PCIe device/port type from the PCI Express capability, or -1. */
    static int pcieType(Config c) {
        int p = c.capability(0x10);
        return p < 0 ? -1 : (c.u16(p + 2) >> 4) & 0xf;
    }

    /** ACS Source Validation, Request Redirect, Completion Redirect, Upstream Forwarding, as libvirt requires. */
    static final int ACS_REQUIRED = 0x1 | 0x4 | 0x8 | 0x10;

    /**
     * The ACS state of one downstream or root port: "enabled", "missing", "partial (ctrl=0x..)", or "unreadable"
     * when the extended config space cannot be read (it needs CAP_SYS_ADMIN).
     */
    String acs(PciAddress bridge) {
        Optional<Config> c = config(bridge);
        if (c.isEmpty() || c.get().b().length <= 0x100) {
            return "unreadable (extended config space needs root)";
        }
        int p = c.get().extCapability(0x0d);
        if (p < 0) {
            return "missing";
        }
        int ctrl = c.get().u16(p + 6);
        return (ctrl & ACS_REQUIRED) == ACS_REQUIRED ? "enabled" : String.format("partial (ctrl=0x%x)", ctrl);
    }
}
