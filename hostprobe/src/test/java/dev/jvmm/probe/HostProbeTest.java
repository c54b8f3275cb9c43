package dev.jvmm.probe;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unit tier: every check over fake sysfs/procfs trees. */
@Tag("unit")
class HostProbeTest {
    @TempDir
    Path tmp;

    private static Check check(ProbeReport r, String id) {
        return r.check(id).orElseThrow(() -> new AssertionError("no check " + id + " in " + r.checks()));
    }

    private static List<String> blocking(ProbeReport r, UseCase u) {
        return r.verdict(u).blocking().stream().map(Verdict.Reason::check).toList();
    }

    @Test
    void labLikeHostIsReadyForEverything() {
        ProbeReport r = FakeHost.labLike(tmp).probe(FakeHost.kvm(3e9));
        for (UseCase u : UseCase.values()) {
            assertTrue(r.verdict(u).ready(), u + " blocked by " + r.verdict(u).blocking());
        }
        assertEquals(Status.PASS, check(r, "cpu.virt").status());
        assertEquals(Status.PASS, check(r, "iommu.acpi").status());
        assertEquals(Status.PASS, check(r, "iommu.enabled").status());
        assertEquals(Status.PASS, check(r, "iommu.interrupt-remapping").status());
        assertEquals(Status.PASS, check(r, "iommu.acs").status(), check(r, "iommu.acs").toString());
        assertEquals(Status.PASS, check(r, "vfio.modules").status());
        assertEquals(Status.PASS, check(r, "vfio.container").status());
        assertEquals(Status.PASS, check(r, "kvm.speed").status());
        assertEquals("Nested virtualization available to guests", check(r, "kvm.nested").title());
        assertEquals(5, r.iommuGroups().size());
        IommuGroup igb = r.iommuGroups().get(3);
        assertEquals("0000:01:00.0", igb.devices().get(0).address().toString());
        assertTrue(igb.isolated());
        assertFalse(igb.viable(), "igb is bound to its host driver, not vfio-pci");
        assertEquals(2, r.sriov().size());
        SriovDevice nic = r.sriov().get(0);
        assertEquals("8086:10c9", nic.pf().id());
        assertEquals(7, nic.totalVfs());
        assertEquals(List.of("eth0"), nic.netdevs());
        assertEquals("up", nic.operstate());
        assertEquals("3", nic.iommuGroup());
        assertEquals(2, r.sriov().get(1).totalVfs());
        assertEquals("1b36:0010", r.sriov().get(1).pf().id());
        assertEquals(Status.PASS, check(r, "sriov.pf[0000:01:00.0]").status());
        assertEquals("7", check(r, "sriov.pf[0000:01:00.0]").evidence("/sys/bus/pci/devices/0000:01:00.0/sriov_totalvfs")
                .orElseThrow());
    }

