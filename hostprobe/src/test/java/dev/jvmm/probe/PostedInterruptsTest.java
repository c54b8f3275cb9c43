package dev.jvmm.probe;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.probe.PostedInterrupts.Answer;
import dev.jvmm.sys.json.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unit tier: the posted-interrupt answer over fake sysfs/procfs trees, one host per vendor and case. */
@Tag("unit")
class PostedInterruptsTest {
    @TempDir
    Path tmp;

    /** VT-d capability register values as the kernel prints them (hex, no 0x): with and without PI (bit 59). */
    static final String CAP_PI = "d2008c40660462"; // PI (bit 59) clear
    static final String CAP_WITH_PI = Long.toHexString(Long.parseUnsignedLong(CAP_PI, 16) | 1L << 59);
    static final String ECAP_IR = "f00f5e"; // bit 3 set

    /** An Intel host: vmx (with or without posted_intr), kvm_intel enable_apicv, DMAR units with or without PI. */
    private FakeHost intel(String name, String apicv, boolean cpuPostedIntr, String... caps) {
        FakeHost f = new FakeHost(tmp.resolve(name));
        f.file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme cx16 sse2 vmx\n"
                + "vmx flags\t: vnmi preemption_timer" + (cpuPostedIntr ? " posted_intr" : "")
                + " invvpid ept_x_only flexpriority apicv tsc_offset vtpr mtf vapic ept vpid\n");
        f.module("kvm").module("kvm_intel");
        if (apicv != null) {
            f.file("sys/module/kvm_intel/parameters/enable_apicv", apicv + "\n");
        }
        for (int i = 0; i < caps.length; i++) {
            f.file("sys/class/iommu/dmar" + i + "/intel-iommu/cap", caps[i] + "\n");
            f.file("sys/class/iommu/dmar" + i + "/intel-iommu/ecap", ECAP_IR + "\n");
        }
        if (caps.length > 0) {
            group(f);
            f.file("proc/cmdline", "root=/dev/sda1 intel_iommu=on iommu=pt\n");
            f.file("proc/interrupts", "  24:  5  IR-PCI-MSI 1048576-edge  eth0\n  1: 9 IR-IO-APIC 1-edge i8042\n");
        }
        return f;
    }

    /** An AMD host: svm (with or without the avic flag), kvm_amd avic, AMD-Vi units with the given features. */
    private FakeHost amd(String name, String avic, boolean cpuAvic, String... features) {
        FakeHost f = new FakeHost(tmp.resolve(name));
        f.cpu("cx16 svm" + (cpuAvic ? " avic" : ""));
        f.module("kvm").module("kvm_amd");
        if (avic != null) {
            f.file("sys/module/kvm_amd/parameters/avic", avic + "\n");
        }
        for (int i = 0; i < features.length; i++) {
            f.file("sys/class/iommu/ivhd" + i + "/amd-iommu/features", features[i] + "\n");
            f.file("sys/class/iommu/ivhd" + i + "/amd-iommu/cap", "190b001\n");
        }
        if (features.length > 0) {
            group(f);
            f.file("proc/cmdline", "root=/dev/sda1 amd_iommu=on iommu=pt\n");
            f.file("proc/interrupts", "  24:  5  IR-PCI-MSI 1048576-edge  eth0\n");
        }
        return f;
    }

    /** One device in IOMMU group 0: the kernel has enabled the IOMMU. */
    private static void group(FakeHost f) {
        f.pci("0000:00:00.0", "8086", "29c0", "060000", null).group("0", "0000:00:00.0");
    }

    /** EFR with GASup (bit 7) and GAMSup vAPIC (bit 21), and one with GASup only. */
    static final String EFR_GA_VAPIC = Long.toHexString(0x58f77ef22294a5aL | 1L << 7 | 1L << 21);
    static final String EFR_NO_GA = Long.toHexString(0x58f77ef22294a5aL & ~(1L << 7) & ~(1L << 21));

    private static PostedInterrupts answer(FakeHost f) {
        return PostedInterrupts.of(f.roots);
    }

    private static Check check(FakeHost f) {
        ProbeReport r = f.probe(FakeHost.kvm(3e9), new ProbeOptions(ProbeOptions.DEFAULT_MEMORY, false));
        return r.check(PostedInterrupts.CHECK_ID).orElseThrow(() -> new AssertionError("no check in " + r.checks()));
    }

    // --- Intel ---

    @Test
    void intelWithApicvAndPiOnEveryUnitIsPosted() {
        FakeHost f = intel("i", "Y", true, CAP_WITH_PI, CAP_WITH_PI);
        PostedInterrupts p = answer(f);
        assertEquals(Answer.POSTED, p.answer(), p.toString());
        assertEquals("", p.remedy());
        Check c = check(f);
        assertEquals(Status.PASS, c.status());
        assertEquals("yes", c.evidence("answer").orElseThrow());
        assertEquals("Y", c.evidence("/sys/module/kvm_intel/parameters/enable_apicv").orElseThrow());
        assertTrue(c.evidence("/sys/class/iommu/dmar1/intel-iommu/cap").orElseThrow().contains("PI bit 59 set"));
        assertTrue(p.line().startsWith("device interrupts bypass the VMM: yes"), p.line());
        // the top bit (63) of the capability register set too: read unsigned
        String top = Long.toHexString(Long.parseUnsignedLong(CAP_WITH_PI, 16) | 1L << 63);
        assertEquals(Answer.POSTED, answer(intel("j", "Y", true, top)).answer());
    }

    @Test
    void intelWithApicvButAUnitWithoutPiIsPartly() {
        FakeHost f = intel("i", "Y", true, CAP_WITH_PI, CAP_PI);
        PostedInterrupts p = answer(f);
        assertEquals(Answer.PARTLY, p.answer(), p.toString());
        assertTrue(p.reason().contains("dmar1 cannot post interrupts"), p.reason());
        assertTrue(p.reason().contains("through APICv"), p.reason());
        Check c = check(f);
        assertEquals(Status.WARN, c.status());
        assertTrue(c.remedy().contains("posted interrupts (capability bit 59)"), c.remedy());
        assertTrue(c.evidence("/sys/class/iommu/dmar1/intel-iommu/cap").orElseThrow().contains("PI bit 59 clear"));
        assertEquals("partly", c.evidence("answer").orElseThrow());
    }

    @Test
    void intelWithoutApicvIsNoAndToldToReloadKvmIntel() {
        PostedInterrupts p = answer(intel("i", "N", true, CAP_WITH_PI));
        assertEquals(Answer.NO, p.answer());
        assertTrue(p.reason().startsWith("APICv is off"), p.reason());
        assertTrue(p.remedy().contains("modprobe kvm_intel enable_apicv=1"), p.remedy());
        assertEquals(Status.WARN, check(intel("j", "N", true, CAP_WITH_PI)).status());
    }

    @Test
    void intelCpuWithoutApicvIsNoAndNotToldToReload() {
        PostedInterrupts p = answer(intel("i", "N", false, CAP_WITH_PI));
        assertEquals(Answer.NO, p.answer());
        assertTrue(p.reason().contains("this CPU has no APICv"), p.reason());
        assertFalse(p.remedy().contains("modprobe"), p.remedy());
        assertTrue(p.evidence().stream().anyMatch(e -> e.source().endsWith("vmx flags")
                && e.value().startsWith("no posted_intr")));
    }

    @Test
    void intelWithoutApicvAndWithoutPiIsNo() {
        assertEquals(Answer.NO, answer(intel("i", "N", true, CAP_PI)).answer());
    }

    @Test
    void intremapNopostOrKvmsOwnParameterTurnPostingOff() {
        FakeHost f = intel("i", "Y", true, CAP_WITH_PI);
        f.file("proc/cmdline", "intel_iommu=on intremap=on,nopost\n");
        PostedInterrupts p = answer(f);
        assertEquals(Answer.PARTLY, p.answer());
        assertTrue(p.remedy().contains("remove intremap=nopost"), p.remedy());

        FakeHost g = intel("j", "Y", true, CAP_WITH_PI);
        g.file("sys/module/kvm_intel/parameters/enable_device_posted_irqs", "N\n");
        assertEquals(Answer.PARTLY, answer(g).answer());
        g.file("sys/module/kvm_intel/parameters/enable_device_posted_irqs", "Y\n");
        assertEquals(Answer.POSTED, answer(g).answer());
    }

    @Test
    void noInterruptRemappingInUseIsPartly() {
        FakeHost f = intel("i", "Y", true, CAP_WITH_PI);
        f.file("proc/interrupts", "  24:  5  PCI-MSI 1048576-edge  eth0\n");
        PostedInterrupts p = answer(f);
        assertEquals(Answer.PARTLY, p.answer());
        assertTrue(p.reason().contains("interrupt remapping is not in use"), p.reason());
    }

    // --- AMD ---

    @Test
    void amdWithAvicAndGaIsPostedInBothFeatureFormats() {
        PostedInterrupts p = answer(amd("a", "Y", true, "0:" + EFR_GA_VAPIC)); // EFR2:EFR (kernel 5.19+)
        assertEquals(Answer.POSTED, p.answer(), p.toString());
        assertTrue(p.evidence().stream().anyMatch(e -> e.value().contains("GASup bit 7 set")));
        assertEquals(Answer.POSTED, answer(amd("b", "1", true, EFR_GA_VAPIC)).answer()); // EFR alone, avic as int
        // SNPSup (bit 63) set: the register is read unsigned
        String snp = Long.toHexString(Long.parseUnsignedLong(EFR_GA_VAPIC, 16) | 1L << 63);
        assertEquals(Answer.POSTED, answer(amd("c", "Y", true, "0:" + snp)).answer());
    }

    @Test
    void amdWithAvicButWithoutGaIsPartly() {
        FakeHost f = amd("a", "Y", true, "0:" + EFR_NO_GA);
        PostedInterrupts p = answer(f);
        assertEquals(Answer.PARTLY, p.answer());
        assertTrue(p.reason().contains("through AVIC"), p.reason());
        assertTrue(p.reason().contains("ivhd0 cannot post to AVIC"), p.reason());
        assertEquals(Status.WARN, check(f).status());
    }

    @Test
    void amdWithoutAvicIsNoAndToldToReloadKvmAmd() {
        PostedInterrupts p = answer(amd("a", "N", true, "0:" + EFR_GA_VAPIC));
        assertEquals(Answer.NO, p.answer());
        assertTrue(p.reason().startsWith("AVIC is off"), p.reason());
        assertTrue(p.remedy().contains("modprobe kvm_amd avic=1"), p.remedy());
    }

    @Test
    void amdWithoutAvicAndWithoutGaIsNo() {
        assertEquals(Answer.NO, answer(amd("a", "0", false, EFR_NO_GA)).answer());
    }

    @Test
    void amdLegacyInterruptModeIsPartly() {
        FakeHost f = amd("a", "Y", true, "0:" + EFR_GA_VAPIC);
        f.file("proc/cmdline", "amd_iommu=on amd_iommu_intr=legacy\n");
        PostedInterrupts p = answer(f);
        assertEquals(Answer.PARTLY, p.answer());
        assertTrue(p.remedy().contains("amd_iommu_intr=legacy"), p.remedy());
    }

    // --- mixed, none, odd ---

    /** The lab's L1: QEMU -cpu max under TCG (svm, no avic flag), kvm_amd avic=N, and an Intel IOMMU (intremap=on). */
    @Test
    void mixedHostLikeTheLabsL1() {
        FakeHost f = amd("l1", "N", false);
        f.file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu cx16 svm hypervisor\n");
        f.file("sys/class/iommu/dmar0/intel-iommu/cap", CAP_PI + "\n");
        f.file("sys/class/iommu/dmar0/intel-iommu/ecap", ECAP_IR + "\n");
        f.file("proc/interrupts", "  24:  5  IR-PCI-MSI 1048576-edge  eth0\n");
        f.file("sys/firmware/acpi/tables/DMAR", "DMAR");
        PostedInterrupts p = answer(f);
        assertEquals(Answer.NO, p.answer(), p.toString());
        assertTrue(p.reason().contains("this CPU has no AVIC") && p.reason().contains("nor could this Intel IOMMU"), p.reason());
        assertTrue(p.remedy().contains("this host is itself a VM"), p.remedy());

        // with AVIC on, the Intel IOMMU still cannot post to it
        f.file("sys/module/kvm_amd/parameters/avic", "Y\n");
        f.cpu("cx16 svm avic");
        p = answer(f);
        assertEquals(Answer.PARTLY, p.answer());
        assertTrue(p.reason().contains("AMD CPU, Intel IOMMU"), p.reason());
        assertTrue(p.remedy().contains("amd-iommu"), p.remedy());

        // and the reverse
        FakeHost g = intel("rev", "Y", true);
        g.file("sys/class/iommu/ivhd0/amd-iommu/features", "0:" + EFR_GA_VAPIC + "\n");
        g.file("proc/interrupts", "  24:  5  IR-PCI-MSI 1048576-edge  eth0\n");
        p = answer(g);
        assertEquals(Answer.PARTLY, p.answer());
        assertTrue(p.reason().contains("Intel CPU, AMD IOMMU"), p.reason());
    }

    @Test
    void noIommuIsNoAndLeavesTheRemedyToIommuEnabled() {
        FakeHost f = intel("i", "Y", true);
        PostedInterrupts p = answer(f);
        assertEquals(Answer.NO, p.answer());
        assertTrue(p.reason().contains("no IOMMU"), p.reason());
        Check c = check(f);
        assertEquals(Status.INFO, c.status());
        assertEquals("no", c.evidence("answer").orElseThrow());
        assertEquals("empty (no IOMMU enabled)", c.evidence("/sys/class/iommu").orElseThrow());

        // APICv off and no IOMMU: still no, still INFO
        assertEquals(Status.INFO, check(intel("j", "N", true)).status());
    }

    @Test
    void noHardwareVirtualizationIsNo() {
        FakeHost f = new FakeHost(tmp).cpu("hypervisor");
        assertEquals(Answer.NO, answer(f).answer());
        assertEquals(Status.INFO, check(f).status());
    }

    @Test
    void oddSysfsIsUnknownWithTheReasonNeverACrash() {
        // a garbage capability register
        PostedInterrupts p = answer(intel("a", "Y", true, "not-hex"));
        assertEquals(Answer.UNKNOWN, p.answer(), p.toString());
        assertTrue(p.reason().contains("not a hex register"), p.reason());
        // a garbage module parameter
        p = answer(intel("b", "maybe", true, CAP_WITH_PI));
        assertEquals(Answer.UNKNOWN, p.answer());
        assertTrue(p.reason().contains("reads 'maybe'"), p.reason());
        // the parameter missing: kvm_intel not loaded
        FakeHost c = intel("c", null, true, CAP_WITH_PI);
        c.remove("sys/module/kvm_intel");
        p = answer(c);
        assertEquals(Answer.UNKNOWN, p.answer());
        assertTrue(p.reason().contains("kvm_intel is not loaded"), p.reason());
        // a cap that is a directory, an empty features file
        FakeHost d = intel("d", "Y", true);
        d.mkdir("sys/class/iommu/dmar0/intel-iommu/cap");
        d.file("proc/interrupts", "  24:  5  IR-PCI-MSI 1048576-edge  eth0\n");
        p = answer(d);
        assertEquals(Answer.UNKNOWN, p.answer(), p.toString());
        assertTrue(p.reason().contains("unreadable"), p.reason());
        p = answer(amd("e", "Y", true, ""));
        assertEquals(Answer.UNKNOWN, p.answer(), p.toString());
        // an empty /proc/cpuinfo and no /sys/class/iommu at all
        FakeHost e = new FakeHost(tmp.resolve("f"));
        e.file("proc/cpuinfo", "");
        e.remove("sys/class/iommu");
        assertEquals(Answer.NO, answer(e).answer());
        assertEquals(Status.INFO, check(e).status());
    }

    // --- in the report ---

    @Test
    @SuppressWarnings("unchecked")
    void shownInTheTableAndTheJsonAfterInterruptRemapping() throws Exception {
        FakeHost f = FakeHost.labLike(tmp);
        f.file("sys/class/iommu/dmar0/intel-iommu/cap", CAP_PI + "\n");
        f.file("sys/module/kvm_intel/parameters/enable_apicv", "Y\n");
        ProbeReport r = f.probe(FakeHost.kvm(3e9));
        List<String> ids = r.checks().stream().map(Check::id).toList();
        assertEquals(ids.indexOf("iommu.interrupt-remapping") + 1, ids.indexOf(PostedInterrupts.CHECK_ID), ids.toString());
        String table = ReportTable.render(r, false, false);
        assertTrue(table.contains("WARN iommu.posted-interrupts    Device interrupts bypass the VMM only partly"), table);
        assertTrue(table.contains("answer: partly"), table);
        Map<String, Object> j = (Map<String, Object>) Json.parse(ReportJson.write(r));
        Map<String, Object> pi = (Map<String, Object>) j.get("postedInterrupts");
        assertEquals("partly", pi.get("answer"));
        assertEquals("WARN", pi.get("status"));
        // not part of any verdict: a performance fact, never a blocker or a verdict warning
        for (UseCase u : UseCase.values()) {
            assertTrue(r.verdict(u).ready(), u.toString());
            assertTrue(r.verdict(u).warnings().stream().noneMatch(w -> w.check().equals(PostedInterrupts.CHECK_ID)));
        }
    }
}
