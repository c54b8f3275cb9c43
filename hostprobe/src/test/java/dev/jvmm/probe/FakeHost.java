package dev.jvmm.probe;

import dev.jvmm.sys.pci.FakePciHost;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Builds a fake /sys, /proc, /dev and /lib/modules tree under a temporary directory. */
final class FakeHost {
    static final String KERNEL = "6.1.0-test-amd64";
    final Path base;
    final Roots roots;
    private final FakePciHost pci;

    FakeHost(Path base) {
        this.base = base;
        this.roots = Roots.under(base);
        this.pci = new FakePciHost(base.resolve("sys"));
        file("proc/sys/kernel/osrelease", KERNEL + "\n");
        file("proc/self/limits", "Limit                     Soft Limit           Hard Limit           Units\n"
                + "Max locked memory         unlimited            unlimited            bytes\n");
        file("proc/self/status", "Name:\tjava\nCapEff:\t0000000000000000\n");
        file("proc/interrupts", "           CPU0\n  0:  10  IO-APIC   2-edge  timer\n");
        file("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n");
        mkdir("sys/kernel/iommu_groups");
        mkdir("sys/class/iommu");
        mkdir("sys/bus/pci/devices");
        mkdir("sys/firmware/acpi/tables");
        mkdir("lib/modules/" + KERNEL); // a host that can load modules; pvmGuest() and tests remove it
        cpu("vmx");
    }

    /** /proc/cpuinfo with the given extra flags. */
    FakeHost cpu(String flags) {
        file("proc/cpuinfo", "processor\t: 0\nmodel name\t: Fake CPU\nflags\t\t: fpu vme sse2 " + flags + "\n\n"
                + "processor\t: 1\nmodel name\t: Fake CPU\nflags\t\t: fpu vme sse2 " + flags + "\n");
        return this;
    }

