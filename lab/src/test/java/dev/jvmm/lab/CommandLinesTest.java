package dev.jvmm.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandLinesTest {

    private static String after(List<String> c, String opt, String startsWith) {
        for (int i = 0; i < c.size() - 1; i++) {
            if (c.get(i).equals(opt) && c.get(i + 1).startsWith(startsWith)) {
                return c.get(i + 1);
            }
        }
        return null;
    }

    @Test
    void l1HasTheEmulatedHostPieces() {
        List<String> c = new L1CommandLine().kernel(Path.of("/k/vmlinuz"), Path.of("/k/initrd-l1.img"))
                .runShare(Path.of("/var/tmp/r/share")).scratchImage(Path.of("/var/tmp/r/scratch.img"), "none")
                .env("JVMM_MODE", "batch").build();
        String s = String.join(" ", c);
        assertTrue(s.contains("-M q35 -accel tcg -cpu max -smp 1 "), s);
        assertTrue(s.contains("-nic none"), s);
        assertEquals("intel-iommu,intremap=on,caching-mode=on", after(c, "-device", "intel-iommu"));
        assertEquals("igb,bus=jvmm_rp1,netdev=jvmm_wire_igb,mac=" + L1CommandLine.IGB_PF_MAC, after(c, "-device", "igb"));
        assertEquals("e1000e,bus=jvmm_rp3,netdev=jvmm_wire_e1000e,mac=" + L1CommandLine.E1000E_MAC,
                after(c, "-device", "e1000e"));
        assertEquals(Integer.toString(L1CommandLine.DEFAULT_MEMORY_MB), after(c, "-m", ""),
                "all of L1's RAM below 4 GiB (the QEMU 10.0.2 VF BAR bug)");
        assertTrue(after(c, "-device", "pcie-root-port,id=jvmm_rp1").contains("bus=pcie.0"));
        String nvme = after(c, "-device", "nvme,");
        assertTrue(nvme.contains("bus=jvmm_rp2") && nvme.contains("sriov_max_vfs=2") && nvme.contains("subsys="), nvme);
        String root = after(c, "-virtfs", "local,path=/,");
        assertTrue(root.contains("mount_tag=hostroot") && root.contains("readonly=on") && root.contains("multidevs=remap"));
        String run = after(c, "-virtfs", "local,path=/var/tmp/r/share");
        assertTrue(run.contains("mount_tag=jvmmrun") && !run.contains("readonly"), run);
        assertTrue(after(c, "-append", "console=ttyS0").contains(" JVMM_MODE=batch"));
        assertTrue(after(c, "-append", "console=ttyS0").contains("intel_iommu=on"));
        assertEquals("none", after(c, "-monitor", "none"));
        assertEquals("file=/var/tmp/r/scratch.img,if=none,id=jvmm_scratch,format=raw,cache=none",
                after(c, "-drive", "file=/var/tmp/r/scratch.img"));
        // the only netdevs are the two ports of one QEMU-internal hub: nothing reaches outside QEMU
        List<String> netdevs = new java.util.ArrayList<>();
        for (int i = 0; i + 1 < c.size(); i++) {
            if (c.get(i).equals("-netdev")) {
                netdevs.add(c.get(i + 1));
            }
        }
        assertEquals(List.of("hubport,id=jvmm_wire_igb,hubid=0", "hubport,id=jvmm_wire_e1000e,hubid=0"), netdevs,
                "no NIC that reaches outside");
    }

    @Test
    void interactiveL1MultiplexesMonitorOnStdio() {
        List<String> c = new L1CommandLine().kernel(Path.of("/k"), Path.of("/i")).interactive(true).build();
        assertEquals("mon:stdio", after(c, "-serial", "mon"));
        assertFalse(c.contains("-monitor"));
        assertEquals("none", after(c, "-display", "none"));
    }

    @Test
    void kernelCommandLineVariablesMustBeSingleWords() {
        L1CommandLine l = new L1CommandLine();
        assertThrows(IllegalArgumentException.class, () -> l.env("JVMM_RUN", "/a b"));
        assertThrows(IllegalArgumentException.class, () -> l.env("jvmm.mode", "x"));
    }

    @Test
    void guestScenarioTravelsBase64OnTheCommandLine() {
        String script = "echo 'hi there' \"$(uname -r)\"\n";
        GuestCommandLine g = new GuestCommandLine().kernel(Path.of("/k/vmlinuz"), Path.of("/k/initrd-guest.img"))
                .script(script);
        List<String> c = g.build();
        String s = String.join(" ", c);
        assertTrue(s.startsWith("qemu-system-x86_64 -enable-kvm -cpu host -M q35 "), s);
        String append = after(c, "-append", "console=ttyS0");
        String word = append.substring(append.indexOf("JVMM_SCRIPT=") + "JVMM_SCRIPT=".length()).split(" ")[0];
        assertEquals(script, new String(Base64.getDecoder().decode(word), StandardCharsets.UTF_8));
        assertTrue(append.contains(" quiet"));
    }

    @Test
    void tooLongScenarioIsRejected() {
        GuestCommandLine g = new GuestCommandLine().kernel(Path.of("/k"), Path.of("/i")).script("x".repeat(1600));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, g::build);
        assertTrue(e.getMessage().contains("JVMM_SCENARIO_DEV"));
    }
}
