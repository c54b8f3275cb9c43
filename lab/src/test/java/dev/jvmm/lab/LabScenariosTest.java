package dev.jvmm.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.junit.LabTest;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The lab-tier proof scenarios, run in the shared L1. */
@LabTest
class LabScenariosTest {

    /** Scenario 1: /dev/kvm, IOMMU groups, SR-IOV PFs (igb and NVMe, totalvfs >= 2 each), java -version, as one batch. */
    @Test
    void scenario1EmulatedHostHasKvmIommuSriovAndJava(LabSession lab) {
        List<CommandResult> r = lab.runAll(List.of(
                "test -c /dev/kvm && ls -l /dev/kvm",
                "ls /sys/kernel/iommu_groups | wc -l",
                "for d in /sys/bus/pci/devices/*; do t=$(cat $d/sriov_totalvfs 2>/dev/null);"
                        + " v=$(cat $d/vendor); i=$(cat $d/device); echo \"PCI ${d##*/} ${v#0x}:${i#0x} ${t:--}\"; done",
                "java -version"), Duration.ofMinutes(2));

        r.get(0).assertOk();
        int groups = Integer.parseInt(r.get(1).assertOk().output().strip());
        assertTrue(groups > 0, "iommu groups: " + groups);

        Map<String, Integer> totalVfs = new HashMap<>();
        for (String line : r.get(2).assertOk().lines()) {
            String[] w = line.split(" ");
            if (w.length == 4 && w[0].equals("PCI") && !w[3].equals("-")) {
                totalVfs.merge(w[2], Integer.parseInt(w[3]), Math::max);
            }
        }
        assertTrue(totalVfs.getOrDefault(L1CommandLine.IGB_PF_ID, 0) >= 2,
                "igb PF sriov_totalvfs >= 2: " + r.get(2).output());
        assertTrue(totalVfs.getOrDefault(L1CommandLine.NVME_PF_ID, 0) >= 2,
                "NVMe PF sriov_totalvfs >= 2: " + r.get(2).output());

        CommandResult java = r.get(3).assertOk();
        assertTrue(java.output().contains(" version \""), java.output());
    }

    /** Scenario 2: the host's QEMU boots the kit kernel + guest initramfs as L2 with -enable-kvm; its /init reports back. */
    @Test
    void scenario2HostQemuBootsKitKernelAsL2WithKvm(LabSession lab) {
        String cmd = GuestCommandLine.forKit(lab.kit())
                .script("echo JVMM-L2-REPORT kernel=$(uname -r) kvm_guest=$(grep -c hypervisor /proc/cpuinfo)")
                .toShell();
        CommandResult r = lab.run(cmd, Duration.ofMinutes(5));
        assertEquals(0, r.exitCode(), "L2 QEMU exit code; output:\n" + r.output());
        assertTrue(InitMarkers.scenarioPrinted(r.output(), "JVMM-L2-REPORT kernel=" + lab.kit().release()),
                "L2 /init report missing:\n" + r.output());
        assertEquals(0, InitMarkers.scenarioExit(r.output()).orElse(-1), r.output());
        System.err.printf("[lab] L2 boot (QEMU -enable-kvm, q35, quiet): %.1f s%n", r.duration().toMillis() / 1000.0);
    }
}
