package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.config.ConfigLoader;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.nic.PassthroughReadiness;
import dev.jvmm.vmm.nic.PoolView;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code jvmm launch --libvirt domain.xml --dry-run}: end to end through the launch command, starting nothing. */
class LibvirtLaunchTest {
    @TempDir
    Path dir;
    Path kernel;
    Path initrd;
    Path disk;

    @BeforeEach
    void files() throws Exception {
        kernel = Files.writeString(dir.resolve("vmlinuz"), "not really a kernel");
        initrd = Files.writeString(dir.resolve("initrd.img"), "not really an initrd");
        disk = Files.write(dir.resolve("root.img"), new byte[1 << 20]);
    }

    /** A kernel-boot domain: a raw disk (no driver type), a virtio NIC on br0, a balloon with stats, a serial console. */
    private Path xml(String diskDriver, String devices) throws Exception {
        return Files.writeString(dir.resolve("web1.xml"), """
                <domain type='kvm'>
                  <name>web1</name>
                  <memory unit='MiB'>1024</memory>
                  <currentMemory unit='MiB'>768</currentMemory>
                  <vcpu>2</vcpu>
                  <os>
                    <type arch='x86_64' machine='q35'>hvm</type>
                    <kernel>%s</kernel>
                    <initrd>%s</initrd>
                    <cmdline>console=ttyS0 root=/dev/vda</cmdline>
                  </os>
                  <on_reboot>destroy</on_reboot>
                  <devices>
                    <disk type='file' device='disk'>
                      %s
                      <source file='%s'/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                    <interface type='bridge'>
                      <mac address='52:54:00:6b:3c:58'/>
                      <source bridge='br0'/>
                      <model type='virtio'/>
                    </interface>
                    <serial type='pty'><target port='0'/></serial>
                    <memballoon model='virtio'><stats period='10'/></memballoon>
                    %s
                  </devices>
                </domain>
                """.formatted(kernel, initrd, diskDriver, disk, devices));
    }

    private CliRun launch(String... args) {
        LaunchCommand c = new LaunchCommand();
        c.readiness = memory -> PassthroughReadiness.ready("IOMMU ready");
        c.pool = new PoolView() {
            @Override
            public Pf pf(String pf) {
                return Pf.notFound("no network interface " + pf);
            }

            @Override
            public Vf vf(String bdf) {
                return new Vf(VfStatus.NOT_FOUND, bdf, null, "no SR-IOV VF at " + bdf);
            }
        };
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(c);
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        cl.setExecutionExceptionHandler(new ErrorHandler());
        int code = cl.execute(args);
        return new CliRun(code, out.toString(), err.toString());
    }

    private String expectedLine() {
        return "jvmm launch --kernel " + kernel + " --initrd " + initrd + " --cmdline 'console=ttyS0 root=/dev/vda' "
                + "--memory 1G --cpus 2 --console stdio --on-reboot exit --disk path=" + disk + ",cache=none "
                + "--nic mode=virtio,bridge=br0,mac=52:54:00:6b:3c:58 --balloon stats=10,size=256M";
    }

    @Test
    void dryRunPrintsTheCommandLineAndThePlan() throws Exception {
        CliRun r = launch("--libvirt", xml("<driver name='qemu' cache='none'/>", "").toString(), "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertEquals(expectedLine() + "\n"
                + "eth0: virtio-net on a tap in bridge br0 (mode=virtio)\n", r.out());
        assertEquals("", r.err());
    }

