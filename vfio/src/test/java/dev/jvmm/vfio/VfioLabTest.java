package dev.jvmm.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.ShellQuote;
import dev.jvmm.lab.junit.LabTest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Lab tier: the VFIO type1 API on a real (emulated) igb VF behind L1's intel-iommu. L1 creates two VFs with
 * autoprobe off, binds VF0 to vfio-pci and VF1 to igbvf through sysfs, then {@link VfioLabScenario} runs in L1:
 * container, group, device, DMA map/unmap (checked through the process's VmLck), regions, config space, BAR0 mmap,
 * MSI-X through an eventfd, reset; the errors for a VF on igbvf and for a too-small RLIMIT_MEMLOCK. The VFs are
 * removed at the end, also on failure.
 */
@LabTest
class VfioLabTest {
    private static final Duration T = Duration.ofMinutes(5);
    private static final String PF = "/sys/bus/pci/devices/0000:01:00.0";

    private static String tag(CommandResult r, String tag) {
        List<String> l = r.lines().stream().filter(s -> s.startsWith(tag + " ")).map(s -> s.substring(tag.length() + 1)).toList();
        assertEquals(1, l.size(), tag + " expected once in:\n" + r.output());
        return l.get(0);
    }

    /**
     * The scenario main in L1, with JIT flags that suit a short JVM under TCG; {@code setup} runs first in the shell,
     * {@code wrapper} is exec'd with the java command line as its arguments.
     */
    private static CommandResult java(LabSession lab, String setup, String wrapper, String... args) {
        List<String> words = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-cp", Classpath.current(), VfioLabScenario.class.getName()));
        words.addAll(List.of(args));
        CommandResult r = lab.run(setup + "exec " + wrapper + ShellQuote.join(words), T);
        System.out.println("[vfio-lab] " + String.join(" ", args) + ":\n" + r.output());
        assertEquals(0, r.exitCode(), r.output());
        return r;
    }

    private static String driver(LabSession lab, String bdf) {
        return lab.run("basename $(readlink /sys/bus/pci/devices/" + bdf + "/driver) 2>/dev/null || echo none", T)
                .assertOk().output().trim();
    }

    @Test
    void containerGroupDeviceDmaRegionsIrqsAndErrors(LabSession lab) {
        try {
            String vfs = lab.run("set -e; modprobe vfio-pci 2>/dev/null || true; echo 0 > " + PF + "/sriov_drivers_autoprobe; "
                    + "echo 2 > " + PF + "/sriov_numvfs; "
                    + "VF0=$(basename $(readlink -f " + PF + "/virtfn0)); VF1=$(basename $(readlink -f " + PF + "/virtfn1)); "
                    + "echo vfio-pci > /sys/bus/pci/devices/$VF0/driver_override; echo $VF0 > /sys/bus/pci/drivers_probe; "
                    + "echo igbvf > /sys/bus/pci/devices/$VF1/driver_override; echo $VF1 > /sys/bus/pci/drivers_probe; "
                    + "echo $VF0 $VF1", T).assertOk().output().trim();
            String[] vf = vfs.split("\\s+");
            String vf0 = vf[vf.length - 2];
            String vf1 = vf[vf.length - 1];
            assertEquals("vfio-pci", driver(lab, vf0));
            assertEquals("igbvf", driver(lab, vf1));
            String group = lab.run("basename $(readlink /sys/bus/pci/devices/" + vf0 + "/iommu_group)", T).assertOk().output().trim();

            CommandResult b = java(lab, "", "", "basics", vf0);
            assertEquals(group, tag(b, "GROUP"));
            assertEquals("true", tag(b, "VIABLE"));
            assertEquals("0", tag(b, "API"));
            assertEquals("true", tag(b, "TYPE1v2"));
            assertEquals("3", tag(b, "GROUP_STATUS"), "VIABLE | CONTAINER_SET");
            assertEquals("true", tag(b, "SAME_GROUP"));
            assertTrue(tag(b, "DMA_MAPPED").matches("iova=0x100000 size=0x200000 vaddr=0x[0-9a-f]+ mappings=1 vmlck_kb_delta=2048"), b.output());
            assertEquals("mapped=false mappings=0 vmlck_kb_delta=0", tag(b, "DMA_UNMAPPED"));
            assertEquals("mappings=1", tag(b, "DMA_LEFT_OPEN"));

            Matcher info = Pattern.compile("flags=PCI\\|RESET regions=(\\d+) irqs=(\\d+)").matcher(tag(b, "INFO"));
            assertTrue(info.matches(), tag(b, "INFO"));
            assertTrue(Integer.parseInt(info.group(1)) >= 6, "regions: " + info.group(1));
            List<String> regions = b.lines().stream().filter(s -> s.startsWith("REGION ")).toList();
            assertEquals(Integer.parseInt(info.group(1)), regions.size());
            assertTrue(regions.get(0).matches("REGION region 0 size=0x4000 offset=0x0 flags=RWM"), regions.get(0));
            assertTrue(regions.get(3).matches("REGION region 3 size=0x4000 offset=0x30000000000 flags=RWM"), regions.get(3));
            assertTrue(regions.get(7).matches("REGION region 7 size=0x1000 offset=0x70000000000 flags=RW-"), regions.get(7));
            assertTrue(Pattern.compile("(?m)^IRQ irq 2 count=3 flags=0x[19]$").matcher(b.output()).find(),
                    "MSI-X: 3 vectors with EVENTFD\n" + b.output());

            assertEquals("8086:10ca", tag(b, "CONFIG_ID"));
            assertEquals("10ca8086", tag(b, "CONFIG_ID32"));
            Matcher bar = Pattern.compile("len=0x4000 status_mmap=(0x[0-9a-f]{8}) status_pread=(0x[0-9a-f]{8})").matcher(tag(b, "BAR0_MMAP"));
            assertTrue(bar.matches(), tag(b, "BAR0_MMAP"));
            assertEquals(bar.group(2), bar.group(1), "VTSTATUS through mmap and through pread");
            Matcher ivar = Pattern.compile("old=0x([0-9a-f]{8}) written=0x00008281 pread=(0x[0-9a-f]{8}) mmap=(0x[0-9a-f]{8}) "
                    + "restored_mmap=0x\\1").matcher(tag(b, "BAR0_IVAR"));
            assertTrue(ivar.matches(), tag(b, "BAR0_IVAR"));
            assertEquals(ivar.group(2), ivar.group(3), "a register read back through pread and through the mmap");
            assertEquals("0x6", tag(b, "COMMAND_AFTER").replace("0x406", "0x6"), "memory + bus master set through the config region");
            assertTrue(tag(b, "MSIX_ENABLED").endsWith("enable=true"), tag(b, "MSIX_ENABLED"));
            assertEquals("0", tag(b, "MSIX_BEFORE_TRIGGER"));
            assertEquals("1", tag(b, "MSIX_EVENTFD"));
            assertTrue(tag(b, "MSIX_DISABLED").endsWith("enable=false"), tag(b, "MSIX_DISABLED"));
            assertEquals("refused IOCTL", tag(b, "MSIX_TRIGGER_AFTER_DISABLE"));
            assertEquals("ok id=8086:10ca", tag(b, "RESET"));
            assertEquals("refused UNSUPPORTED", tag(b, "CONFIG_MMAP"));
            assertEquals("2048", tag(b, "VMLCK_BEFORE_CONTAINER_CLOSE"), "the mapping left open");
            assertEquals("0", tag(b, "VMLCK_AFTER_CONTAINER_CLOSE"), "the container unmapped it");
            assertEquals("[/dev/vfio/" + group + ", /dev/vfio/vfio, anon_inode:[vfio-device]]", tag(b, "FDS_OPEN"),
                    "container, group and device fds while the device is open");
            String[] fds = tag(b, "FDS").split(" -> ");
            assertEquals(fds[0], fds[1], "fds before and after");

            CommandResult e = java(lab, "", "", "error", vf1);
            assertTrue(tag(e, "ERROR").startsWith("NOT_BOUND_TO_VFIO PCI device " + vf1 + " is bound to igbvf, not to vfio-pci; "
                    + "bind it with:"), e.output());
            fds = tag(e, "FDS").split(" -> ");
            assertEquals(fds[0], fds[1], "no fd left after the failed open");

            // root keeps CAP_IPC_LOCK, which bypasses the limit: drop it from the bounding set for this JVM
            CommandResult m = java(lab, "ulimit -l 64 && ", "setpriv --bounding-set -ipc_lock ", "memlock", vf0);
            String err = tag(m, "ERROR");
            assertTrue(err.startsWith("MEMLOCK cannot pin 2048 KiB for device DMA: RLIMIT_MEMLOCK is too low (soft limit 65536 bytes)"), err);
            assertEquals("0", tag(m, "MAPPINGS"));
            fds = tag(m, "FDS").split(" -> ");
            assertEquals(fds[0], fds[1]);
            assertEquals("vfio-pci", driver(lab, vf0), "VF0 still on vfio-pci after all");
        } finally {
            lab.run("for v in " + PF + "/virtfn*; do [ -e $v/driver ] && echo $(basename $(readlink -f $v)) > $v/driver/unbind; "
                    + "echo > $v/driver_override; done 2>/dev/null; echo 0 > " + PF + "/sriov_numvfs; echo 1 > " + PF
                    + "/sriov_drivers_autoprobe; cat " + PF + "/sriov_numvfs", T);
        }
    }
}