    @Test
    void noIommuBlocksPassthroughWithTheReasonAndAnIntelRemedy() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("sys/firmware/acpi/tables/DMAR");
        for (String g : List.of("0", "1", "2", "3", "4")) {
            f.remove("sys/kernel/iommu_groups/" + g + "/type");
            for (String b : new HostView(f.roots).list(f.base.resolve("sys/kernel/iommu_groups/" + g + "/devices"))) {
                f.remove("sys/kernel/iommu_groups/" + g + "/devices/" + b);
            }
            f.remove("sys/kernel/iommu_groups/" + g + "/devices");
            f.remove("sys/kernel/iommu_groups/" + g);
        }
        f.file("proc/cmdline", "quiet\n");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        assertTrue(r.verdict(UseCase.VIRTIO).ready());
        assertFalse(r.verdict(UseCase.PASSTHROUGH).ready());
        assertFalse(r.verdict(UseCase.SRIOV).ready());
        assertTrue(blocking(r, UseCase.PASSTHROUGH).containsAll(List.of("iommu.acpi", "iommu.enabled")));
        Check en = check(r, "iommu.enabled");
        assertEquals(Status.FAIL, en.status());
        assertTrue(en.remedy().contains("intel_iommu=on"), en.remedy());
        assertEquals("0 groups", en.evidence("/sys/kernel/iommu_groups").orElseThrow());
        assertEquals(Status.INFO, check(r, "iommu.interrupt-remapping").status());
    }

    @Test
    void amdHostGetsTheAmdRemedy() {
        FakeHost f = new FakeHost(tmp).cpu("svm");
        f.file("sys/firmware/acpi/tables/IVRS", "IVRS");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        assertEquals(Status.PASS, check(r, "iommu.acpi").status());
        assertTrue(check(r, "iommu.enabled").remedy().contains("amd_iommu=on"));
    }

    @Test
    void interruptRemappingMissingFailsAndAllowUnsafeOnlyWarns() {
        FakeHost f = FakeHost.labLike(tmp);
        f.file("proc/interrupts", "  24:  5  PCI-MSI 1048576-edge  eth0\n");
        f.file("sys/class/iommu/dmar0/intel-iommu/ecap", "f00f56\n"); // bit 3 clear
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        Check ir = check(r, "iommu.interrupt-remapping");
        assertEquals(Status.FAIL, ir.status());
        assertTrue(ir.evidence("/sys/class/iommu/dmar0/intel-iommu/ecap").orElseThrow().contains("IR bit 3 clear"));
        assertEquals(List.of("iommu.interrupt-remapping"), blocking(r, UseCase.PASSTHROUGH));

        f.file("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y\n");
        r = f.probe(FakeHost.kvm(3e9));
        assertEquals(Status.WARN, check(r, "iommu.interrupt-remapping").status());
        assertTrue(r.verdict(UseCase.PASSTHROUGH).ready());
        assertTrue(r.verdict(UseCase.PASSTHROUGH).warnings().stream()
                .anyMatch(w -> w.check().equals("iommu.interrupt-remapping")));
    }

    @Test
    void hardwareIrCapableButUnusedSaysSo() {
        FakeHost f = FakeHost.labLike(tmp);
        f.file("proc/interrupts", "  24:  5  PCI-MSI 1048576-edge  eth0\n");
        f.file("proc/cmdline", "intel_iommu=on intremap=off\n");
        Check ir = check(f.probe(FakeHost.kvm(3e9)), "iommu.interrupt-remapping");
        assertEquals(Status.FAIL, ir.status());
        assertTrue(ir.title().contains("kernel does not"), ir.title());
        assertEquals("off", ir.evidence("/proc/cmdline intremap").orElseThrow());
    }

    @Test
    void groupViabilityAndIsolation() {
        FakeHost f = FakeHost.labLike(tmp);
        // a two-function device in one group, one function on vfio-pci, one on no driver
        f.pci("0000:03:00.0", "8086", "1521", "020000", "vfio-pci", "0000:00:02.0");
        f.pci("0000:03:00.1", "8086", "1521", "020000", null, "0000:00:02.0");
        f.group("5", "0000:03:00.0", "0000:03:00.1");
        // the igb PF moves to vfio-pci
        f.link(f.devDir("0000:01:00.0") + "/driver", "../../../bus/pci/drivers/vfio-pci");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        IommuGroup shared = r.iommuGroups().stream().filter(g -> g.id().equals("5")).findFirst().orElseThrow();
        assertTrue(shared.viable());
        assertFalse(shared.isolated());
        IommuGroup igb = r.iommuGroups().stream().filter(g -> g.id().equals("3")).findFirst().orElseThrow();
        assertTrue(igb.viable() && igb.isolated());
        Check groups = check(r, "iommu.groups");
        assertTrue(groups.evidence("iommu_group 5").orElseThrow().contains("shared by 2 devices"));
        assertTrue(groups.title().startsWith("6 IOMMU groups"), groups.title());
    }

    @Test
    void acsMissingOrPartialOnAPortWarns() {
        FakeHost f = FakeHost.labLike(tmp);
        f.bytes(f.devDir("0000:00:02.0") + "/config", FakeHost.portConfig(4, null));
        f.bytes(f.devDir("0000:00:03.0") + "/config", FakeHost.portConfig(4, 0x01));
        Check acs = check(f.probe(FakeHost.kvm(3e9)), "iommu.acs");
        assertEquals(Status.WARN, acs.status());
        assertEquals("root port: ACS missing",
                acs.evidence("/sys/bus/pci/devices/0000:00:02.0/config").orElseThrow());
        assertTrue(acs.evidence("/sys/bus/pci/devices/0000:00:03.0/config").orElseThrow().contains("partial"));
    }

    @Test
    void acsUnreadableWithoutRootIsSaidNotGuessed() {
        FakeHost f = FakeHost.labLike(tmp);
        // an unprivileged reader sees only the first 64 bytes of config space
        byte[] short64 = java.util.Arrays.copyOf(FakeHost.portConfig(4, 0x1d), 64);
        f.bytes(f.devDir("0000:00:02.0") + "/config", short64);
        f.bytes(f.devDir("0000:00:03.0") + "/config", short64);
        Check acs = check(f.probe(FakeHost.kvm(3e9)), "iommu.acs");
        // the PCIe capability at 0x40 is beyond 64 bytes too, so the port type is unknown: no ports judged
        assertEquals(Status.INFO, acs.status(), acs.toString());
    }

    @Test
    void vfioLoadableWarnsAndMissingFails() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("sys/module/vfio_pci").remove("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
        f.remove("sys/module/vfio_iommu_type1/parameters").remove("sys/module/vfio_iommu_type1").remove("dev/vfio/vfio");
        f.file("lib/modules/" + FakeHost.KERNEL + "/modules.dep",
                "kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz\n"
                        + "kernel/drivers/vfio/vfio_iommu_type1.ko.xz: kernel/drivers/vfio/vfio.ko.xz\n");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        Check m = check(r, "vfio.modules");
        assertEquals(Status.WARN, m.status());
        assertEquals("loadable", m.evidence("vfio_pci").orElseThrow());
        assertEquals("loaded", m.evidence("vfio").orElseThrow());
        assertEquals(Status.WARN, check(r, "vfio.container").status());
        assertTrue(r.verdict(UseCase.PASSTHROUGH).ready());

        f.remove("lib/modules/" + FakeHost.KERNEL + "/modules.dep");
        r = f.probe(FakeHost.kvm(3e9));
        assertEquals(Status.FAIL, check(r, "vfio.modules").status());
        assertTrue(blocking(r, UseCase.PASSTHROUGH).containsAll(List.of("vfio.modules", "vfio.container")));
    }

    @Test
    void builtinVfioCounts() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("sys/module/vfio_pci");
        f.file("lib/modules/" + FakeHost.KERNEL + "/modules.builtin", "kernel/drivers/vfio/pci/vfio-pci.ko\n");
        assertEquals("builtin", check(f.probe(FakeHost.kvm(3e9)), "vfio.modules").evidence("vfio_pci").orElseThrow());
    }

    @Test
    void memlockBelowGuestRamFailsUnlessCapIpcLock() {
        FakeHost f = FakeHost.labLike(tmp);
        f.file("proc/self/limits", "Max locked memory         65536                65536                bytes\n");
        ProbeReport r = f.probe(FakeHost.kvm(3e9), new ProbeOptions(4L << 30, true));
        Check m = check(r, "resources.memlock");
        assertEquals(Status.FAIL, m.status());
        assertTrue(m.title().contains("64 KiB") && m.title().contains("4 GiB"), m.title());
        assertTrue(blocking(r, UseCase.PASSTHROUGH).contains("resources.memlock"));
        assertTrue(r.verdict(UseCase.VIRTIO).ready());

        f.file("proc/self/status", "CapEff:\t0000000000004000\n");
        assertEquals(Status.PASS, check(f.probe(FakeHost.kvm(3e9)), "resources.memlock").status());
    }

    @Test
    void hugepagesAndNuma() {
        ProbeReport r = FakeHost.labLike(tmp).probe(FakeHost.kvm(3e9));
        Check hp = check(r, "resources.hugepages");
        assertEquals("Hugepages can back 1 GiB of guest RAM", hp.title());
        assertEquals("2 MiB pages: 512 total, 512 free (1 GiB)",
                hp.evidence("/sys/kernel/mm/hugepages/hugepages-2048kB").orElseThrow());
        assertEquals("cpus 0-1, memory 3.8 GiB",
                check(r, "resources.numa").evidence("/sys/devices/system/node/node0").orElseThrow());
    }

    @Test
    void missingKvmBlocksEverythingAndSkipsTheIoctls() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("dev/kvm");
        ProbeReport r = f.probe((dev, m) -> {
            throw new AssertionError("must not open a missing /dev/kvm");
        });
        assertEquals(Status.FAIL, check(r, "kvm.device").status());
        assertTrue(r.check("kvm.api-version").isEmpty());
        for (UseCase u : UseCase.values()) {
            assertTrue(blocking(r, u).contains("kvm.device"));
        }
    }

    @Test
    void missingCapabilityIsNamed() {
        ProbeReport r = FakeHost.labLike(tmp).probe(FakeHost.kvm(3e9, "KVM_CAP_IRQFD_RESAMPLE"));
        Check caps = check(r, "kvm.capabilities");
        assertEquals(Status.FAIL, caps.status());
        assertEquals("KVM lacks KVM_CAP_IRQFD_RESAMPLE", caps.title());
        assertEquals("0", caps.evidence("KVM_CHECK_EXTENSION(KVM_CAP_IRQFD_RESAMPLE)").orElseThrow());
    }

    @Test
    void slowKvmIsCalledOutButDoesNotBlock() {
        ProbeReport r = FakeHost.labLike(tmp).probe(FakeHost.kvm(1.2e6));
        Check s = check(r, "kvm.speed");
        assertEquals(Status.WARN, s.status());
        assertTrue(s.title().startsWith("KVM emulates guest code (1.2e+06 instr/s)"), s.title());
        assertTrue(r.verdict(UseCase.PASSTHROUGH).ready());
        assertTrue(r.verdict(UseCase.VIRTIO).warnings().stream().anyMatch(w -> w.check().equals("kvm.speed")));

        r = FakeHost.labLike(tmp).probe(FakeHost.kvm(1.2e6), new ProbeOptions(1 << 30, false));
        assertEquals(Status.INFO, check(r, "kvm.speed").status());
        assertNull(r.kvmSpeed());
    }

    @Test
    void noHardwareVirtualizationWithKvmPvmIsExplained() {
        FakeHost f = FakeHost.labLike(tmp).cpu("hypervisor");
        f.remove("sys/module/kvm_intel/parameters/nested").remove("sys/module/kvm_intel/parameters")
                .remove("sys/module/kvm_intel").module("kvm_pvm");
        Check c = check(f.probe(FakeHost.kvm(1e6)), "cpu.virt");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.title().contains("kvm_pvm"), c.title());
        assertEquals("kvm, kvm_pvm", c.evidence("KVM modules (loaded or built in)").orElseThrow());
    }

    private static void noModprobeAnywhere(ProbeReport r) {
        for (Check c : r.checks()) {
            assertFalse(c.remedy().contains("modprobe"), "modprobe advised where no module can load: " + c);
        }
    }

    @Test
    void pvmGuestWithoutDevKvmOrModulesIsToldSoWithEvidence() {
        // (a) this project's build VM: a kvm-pvm guest, no /dev/kvm, no /lib/modules
        FakeHost f = FakeHost.pvmGuest(tmp);
        ProbeReport r = f.probe((dev, m) -> {
            throw new AssertionError("must not open a missing /dev/kvm");
        });
        Check dev = check(r, "kvm.device");
        assertEquals(Status.FAIL, dev.status());
        assertEquals("/dev/kvm does not exist: this host is itself a paravirtualised (kvm-pvm) guest, and KVM does"
                + " not bind inside one", dev.title());
        assertEquals("missing", dev.evidence("/dev/kvm").orElseThrow());
        assertEquals("present (kvm_pvm is loaded or built in)", dev.evidence("/sys/module/kvm_pvm").orElseThrow());
        assertEquals("present (this host is a VM)", dev.evidence("/proc/cpuinfo hypervisor flag").orElseThrow());
        assertEquals("neither vmx nor svm", dev.evidence("/proc/cpuinfo flags").orElseThrow());
        assertEquals(FakeHost.PVM_NOT_BINDING, dev.evidence("/dev/kmsg KVM lines").orElseThrow());
        for (String help : List.of("VT-x/AMD-V", "nested virtualization", "jvmm lab")) {
            assertTrue(dev.remedy().contains(help), dev.remedy());
        }
        Check cpu = check(r, "cpu.virt");
        assertTrue(cpu.title().endsWith("; this host is itself a kvm-pvm guest"), cpu.title());
        assertTrue(cpu.remedy().startsWith("This host is a VM: "), cpu.remedy());
        assertFalse(cpu.remedy().contains("firmware"), "a VM has no firmware switch of its own: " + cpu.remedy());
        assertTrue(blocking(r, UseCase.VIRTIO).contains("kvm.device"));
        assertTrue(r.check("kvm.speed").isEmpty());

        Check vhost = check(r, "devices.vhost-net");
        assertEquals(Status.WARN, vhost.status());
        assertTrue(vhost.remedy().startsWith("This kernel has no loadable modules (/lib/modules/" + FakeHost.KERNEL
                + " and /proc/modules are missing)"), vhost.remedy());
        assertTrue(vhost.remedy().contains("CONFIG_VHOST_NET=y"), vhost.remedy());
        assertEquals("absent", vhost.evidence("/lib/modules/" + FakeHost.KERNEL).orElseThrow());
        assertTrue(check(r, "vfio.modules").remedy().contains("CONFIG_VFIO=y"));
        noModprobeAnywhere(r);

        // the same verdict without the kernel log (dmesg_restrict, or no /dev/kmsg): sysfs and cpuinfo suffice
        f.remove("dev/kmsg");
        dev = check(f.probe(FakeHost.kvm(3e9)), "kvm.device");
        assertTrue(dev.title().contains("kvm-pvm"), dev.title());
        assertEquals("absent", dev.evidence("/dev/kmsg KVM lines").orElseThrow());
    }

    @Test
    void vmWithoutVirtualizationIsNotToldToLoadModules() {
        // a VM whose hypervisor hides VT-x/AMD-V, with a module tree: loading kvm_intel cannot help
        FakeHost f = new FakeHost(tmp).cpu("hypervisor").devices("net/tun", "vhost-net");
        Check dev = check(f.probe(FakeHost.kvm(3e9)), "kvm.device");
        assertEquals(Status.FAIL, dev.status());
        assertTrue(dev.title().startsWith("/dev/kvm does not exist: this host is a VM whose CPU shows no"
                + " VT-x/AMD-V"), dev.title());
        assertFalse(dev.remedy().contains("modprobe"), dev.remedy());
        assertTrue(dev.remedy().contains("nested virtualization"), dev.remedy());
    }

    @Test
    void hostWithModulesButNoKvmLoadedIsToldToModprobeItsVendorModule() {
        // (b) a normal host: VT-x, /lib/modules present, KVM not loaded
        FakeHost f = new FakeHost(tmp).devices("net/tun");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        Check dev = check(r, "kvm.device");
        assertEquals(Status.FAIL, dev.status());
        assertEquals("/dev/kvm does not exist", dev.title());
        assertTrue(dev.remedy().startsWith("modprobe kvm_intel"), dev.remedy());
        assertEquals("present", dev.evidence("/lib/modules/" + FakeHost.KERNEL).orElseThrow());
        assertEquals("modprobe vhost_net", check(r, "devices.vhost-net").remedy());
        f.cpu("svm");
        assertTrue(check(f.probe(FakeHost.kvm(3e9)), "kvm.device").remedy().startsWith("modprobe kvm_amd"));
        // loaded already: modprobe would change nothing
        f.module("kvm").module("kvm_amd");
        Check loaded = check(f.probe(FakeHost.kvm(3e9)), "kvm.device");
        assertTrue(loaded.remedy().startsWith("kvm_amd is loaded but /dev/kvm is missing"), loaded.remedy());
    }

    @Test
    void hostWithoutModuleTreeIsToldToBuildFeaturesIn() {
        // (c) no /lib/modules and vhost-net (and tun) missing
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("lib/modules/" + FakeHost.KERNEL).remove("dev/vhost-net").remove("dev/kvm");
        f.file("proc/modules", "kvm_intel 413696 0 - Live 0x0000000000000000\n");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        Check vhost = check(r, "devices.vhost-net");
        assertEquals(Status.WARN, vhost.status());
        assertEquals("No module can be loaded here (/lib/modules/" + FakeHost.KERNEL + " is missing): install this"
                + " kernel's modules there, or use a kernel with vhost-net built in (CONFIG_VHOST_NET=y)",
                vhost.remedy());
        assertEquals("absent", vhost.evidence("/lib/modules/" + FakeHost.KERNEL).orElseThrow());
        assertEquals("present", vhost.evidence("/proc/modules").orElseThrow());
        assertTrue(check(r, "kvm.device").remedy().startsWith("kvm_intel is loaded"));

        f.remove("proc/modules").remove("sys/module/kvm_intel/parameters/nested")
                .remove("sys/module/kvm_intel/parameters").remove("sys/module/kvm_intel").remove("dev/net/tun");
        r = f.probe(FakeHost.kvm(3e9));
        Check kvm = check(r, "kvm.device");
        assertTrue(kvm.remedy().startsWith("This kernel has no loadable modules"), kvm.remedy());
        assertTrue(kvm.remedy().contains("KVM must be built into the kernel (CONFIG_KVM=y, CONFIG_KVM_INTEL=y)"),
                kvm.remedy());
        Check tun = check(r, "devices.tun");
        assertTrue(tun.remedy().contains("CONFIG_TUN=y"), tun.remedy());
        assertEquals("absent (kernel without loadable-module support)", tun.evidence("/proc/modules").orElseThrow());
        noModprobeAnywhere(r);
    }

    @Test
    void kernelLogRecordsAreReadWithoutTheirPrefix() {
        FakeHost f = FakeHost.pvmGuest(tmp);
        assertEquals(List.of("Linux version " + FakeHost.KERNEL, "kvm-clock: Using msrs 4b564d01 and 4b564d00",
                FakeHost.PVM_NOT_BINDING), new HostView(f.roots).kernelLog().orElseThrow());
        assertEquals("a;b", HostView.kmsgText("6,1,2,-;a;b\n SUBSYSTEM=x"));
        f.remove("dev/kmsg");
        assertTrue(new HostView(f.roots).kernelLog().isEmpty());
    }

    @Test
    void sriovPfStates() {
        FakeHost f = FakeHost.labLike(tmp);
        f.file(f.devDir("0000:01:00.0") + "/net/eth0/operstate", "down\n");
        f.remove(f.devDir("0000:02:00.0") + "/driver");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        Check nic = check(r, "sriov.pf[0000:01:00.0]");
        assertEquals(Status.WARN, nic.status());
        assertEquals("ip link set eth0 up", nic.remedy());
        Check nvme = check(r, "sriov.pf[0000:02:00.0]");
        assertEquals(Status.WARN, nvme.status());
        assertTrue(nvme.title().contains("no PF driver"), nvme.title());
        assertTrue(r.verdict(UseCase.SRIOV).ready(), "WARNs do not block");
        assertEquals(2, r.verdict(UseCase.SRIOV).warnings().stream().filter(w -> w.check().startsWith("sriov.pf["))
                .count());
    }

    @Test
    void noSriovDeviceBlocksOnlySriov() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove(f.devDir("0000:01:00.0") + "/sriov_totalvfs").remove(f.devDir("0000:02:00.0") + "/sriov_totalvfs");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        assertTrue(r.verdict(UseCase.PASSTHROUGH).ready());
        assertEquals(List.of("sriov.devices"), blocking(r, UseCase.SRIOV));
    }

    @Test
    void devicesTunAndVhostNet() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("dev/vhost-net");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        assertEquals(Status.WARN, check(r, "devices.vhost-net").status());
        assertTrue(r.verdict(UseCase.VIRTIO).ready());
        f.remove("dev/net/tun");
        r = f.probe(FakeHost.kvm(3e9));
        assertEquals(Status.FAIL, check(r, "devices.tun").status());
        assertEquals(List.of("devices.tun"), blocking(r, UseCase.VIRTIO));
    }

    @Test
    void secureGuestIsInformationOnly() {
        FakeHost f = new FakeHost(tmp).cpu("svm sev sev_es");
        f.file("sys/module/kvm_amd/parameters/sev", "Y\n").devices("sev");
        Check s = check(f.probe(FakeHost.kvm(3e9)), "secure-guest");
        assertEquals(Status.INFO, s.status());
        assertEquals("true", s.evidence("supported").orElseThrow());
        f.remove("dev/sev");
        assertEquals("false", check(f.probe(FakeHost.kvm(3e9)), "secure-guest").evidence("supported").orElseThrow());
    }

    @Test
    void containerWithoutAcpiTablesIsNotAFalseFail() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("sys/firmware/acpi/tables/DMAR").remove("sys/firmware/acpi/tables");
        Check acpi = check(f.probe(FakeHost.kvm(3e9)), "iommu.acpi");
        assertEquals(Status.INFO, acpi.status());
        assertTrue(acpi.title().startsWith("Cannot see the ACPI tables"));
    }

    @Test
    void everyWarnAndFailHasARemedyAndPassHasNone() {
        FakeHost f = new FakeHost(tmp); // a bare host: almost everything fails
        ProbeReport r = f.probe(FakeHost.kvm(1e6));
        assertFalse(r.checks().isEmpty());
        for (Check c : r.checks()) {
            boolean bad = c.status() == Status.WARN || c.status() == Status.FAIL;
            assertEquals(bad, !c.remedy().isEmpty(), c.toString());
            assertFalse(c.evidence().isEmpty() && c.status() != Status.INFO, "no evidence: " + c);
        }
    }

    /** The one-use-case verdict (what jvmm launch asks) is the full report's verdict, from fewer checks. */
    @Test
    void aSingleVerdictMatchesTheFullReport() {
        ProbeOptions o = new ProbeOptions(ProbeOptions.DEFAULT_MEMORY, false);
        FakeHost noDmar = FakeHost.labLike(tmp.resolve("a"));
        noDmar.remove("sys/firmware/acpi/tables/DMAR");
        FakeHost bare = new FakeHost(tmp.resolve("c"));
        for (FakeHost f : List.of(FakeHost.labLike(tmp.resolve("b")), noDmar, bare)) {
            KvmAccess kvm = FakeHost.kvm(3e9);
            ProbeReport full = f.probe(kvm, o);
            for (UseCase u : UseCase.values()) {
                assertEquals(full.verdict(u), new HostProbe(f.roots, kvm).verdict(u, o), u + " on " + f.base);
            }
        }
        assertTrue(new HostProbe(bare.roots, FakeHost.kvm(3e9)).verdict(UseCase.PASSTHROUGH, o).blocking().stream()
                .anyMatch(b -> b.check().equals("iommu.enabled")));
    }
}