    FakeHost file(String rel, String content) {
        try {
            Path p = base.resolve(rel);
            Files.createDirectories(p.getParent());
            Files.writeString(p, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    FakeHost bytes(String rel, byte[] content) {
        try {
            Path p = base.resolve(rel);
            Files.createDirectories(p.getParent());
            Files.write(p, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    FakeHost mkdir(String rel) {
        try {
            Files.createDirectories(base.resolve(rel));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    FakeHost link(String rel, String target) {
        try {
            Path p = base.resolve(rel);
            Files.createDirectories(p.getParent());
            Files.deleteIfExists(p);
            Files.createSymbolicLink(p, Path.of(target));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    FakeHost remove(String rel) {
        try {
            Files.deleteIfExists(base.resolve(rel));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    /** The host's device nodes as plain files (access checks work on them the same way). */
    FakeHost devices(String... rels) {
        for (String r : rels) {
            file("dev/" + r, "");
        }
        return this;
    }

    FakeHost module(String name) {
        return mkdir("sys/module/" + name);
    }

    /**
     * A PCI function at {@code /sys/devices/pci0000:00/<parents...>/<bdf>}, linked from /sys/bus/pci/devices (the
     * tree {@link FakePciHost} builds). {@code parents} are the bridge BDFs above it, outermost first, each made
     * with pci() before.
     */
    FakeHost pci(String bdf, String vendor, String device, String cls, String driver, String... parents) {
        pci.device(bdf, vendor, device, cls, driver, parents.length == 0 ? null : parents[parents.length - 1]);
        return this;
    }

    /** The device's directory below {@code base} ({@code sys/devices/pci0000:00/.../BDF}). */
    String devDir(String bdf) {
        try {
            return base.toRealPath().relativize(pci.realDir(bdf)).toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    FakeHost group(String id, String... bdfs) {
        pci.group(Integer.parseInt(id), bdfs);
        return this;
    }

    FakeHost sriov(String bdf, int total, int num, String netdev, String operstate) {
        pci.attr(bdf, "sriov_totalvfs", Integer.toString(total)).attr(bdf, "sriov_numvfs", Integer.toString(num))
                .attr(bdf, "sriov_drivers_autoprobe", "1");
        if (netdev != null) {
            pci.netdev(bdf, netdev, operstate);
        }
        return this;
    }

    /** Config space of a PCIe port of {@code type} (4 root, 6 downstream) with ACS control {@code acsCtrl} (or none). */
    static byte[] portConfig(int type, Integer acsCtrl) {
        byte[] b = new byte[4096];
        b[0x06] = 0x10; // status: capability list
        b[0x0a] = 0x04; // class 0604 (sub-class at 0x0a, base at 0x0b)
        b[0x0b] = 0x06;
        b[0x34] = 0x40;
        b[0x40] = 0x10; // PCI Express capability
        b[0x41] = 0x00;
        b[0x42] = (byte) (0x2 | type << 4);
        if (acsCtrl != null) {
            int hdr = 0x000d | 1 << 16; // ACS, version 1, next 0
            b[0x100] = (byte) hdr;
            b[0x101] = (byte) (hdr >> 8);
            b[0x102] = (byte) (hdr >> 16);
            b[0x103] = (byte) (hdr >> 24);
            b[0x104] = 0x1f; // capability: SV RR CR UF TB
            b[0x106] = (byte) (int) acsCtrl;
        }
        return b;
    }

    /** A KvmAccess that answers like a healthy hardware-assisted KVM at {@code ips} instructions per second. */
    static KvmAccess kvm(double ips, String... missingCaps) {
        return (dev, measure) -> {
            Map<String, Integer> caps = new LinkedHashMap<>();
            for (String c : DevKvm.REQUIRED_CAPS.keySet()) {
                caps.put(c, 1);
            }
            for (String m : missingCaps) {
                caps.put(m, 0);
            }
            KvmSpeed.Result s = measure ? new KvmSpeed.Result(200_000_002L, (long) (200_000_002L / ips * 1e9),
                    ips, 3) : null;
            return new KvmFacts(null, 12, caps, true, false, s, null);
        };
    }

    /** The kvm-pvm record this project's build VM logs (its kernel is itself a PVM guest, so kvm_pvm stays off). */
    static final String PVM_NOT_BINDING = "kvm-pvm: this kernel is itself a kvm-pvm guest; not binding";

    /**
     * A VM like this project's build machine: a kvm-pvm guest (hypervisor flag, no vmx/svm, kvm and kvm_pvm built
     * in) with no /dev/kvm, no /dev/vhost-net, no /lib/modules and no /proc/modules, whose kernel log says why.
     */
    static FakeHost pvmGuest(Path base) {
        FakeHost f = new FakeHost(base).cpu("hypervisor");
        f.remove("lib/modules/" + KERNEL);
        f.devices("net/tun");
        f.module("kvm").module("kvm_pvm");
        f.file("dev/kmsg", "6,0,0,-;Linux version " + KERNEL + "\n"
                + "6,80,2,-;kvm-clock: Using msrs 4b564d01 and 4b564d00\n"
                + "6,341,277565,-;" + PVM_NOT_BINDING + "\n"
                + " SUBSYSTEM=virtual\n");
        return f;
    }

    /** A complete passthrough-ready host, like the lab's L1: VT-d with IR, two SR-IOV PFs behind root ports. */
    static FakeHost labLike(Path base) {
        FakeHost f = new FakeHost(base);
        f.cpu("vmx hypervisor");
        f.file("proc/cmdline", "console=ttyS0 intel_iommu=on iommu=pt\n");
        f.file("proc/interrupts", "  24:  5  IR-PCI-MSI 1048576-edge  eth0\n  1: 9 IR-IO-APIC 1-edge i8042\n");
        f.file("sys/firmware/acpi/tables/DMAR", "DMAR");
        f.file("sys/class/iommu/dmar0/intel-iommu/ecap", "f00f5e\n"); // bit 3 (IR) set
        f.devices("kvm", "net/tun", "vhost-net", "vfio/vfio", "iommu");
        f.module("kvm").module("kvm_intel").module("vfio").module("vfio_pci").module("vfio_iommu_type1");
        f.file("sys/module/kvm_intel/parameters/nested", "Y\n");
        f.file("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N\n");
        f.pci("0000:00:00.0", "8086", "29c0", "060000", null);
        f.pci("0000:00:02.0", "1b36", "000c", "060400", "pcieport");
        f.pci("0000:00:03.0", "1b36", "000c", "060400", "pcieport");
        f.bytes(f.devDir("0000:00:02.0") + "/config", portConfig(4, 0x1d));
        f.bytes(f.devDir("0000:00:03.0") + "/config", portConfig(4, 0x1d));
        f.pci("0000:01:00.0", "8086", "10c9", "020000", "igb", "0000:00:02.0");
        f.pci("0000:02:00.0", "1b36", "0010", "010802", "nvme", "0000:00:03.0");
        f.sriov("0000:01:00.0", 7, 0, "eth0", "up");
        f.sriov("0000:02:00.0", 2, 0, null, null);
        f.group("0", "0000:00:00.0");
        f.group("1", "0000:00:02.0");
        f.group("2", "0000:00:03.0");
        f.group("3", "0000:01:00.0");
        f.group("4", "0000:02:00.0");
        f.file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "512\n");
        f.file("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "512\n");
        f.file("sys/devices/system/node/node0/cpulist", "0-1\n");
        f.file("sys/devices/system/node/node0/meminfo", "Node 0 MemTotal:       4030464 kB\n");
        return f;
    }

    ProbeReport probe(KvmAccess kvm) {
        return new HostProbe(roots, kvm).run(ProbeOptions.defaults());
    }

    ProbeReport probe(KvmAccess kvm, ProbeOptions o) {
        return new HostProbe(roots, kvm).run(o);
    }
}