    /** Through the whole {@code jvmm} command tree, as a user runs it. */
    @Test
    void throughJvmm() throws Exception {
        Path x = xml("", "");
        String noNic = Files.readString(x).replaceAll("(?s)<interface.*</interface>", "");
        Files.writeString(x, noNic);
        CliRun r = CliRun.of("launch", "--libvirt=" + x, "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertEquals(expectedLine().replace(",cache=none", "").replace(" --nic mode=virtio,bridge=br0,"
                + "mac=52:54:00:6b:3c:58", "") + "\n", r.out());
    }

    /** Options given with --libvirt replace the XML's; --disk, --net, --nic and --device add to them. */
    @Test
    void commandLineOptionsOverrideOrExtend() throws Exception {
        Path data = Files.write(dir.resolve("data.img"), new byte[4096]);
        CliRun r = launch("-m", "2G", "--libvirt", xml("", "").toString(), "--disk", "path=" + data + ",readonly=on",
                "--on-reboot=restart", "--cmdline", "console=ttyS0 quiet", "--nic", "id=mgmt,mode=virtio,tap=jt0",
                "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertEquals("jvmm launch --kernel " + kernel + " --initrd " + initrd + " --cpus 2 --console stdio --disk path="
                + disk + " --nic mode=virtio,bridge=br0,mac=52:54:00:6b:3c:58 --balloon stats=10,size=256M --memory 2G"
                + " --disk path=" + data + ",readonly=on --on-reboot restart --cmdline 'console=ttyS0 quiet' --nic "
                + "id=mgmt,mode=virtio,tap=jt0\n"
                + "eth0: virtio-net on a tap in bridge br0 (mode=virtio)\n"
                + "mgmt: virtio-net on tap jt0 (mode=virtio)\n", r.out());
    }

    /** --json: one object, with the config in the config file's form, which reads back to the same VM. */
    @Test
    void dryRunJsonHasTheConfigFile() throws Exception {
        CliRun r = launch("--libvirt", xml("", "").toString(), "--dry-run", "--json");
        assertEquals(0, r.code(), r.err());
        Map<?, ?> m = (Map<?, ?>) Json.parse(r.out());
        List<String> argv = new ArrayList<>(List.of("jvmm", "launch", "--kernel", kernel.toString(), "--initrd",
                initrd.toString(), "--cmdline", "console=ttyS0 root=/dev/vda", "--memory", "1G", "--cpus", "2",
                "--console", "stdio", "--on-reboot", "exit", "--disk", "path=" + disk, "--nic",
                "mode=virtio,bridge=br0,mac=52:54:00:6b:3c:58", "--balloon", "stats=10,size=256M"));
        assertEquals(argv, m.get("command"));
        Map<?, ?> cfg = (Map<?, ?>) m.get("config");
        assertEquals(kernel.toString(), cfg.get("kernel"));
        assertEquals(2L, cfg.get("cpus"));
        assertEquals(List.of("path=" + disk), cfg.get("disks"));
        assertEquals("virtio", ((Map<?, ?>) ((List<?>) m.get("nics")).get(0)).get("choice"));
        ConfigLoader.Raw raw = new ConfigLoader.Raw();
        ConfigLoader.readText(Json.write(cfg), "config", raw);
        VmConfig vm = ConfigLoader.validate(raw, 8);
        assertEquals(1L << 30, vm.memory());
        assertEquals(2, vm.cpus());
        assertEquals(disk, vm.disks().get(0).path());
        assertEquals("console=ttyS0 root=/dev/vda", vm.cmdline());
    }

    @Test
    void unsupportedIsAConfigErrorOrWithLenientAWarning() throws Exception {
        Path x = xml("<driver name='qemu' iothread='1'/>", "<graphics type='vnc' port='-1'/>");
        CliRun r = launch("--libvirt", x.toString(), "--dry-run");
        assertEquals(LaunchCommand.EXIT_CONFIG, r.code());
        assertEquals("Error: " + x + ": /domain/devices/disk/driver/@iothread: not supported by jvmm\n", r.err());
        assertEquals("", r.out());
        r = launch("--libvirt", x.toString(), "--dry-run", "--lenient");
        assertEquals(0, r.code(), r.err());
        assertEquals("jvmm: warning: " + x + ": /domain/devices/disk/driver/@iothread: not supported by jvmm; skipped "
                + "(--lenient)\njvmm: warning: " + x + ": /domain/devices/graphics: not supported by jvmm; skipped "
                + "(--lenient)\n", r.err());
        assertTrue(r.out().startsWith(expectedLine().replace(",cache=none", "") + "\n"), r.out());
    }

    /** The translated options are validated as if typed: a missing image is the launch path's usual error. */
    @Test
    void theLaunchPathValidatesTheTranslation() throws Exception {
        Path x = xml("", "");
        Files.delete(disk);
        CliRun r = launch("--libvirt", x.toString(), "--dry-run");
        assertEquals(LaunchCommand.EXIT_CONFIG, r.code());
        assertEquals("Error: --disk: path: " + disk + ": no such file\n", r.err());
        r = launch("--libvirt", dir.resolve("nope.xml").toString(), "--dry-run");
        assertEquals(LaunchCommand.EXIT_CONFIG, r.code());
        assertEquals("Error: --libvirt: cannot read " + dir.resolve("nope.xml") + ": no such file\n", r.err());
        r = launch("--lenient", "--kernel", kernel.toString(), "--dry-run");
        assertEquals(LaunchCommand.EXIT_CONFIG, r.code());
        assertEquals("Error: --lenient goes with --libvirt\n", r.err());
    }

    @Test
    void hostileXmlIsRefusedThroughTheCli() throws Exception {
        Path x = Files.writeString(dir.resolve("xxe.xml"), "<?xml version='1.0'?>\n<!DOCTYPE d [<!ENTITY e SYSTEM "
                + "'file:///etc/passwd'>]><domain type='kvm'><name>&e;</name></domain>");
        CliRun r = launch("--libvirt", x.toString(), "--dry-run");
        assertEquals(LaunchCommand.EXIT_CONFIG, r.code());
        assertTrue(r.err().startsWith("Error: " + x + ": line 2: a DOCTYPE is refused"), r.err());
    }

    /** A raw image with its format given: once --disk has format= (the qcow2 work), it parses as typed. */
    @Test
    void aRawDiskWithItsFormat() throws Exception {
        assumeTrue(dev.jvmm.vmm.config.DiskConfig.KEYS.contains("format"), "--disk has no format= on this branch yet");
        CliRun r = launch("--libvirt", xml("<driver name='qemu' type='raw'/>", "").toString(), "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(" --disk path=" + disk + ",format=raw "), r.out());
    }

    /** The rng and virtio consoles, once launch has their options (other branches). */
    @Test
    void rngOnceLaunchHasIt() throws Exception {
        assumeTrue(new CommandLine(new LaunchCommand()).getCommandSpec().findOption("--rng") != null,
                "launch has no --rng on this branch yet");
        CliRun r = launch("--libvirt", xml("", "<rng model='virtio'><backend model='random'>/dev/urandom</backend>"
                + "<rate bytes='4096'/></rng>").toString(), "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(" --rng source=/dev/urandom,max-bytes=4096,period-ms=1000\n"), r.out());
    }
}
