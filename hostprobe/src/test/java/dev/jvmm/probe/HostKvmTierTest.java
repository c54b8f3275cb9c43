package dev.jvmm.probe;

import dev.jvmm.sys.json.Json;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.sys.testing.KvmRequirement;
import dev.jvmm.sys.testing.KvmTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * kvm tier: the probe against this machine's real /dev/kvm, sysfs and procfs, and side by side with libvirt's
 * virt-host-validate. Expectations are derived from facts read independently here (CPU flags, iommu_groups), never
 * from timings.
 */
@KvmTest
class HostKvmTierTest {
    private static boolean hasHardwareVirt() throws IOException {
        String cpuinfo = Files.readString(Path.of("/proc/cpuinfo"));
        return ProbeContext.cpuFlags(cpuinfo).contains("vmx") || ProbeContext.cpuFlags(cpuinfo).contains("svm");
    }

    private static boolean iommuGroupsPresent() throws IOException {
        Path g = Path.of("/sys/kernel/iommu_groups");
        if (!Files.isDirectory(g)) {
            return false;
        }
        try (Stream<Path> s = Files.list(g)) {
            return s.findAny().isPresent();
        }
    }

    @Test
    void probesTheRealKvm() throws IOException {
        ProbeReport r = HostProbe.probe(ProbeOptions.defaults());
        System.out.println(ReportTable.render(r, false, true));
        assertEquals(Status.PASS, r.check("kvm.device").orElseThrow().status());
        assertEquals(Status.PASS, r.check("kvm.api-version").orElseThrow().status());
        Check speed = r.check("kvm.speed").orElseThrow();
        assertNotNull(r.kvmSpeed(), speed.toString());
        assertTrue(r.kvmSpeed().instructions() > 0 && r.kvmSpeed().nanos() > 0);
        if (!hasHardwareVirt()) {
            // a KVM without VT-x/AMD-V (this project's build machine: kvm_pvm) emulates guest code: it must be
            // called out, and virtio VMs are blocked by the missing hardware virtualization
            assertEquals(Status.WARN, speed.status(), speed.toString());
            assertTrue(speed.title().startsWith("KVM emulates guest code"), speed.title());
            assertEquals(Status.FAIL, r.check("cpu.virt").orElseThrow().status());
            assertFalse(r.verdict(UseCase.VIRTIO).ready());
        }
        if (!iommuGroupsPresent()) {
            Verdict pt = r.verdict(UseCase.PASSTHROUGH);
            assertFalse(pt.ready());
            assertTrue(pt.blocking().stream().anyMatch(b -> b.check().equals("iommu.enabled")
                    && b.text().equals("IOMMU not enabled by the kernel (no IOMMU groups)")), pt.toString());
            assertEquals(Status.FAIL, r.check("iommu.enabled").orElseThrow().status());
        }
    }

    @Test
    void speedMeasurementReleasesItsVm() throws IOException {
        // the guest loop's VM, vcpu and RAM are closed again: the fd count is back where it was
        java.util.Map<Integer, String> before = dev.jvmm.sys.testing.OpenFds.now();
        for (int i = 0; i < 3; i++) {
            new DevKvm().inspect(Path.of("/dev/kvm"), true);
        }
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(before));
    }

    @Test
    @SuppressWarnings("unchecked")
    void agreesWithVirtHostValidate() throws Exception {
        Path vhv = Path.of("/usr/bin/virt-host-validate");
        if (!Files.isExecutable(vhv)) {
            String why = "virt-host-validate is not installed (apt-get install libvirt-clients)";
            if (KvmRequirement.required()) {
                fail(why);
            }
            Assumptions.abort(why);
        }
        Process p = new ProcessBuilder(vhv.toString(), "qemu").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        List<VirtHostValidate.Line> lines = VirtHostValidate.parse(out);
        assertFalse(lines.isEmpty(), "no lines parsed from:\n" + out);
        Map<String, Object> report = (Map<String, Object>) Json.parse(ReportJson.write(
                HostProbe.probe(new ProbeOptions(1L << 30, false))));
        List<VirtHostValidate.Comparison> cs = VirtHostValidate.compare(lines, report);
        System.out.println("virt-host-validate qemu:\n" + out + "\ncompared:\n" + VirtHostValidate.describe(cs));
        assertTrue(cs.size() >= 4, "too few comparable lines:\n" + out);
        for (VirtHostValidate.Comparison c : cs) {
            assertTrue(c.agrees() || c.knownDifference() != null, "jvmm and virt-host-validate disagree:\n"
                    + VirtHostValidate.describe(cs));
        }
    }
}
