package dev.jvmm.vfio;

import dev.jvmm.iommu.DmaMapping;
import dev.jvmm.iommu.IommuException;
import dev.jvmm.iommu.VfioContainer;
import dev.jvmm.iommu.VfioGroup;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.vfio.uapi.VfioConstants;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs inside L1 (started by {@link VfioLabTest}): exercises the real VFIO API on an igb VF and prints tagged lines
 * ({@code TAG value}) that the test checks. Every step's resources are closed before the next; a failure propagates
 * and exits non-zero.
 */
public final class VfioLabScenario {
    private VfioLabScenario() {
    }

    /**
     * The fds of this process that VFIO code could leak: /dev/vfio nodes and anonymous inodes (VFIO device fds,
     * eventfds). Jars and libraries the JVM opens lazily while loading classes are not counted.
     */
    static String vfioFds() throws IOException {
        List<String> l = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    String t = Files.readSymbolicLink(p).toString();
                    if (t.startsWith("/dev/vfio") || t.startsWith("anon_inode:")) {
                        l.add(t);
                    }
                } catch (IOException e) {
                    // the directory stream's own fd is gone by now
                }
            }
        }
        Collections.sort(l);
        return l.toString();
    }

    /** VmLck of this process in kB: type1 accounts pinned DMA pages in locked_vm. */
    static long vmLckKb() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmLck:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    static void out(String tag, Object v) {
        System.out.println(tag + " " + v);
    }

    public static void main(String[] args) throws Exception {
        String bdf = args[1];
        switch (args[0]) {
            case "basics" -> basics(bdf);
            case "error" -> error(bdf);
            case "memlock" -> memlock(bdf);
            default -> throw new IllegalArgumentException(args[0]);
        }
        System.out.flush();
    }

    static void basics(String bdf) throws Exception {
        dev.jvmm.sys.pci.IommuGroups groups = dev.jvmm.sys.pci.IommuGroups.system();
        dev.jvmm.sys.pci.PciAddress a = dev.jvmm.sys.pci.PciAddress.parse(bdf);
        String fds0 = vfioFds();
        out("GROUP", groups.groupOf(a));
        out("VIABLE", groups.viability(groups.groupOf(a)).viable());
        try (VfioContainer c = VfioContainer.open()) {
            out("API", c.apiVersion());
            out("TYPE1v2", c.checkExtension(VfioConstants.VFIO_TYPE1v2_IOMMU));
            VfioGroup g = c.groupFor(bdf);
            out("GROUP_STATUS", g.status());
            out("SAME_GROUP", c.groupFor(bdf) == g);

            long mb2 = 2L << 20;
            try (Mmap mem = Mmap.anonymousAligned(mb2, mb2, "dma-test")) {
                Native.putLong(mem.address(), 0x1122334455667788L);
                long lck0 = vmLckKb();
                DmaMapping m = c.map(mem.address(), 0x100000, mb2);
                out("DMA_MAPPED", m + " mappings=" + c.mappings().size() + " vmlck_kb_delta=" + (vmLckKb() - lck0));
                m.close();
                m.close(); // idempotent
                out("DMA_UNMAPPED", "mapped=" + m.isMapped() + " mappings=" + c.mappings().size()
                        + " vmlck_kb_delta=" + (vmLckKb() - lck0));
                // a mapping left open is unmapped when the container closes (checked below through VmLck)
                c.map(mem.address(), 0x200000, mb2);
                out("DMA_LEFT_OPEN", "mappings=" + c.mappings().size());
            }

            try (VfioDevice d = VfioDevice.open(g, bdf)) {
                out("FDS_OPEN", vfioFds());
                out("INFO", d.info());
                for (VfioRegionInfo r : d.regions()) {
                    out("REGION", r);
                }
                for (int i = 0; i < d.info().numIrqs(); i++) {
                    out("IRQ", d.irq(i));
                }
                out("CONFIG_ID", String.format("%04x:%04x", d.readConfig(0, 2), d.readConfig(2, 2)));
                out("CONFIG_ID32", String.format("%08x", d.readConfig(0, 4)));

                out("COMMAND_BEFORE", "0x" + Integer.toHexString(d.readConfig(4, 2)));
                d.writeConfig(4, 2, 0x6); // memory space + bus master, as a guest driver does
                out("COMMAND_AFTER", "0x" + Integer.toHexString(d.readConfig(4, 2)));
                try (Mmap bar0 = d.mmapRegion(VfioConstants.VFIO_PCI_BAR0_REGION_INDEX)) {
                    // igbvf VTSTATUS (0x0008), read through the mmap and through pread of the region: both must agree
                    int viaMmap = Native.getInt(bar0.address() + 8);
                    long viaPread = d.read(VfioConstants.VFIO_PCI_BAR0_REGION_INDEX, 8, 4);
                    out("BAR0_MMAP", String.format("len=0x%x status_mmap=0x%08x status_pread=0x%08x", bar0.length(),
                            viaMmap, viaPread));
                    // VTIVAR0 (0x1700), the VF's interrupt vector allocation: written through the mmap, read back through
                    // pread of the region and through the mmap, then restored. Both paths must agree (QEMU's igb VF in the
                    // lab reads its registers as 0: its PF never completes the VF reset, see docs/vfio.md)
                    int ivar = 0x1700;
                    long old = d.read(VfioConstants.VFIO_PCI_BAR0_REGION_INDEX, ivar, 4);
                    Native.putInt(bar0.address() + ivar, 0x00008281);
                    long back = d.read(VfioConstants.VFIO_PCI_BAR0_REGION_INDEX, ivar, 4);
                    int backMmap = Native.getInt(bar0.address() + ivar);
                    d.write(VfioConstants.VFIO_PCI_BAR0_REGION_INDEX, ivar, 4, old);
                    out("BAR0_IVAR", String.format("old=0x%08x written=0x00008281 pread=0x%08x mmap=0x%08x restored_mmap=0x%08x",
                            old, back, backMmap, Native.getInt(bar0.address() + ivar)));
                }

                try (EventFd e = EventFd.create("msix0")) {
                    d.setIrqEventfds(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX, 0, e.fd());
                    int msixCtl = d.readConfig(msixCap(d) + 2, 2);
                    out("MSIX_ENABLED", "ctl=0x" + Integer.toHexString(msixCtl) + " enable=" + ((msixCtl & 0x8000) != 0));
                    out("MSIX_BEFORE_TRIGGER", e.drain());
                    d.triggerIrq(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX, 0);
                    out("MSIX_EVENTFD", e.drain());
                    d.disableIrqs(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX);
                    int ctl2 = d.readConfig(msixCap(d) + 2, 2);
                    out("MSIX_DISABLED", "ctl=0x" + Integer.toHexString(ctl2) + " enable=" + ((ctl2 & 0x8000) != 0));
                    try {
                        d.triggerIrq(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX, 0);
                        out("MSIX_TRIGGER_AFTER_DISABLE", "accepted, eventfd=" + e.drain());
                    } catch (VfioException ex) {
                        out("MSIX_TRIGGER_AFTER_DISABLE", "refused " + ex.reason());
                    }
                }
                if (d.info().canReset()) {
                    d.reset();
                    out("RESET", "ok id=" + String.format("%04x:%04x", d.readConfig(0, 2), d.readConfig(2, 2)));
                }
                try {
                    d.mmapRegion(VfioConstants.VFIO_PCI_CONFIG_REGION_INDEX);
                    out("CONFIG_MMAP", "accepted");
                } catch (VfioException ex) {
                    out("CONFIG_MMAP", "refused " + ex.reason());
                }
            }
            out("VMLCK_BEFORE_CONTAINER_CLOSE", vmLckKb());
        }
        out("VMLCK_AFTER_CONTAINER_CLOSE", vmLckKb());
        out("FDS", fds0 + " -> " + vfioFds());
    }

    /** Walks the capability list in config space to the MSI-X capability (id 0x11). */
    static int msixCap(VfioDevice d) {
        int p = d.readConfig(0x34, 1) & 0xfc;
        for (int n = 0; p != 0 && n < 48; n++) {
            if (d.readConfig(p, 1) == 0x11) {
                return p;
            }
            p = d.readConfig(p + 1, 1) & 0xfc;
        }
        throw new IllegalStateException("no MSI-X capability");
    }

    /** bdf is not bound to vfio-pci: the error must say so, and no fd may be left open. */
    static void error(String bdf) throws Exception {
        String fds0 = vfioFds();
        try (VfioContainer c = VfioContainer.open(); VfioDevice d = VfioDevice.open(c.groupFor(bdf), bdf)) {
            out("UNEXPECTED", "opened " + d.info());
        } catch (IommuException e) {
            out("ERROR", e.reason() + " " + e.getMessage());
        }
        out("FDS", fds0 + " -> " + vfioFds());
    }

    /** Run without CAP_IPC_LOCK and with a small RLIMIT_MEMLOCK: MAP_DMA of 2 MiB must fail with MEMLOCK. */
    static void memlock(String bdf) throws Exception {
        String fds0 = vfioFds();
        try (VfioContainer c = VfioContainer.open(); Mmap mem = Mmap.anonymousAligned(2L << 20, 2L << 20, "dma-test")) {
            c.groupFor(bdf);
            try (DmaMapping m = c.map(mem.address(), 0x100000, 2L << 20)) {
                out("UNEXPECTED", "mapped " + m);
            } catch (IommuException e) {
                out("ERROR", e.reason() + " " + e.getMessage());
            }
            out("MAPPINGS", c.mappings().size());
        }
        out("FDS", fds0 + " -> " + vfioFds());
    }
}
