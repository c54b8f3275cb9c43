package dev.jvmm.vmm.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.vmm.VmmException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A libvirt domain XML in, {@code jvmm launch} options out: each element form, and what is refused. */
class DomainXmlTest {
    private static final String BASE = "--kernel=/k|--memory=512M|--cpus=1|--console=none|--on-reboot=restart";

    /** A domain with a kernel, 512 MiB and one vCPU, and {@code devices} and {@code extra} top-level elements. */
    static String domain(String devices, String extra) {
        return "<domain type='kvm'><name>t</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"
                + "<os><type arch='x86_64'>hvm</type><kernel>/k</kernel></os>" + extra
                + "<devices><memballoon model='none'/>" + devices + "</devices></domain>";
    }

    static String devices(String devices) {
        return domain(devices, "");
    }

    static List<LaunchArg> translate(String xml) {
        return DomainXml.translate("d.xml", xml.getBytes(StandardCharsets.UTF_8), false, w -> {
            throw new AssertionError(w);
        });
    }

    /** The options as {@code --opt=value|--opt=value}. */
    static String args(String xml) {
        List<String> out = new ArrayList<>();
        translate(xml).forEach(a -> out.add(a.parseForm()));
        return String.join("|", out);
    }

    /** The options after the base ones. */
    static String extra(String xml) {
        String a = args(xml);
        assertTrue(a.startsWith(BASE), a);
        return a.substring(BASE.length()).replaceFirst("^\\|", "");
    }

    static String error(String xml) {
        VmmException e = assertThrows(VmmException.class, () -> translate(xml));
        assertEquals(VmmException.Reason.CONFIG, e.reason());
        return e.getMessage();
    }

    static List<String> warnings(String xml, String expectArgs) {
        List<String> w = new ArrayList<>();
        List<LaunchArg> a = DomainXml.translate("d.xml", xml.getBytes(StandardCharsets.UTF_8), true, w::add);
        List<String> out = new ArrayList<>();
        a.forEach(x -> out.add(x.parseForm()));
        assertEquals(expectArgs, String.join("|", out));
        return w;
    }

    @Test
    void theIssuesDomain() throws Exception {
        byte[] xml = getClass().getResourceAsStream("full.xml").readAllBytes();
        List<String> out = new ArrayList<>();
        DomainXml.translate("full.xml", xml, false, w -> {
            throw new AssertionError(w);
        }).forEach(a -> out.add(a.parseForm()));
        assertEquals(List.of("--kernel=/var/lib/jvmm/vmlinuz", "--initrd=/var/lib/jvmm/initrd.img",
                "--cmdline=console=ttyS0 root=/dev/vda rw", "--memory=2G", "--cpus=2", "--console=stdio",
                "--on-reboot=restart", "--disk=path=/var/lib/jvmm/web1.qcow2,format=qcow2,cache=none,aio=io_uring",
                "--nic=mode=virtio,bridge=br0,mac=52:54:00:6b:3c:58,queues=2", "--balloon=stats=10,size=512M",
                "--rng=source=/dev/urandom,max-bytes=1048576,period-ms=1000"), out);
    }

    /** docs/launch.md's example is full.xml, and its --dry-run line is the translation's. */
    @Test
    void theDocumentedExample() throws Exception {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !java.nio.file.Files.exists(dir.resolve("docs/launch.md"))) {
            dir = dir.getParent();
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(dir != null, "docs/launch.md not found");
        String doc = java.nio.file.Files.readString(dir.resolve("docs/launch.md"));
        String start = "Example, `web1.xml`:\n\n```xml\n";
        int a = doc.indexOf(start) + start.length();
        String xml = doc.substring(a, doc.indexOf("```", a));
        byte[] full = getClass().getResourceAsStream("full.xml").readAllBytes();
        assertEquals(new String(full, StandardCharsets.UTF_8), xml);
        String cmd = "$ jvmm launch --libvirt web1.xml --dry-run\n";
        int c = doc.indexOf(cmd) + cmd.length();
        assertEquals(doc.substring(c, doc.indexOf('\n', c)), LaunchArgs.commandLine(translate(xml)));
    }

    @Test
    void memoryUnits() {
        String[][] cases = {{"", "524288", "512M"}, {" unit='KiB'", "524288", "512M"}, {" unit='k'", "524288", "512M"},
            {" unit='MiB'", "1536", "1536M"}, {" unit='M'", "1024", "1G"}, {" unit='GiB'", "2", "2G"},
            {" unit='G'", "1", "1G"}, {" unit='b'", "536870912", "512M"}, {" unit='bytes'", "536870912", "512M"},
            {" unit='KB'", "1024000", "1000000K"}, {" unit='MB'", "1000", "1000000000"}, {" unit='GB'", "2", "1953125K"},
            {" unit='TiB'", "1", "1T"}};
        for (String[] c : cases) {
            String xml = "<domain type='kvm'><memory" + c[0] + ">" + c[1] + "</memory><os><type>hvm</type>"
                    + "<kernel>/k</kernel></os></domain>";
            assertTrue(args(xml).contains("|--memory=" + c[2] + "|"), c[0] + " " + c[1] + ": " + args(xml));
        }
        assertEquals("d.xml: /domain/memory/@unit: 'KiBB' is not a unit (b, bytes, KB, KiB, MB, MiB, GB, GiB, TB, TiB)",
                error("<domain type='kvm'><memory unit='KiBB'>1</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>"));
        assertEquals("d.xml: /domain/memory: '1.5' is not a whole number",
                error("<domain type='kvm'><memory unit='G'>1.5</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>"));
        assertEquals("d.xml: /domain/memory: 99999999999 TiB is too large", error("<domain type='kvm'><memory "
                + "unit='TiB'>99999999999</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>"));
    }

    @Test
    void currentMemoryBelowMemoryInflatesTheBalloon() {
        String xml = "<domain type='kvm'><memory unit='GiB'>4</memory><currentMemory unit='GiB'>3</currentMemory>"
                + "<os><type>hvm</type><kernel>/k</kernel></os><devices><memballoon model='virtio' autodeflate='on' "
                + "freePageReporting='on'><stats period='5'/></memballoon></devices></domain>";
        assertTrue(args(xml).endsWith("|--balloon=deflate-on-oom=on,free-page-reporting=on,stats=5,size=1G"), args(xml));
        // no <memballoon>: libvirt gives a KVM guest a virtio balloon
        assertTrue(args("<domain type='kvm'><memory>524288</memory><os><type>hvm</type><kernel>/k</kernel></os>"
                + "</domain>").endsWith("|--balloon="));
        assertEquals("d.xml: /domain/currentMemory: below <memory> needs a balloon to give the difference back, and "
                + "<memballoon model='none'/> has none", error("<domain type='kvm'><memory>524288</memory><currentMemory>"
                + "262144</currentMemory><os><type>hvm</type><kernel>/k</kernel></os><devices><memballoon model='none'/>"
                + "</devices></domain>"));
        assertEquals(BASE, args(devices("")));
    }

    @Test
    void osKernelBootOnly() {
        assertEquals("--kernel=/b/vmlinuz|--initrd=/b/initrd|--cmdline=console=ttyS0 quiet|--memory=512M|--cpus=1"
                + "|--console=none|--on-reboot=restart", args("<domain type='kvm'><memory unit='MiB'>512</memory>"
                + "<vcpu>1</vcpu><os><type arch='x86_64' machine='pc-i440fx-9.0'>hvm</type><kernel>/b/vmlinuz</kernel>"
                + "<initrd>/b/initrd</initrd><cmdline>console=ttyS0 quiet</cmdline><boot dev='hd'/></os><devices>"
                + "<memballoon model='none'/></devices></domain>"));
        assertEquals("d.xml: /domain/os/kernel: missing: jvmm boots a Linux kernel directly (--kernel); firmware "
                + "(<loader>, <nvram>, firmware=), boot devices (<boot dev=...>) and boot menus are not supported",
                error("<domain type='kvm'><memory>1</memory><os><type>hvm</type><loader readonly='yes' type='pflash'>"
                        + "/usr/share/OVMF/OVMF_CODE.fd</loader><boot dev='hd'/></os></domain>"));
        assertEquals("d.xml: /domain/os/type/@arch: 'aarch64': jvmm runs x86_64 guests", error("<domain type='kvm'>"
                + "<memory>1</memory><os><type arch='aarch64'>hvm</type><kernel>/k</kernel></os></domain>"));
        assertEquals("d.xml: /domain/@type: 'qemu': jvmm runs KVM guests (<domain type='kvm'>)",
                error("<domain type='qemu'><memory>1</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>"));
        assertEquals("d.xml: /domain/os/loader: firmware: jvmm boots the <kernel> directly, without firmware",
                error("<domain type='kvm'><memory>1</memory><os><type>hvm</type><kernel>/k</kernel><loader>/fw</loader>"
                        + "</os></domain>"));
        assertEquals("d.xml: /network: not a libvirt domain XML (the root element must be <domain>)",
                error("<network><name>default</name></network>"));
    }

    @Test
    void vcpus() {
        assertTrue(args(domain("", "").replace("<vcpu>1</vcpu>", "<vcpu placement='static'>4</vcpu>"))
                .contains("|--cpus=4|"));
        assertEquals("d.xml: /domain/vcpu/@current: fewer vCPUs online than <vcpu> (2 of 4): jvmm has no vCPU hot-plug",
                error(domain("", "").replace("<vcpu>1</vcpu>", "<vcpu current='2'>4</vcpu>")));
        assertEquals("d.xml: /domain/vcpu/@cpuset: not supported by jvmm",
                error(domain("", "").replace("<vcpu>1</vcpu>", "<vcpu cpuset='1-3'>4</vcpu>")));
    }

    @Test
    void disks() {
        assertEquals("--disk=path=/img/a.raw,format=raw,cache=writeback,aio=threads,queues=4", extra(devices(
                "<disk type='file' device='disk'><driver name='qemu' type='raw' cache='writeback' io='threads' "
                        + "queues='4'/><source file='/img/a.raw'/><target dev='vda' bus='virtio'/></disk>")));
        assertEquals("--disk=path=/dev/sdb,readonly=on,id=SER-42", extra(devices("<disk type='block' device='disk'>"
                + "<source dev='/dev/sdb'/><target dev='vdb' bus='virtio'/><readonly/><serial>SER-42</serial>"
                + "<boot order='1'/><alias name='virtio-disk1'/><backingStore/></disk>")));
        assertEquals("--disk=path=/a.img,aio=io_uring|--disk=path=/b.qcow2,format=qcow2,cache=unsafe", extra(devices(
                "<disk type='file'><driver io='io_uring'/><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>"
                        + "<disk type='file'><driver name='qemu' type='qcow2' cache='unsafe' discard='unmap'/>"
                        + "<source file='/b.qcow2'/><target dev='vdb' bus='virtio'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk[2]/driver/@iothread: not supported by jvmm", error(devices(
                "<disk type='file'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk><disk type='file'>"
                        + "<driver name='qemu' type='raw' iothread='1'/><source file='/b.img'/><target dev='vdb' "
                        + "bus='virtio'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/@device: 'cdrom': jvmm's disks are virtio-blk disks (no CD-ROM, "
                + "floppy or LUN)", error(devices("<disk type='file' device='cdrom'><source file='/x.iso'/>"
                + "<target dev='sda' bus='sata'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/target/@bus: 'sata': jvmm's disks are virtio-blk (bus='virtio')",
                error(devices("<disk type='file'><source file='/a.img'/><target dev='sda' bus='sata'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/driver/@cache: 'directsync': jvmm's cache modes are none, "
                + "writethrough, writeback and unsafe", error(devices("<disk type='file'><driver cache='directsync'/>"
                + "<source file='/a.img'/><target dev='vda' bus='virtio'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/driver/@discard: 'ignore': jvmm always passes the guest's discards to "
                + "the image (discard='unmap')", error(devices("<disk type='file'><driver discard='ignore'/>"
                + "<source file='/a.img'/><target dev='vda' bus='virtio'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/driver/@type: 'vmdk': jvmm reads raw and qcow2 images",
                error(devices("<disk type='file'><driver type='vmdk'/><source file='/a.vmdk'/><target dev='vda' "
                        + "bus='virtio'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/@type: 'network': jvmm's disks are image files (type='file') or block "
                + "devices (type='block')", error(devices("<disk type='network'><source protocol='rbd' name='p/i'/>"
                + "<target dev='vda' bus='virtio'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/source/@file: '/a,b.img' has a ',', which a jvmm option's key=value "
                + "list cannot carry", error(devices("<disk type='file'><source file='/a,b.img'/><target dev='vda' "
                + "bus='virtio'/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/shareable: not supported by jvmm", error(devices("<disk type='file'>"
                + "<source file='/a.img'/><target dev='vda' bus='virtio'/><shareable/></disk>")));
        assertEquals("d.xml: /domain/devices/disk/backingStore/@type: not supported by jvmm", error(devices(
                "<disk type='file'><source file='/a.qcow2'/><target dev='vda' bus='virtio'/><backingStore type='file'>"
                        + "<format type='raw'/><source file='/base.img'/></backingStore></disk>")));
    }

    @Test
    void interfaces() {
        assertEquals("--net=tap=tap3,mac=52:54:00:00:00:03,queues=2,vhost=off", extra(devices("<interface "
                + "type='ethernet'><mac address='52:54:00:00:00:03'/><target dev='tap3' managed='no'/>"
                + "<model type='virtio'/><driver name='qemu' queues='2'/></interface>")));
        assertEquals("--net=tap=tap4,vhost=on", extra(devices("<interface type='ethernet'><target dev='tap4'/><model "
                + "type='virtio'/><driver name='vhost'/></interface>")));
        assertEquals("--nic=mode=virtio,bridge=br0", extra(devices("<interface type='bridge'><source bridge='br0'/>"
                + "<target dev='vnet3'/><model type='virtio'/><driver name='vhost'/><link state='up'/>"
                + "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>")));
        assertEquals("--nic=mode=virtio,pf=eth0,macvtap=on,mac=52:54:00:aa:bb:cc", extra(devices("<interface "
                + "type='direct'><mac address='52:54:00:aa:bb:cc'/><source dev='eth0' mode='bridge'/><model "
                + "type='virtio'/></interface>")));
        assertEquals("--nic=mode=passthrough,vf=0000:03:10.2,mac=52:54:00:11:22:33,vlan=42", extra(devices(
                "<interface type='hostdev' managed='yes'><mac address='52:54:00:11:22:33'/><source><address type='pci' "
                        + "domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source><vlan><tag id='42'/></vlan>"
                        + "<driver name='vfio'/></interface>")));
        assertEquals("d.xml: /domain/devices/interface/source/@mode: 'vepa': jvmm's macvtaps are in bridge mode "
                + "(mode='bridge')", error(devices("<interface type='direct'><source dev='eth0' mode='vepa'/><model "
                + "type='virtio'/></interface>")));
        assertEquals("d.xml: /domain/devices/interface/model/@type: 'e1000': jvmm's emulated NICs are virtio-net "
                + "(<model type='virtio'/>)", error(devices("<interface type='bridge'><source bridge='br0'/><model "
                + "type='e1000'/></interface>")));
        assertEquals("d.xml: /domain/devices/interface/model: missing: jvmm's emulated NICs are virtio-net "
                + "(<model type='virtio'/>)", error(devices("<interface type='bridge'><source bridge='br0'/></interface>")));
        assertTrue(error(devices("<interface type='network'><source network='default'/><model type='virtio'/>"
                + "</interface>")).startsWith("d.xml: /domain/devices/interface/@type: 'network' needs libvirt's network "
                + "driver"));
        assertEquals("d.xml: /domain/devices/interface/vlan/@trunk: not supported by jvmm", error(devices(
                "<interface type='hostdev'><source><address type='pci' domain='0' bus='3' slot='16' function='2'/>"
                        + "</source><vlan trunk='no'><tag id='42'/></vlan></interface>")));
        assertEquals("d.xml: /domain/devices/interface[2]/filterref: not supported by jvmm", error(devices(
                "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface><interface "
                        + "type='bridge'><source bridge='br1'/><model type='virtio'/><filterref filter='clean-traffic'/>"
                        + "</interface>")));
        assertEquals("d.xml: /domain/devices/interface/source/address/@slot: '0x20' is not a PCI slot (0 to 0x1f)",
                error(devices("<interface type='hostdev'><source><address type='pci' domain='0' bus='3' slot='0x20' "
                        + "function='2'/></source></interface>")));
    }

    @Test
    void hostdevs() {
        assertEquals("--device=vfio=0000:01:10.0|--device=vfio=0001:af:00.7", extra(devices("<hostdev mode='subsystem' "
                + "type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x10' function='0x0'/>"
                + "</source><driver name='vfio'/><address type='pci' domain='0x0000' bus='0x05' slot='0x00' "
                + "function='0x0'/></hostdev><hostdev mode='subsystem' type='pci' managed='no'><source><address "
                + "domain='1' bus='0xaf' slot='0' function='7'/></source></hostdev>")));
        assertEquals("d.xml: /domain/devices/hostdev: mode='subsystem' type='usb': jvmm passes through PCI functions "
                + "(mode='subsystem' type='pci')", error(devices("<hostdev mode='subsystem' type='usb'><source><vendor "
                + "id='0x1234'/></source></hostdev>")));
        assertEquals("d.xml: /domain/devices/hostdev/rom: not supported by jvmm", error(devices("<hostdev "
                + "mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source>"
                + "<rom bar='off'/></hostdev>")));
    }

    @Test
    void balloonRngVsock() {
        assertEquals("--balloon=stats=30", extra(domain("", "").replace("<memballoon model='none'/>",
                "<memballoon model='virtio'><stats period='30'/><alias name='balloon0'/></memballoon>")));
        assertEquals("--balloon=", extra(domain("", "").replace("<memballoon model='none'/>",
                "<memballoon model='virtio'/>")));
        assertEquals("--rng=source=/dev/random,max-bytes=1024,period-ms=1000", extra(devices("<rng model='virtio'>"
                + "<backend model='random'>/dev/random</backend><rate bytes='1024'/></rng>")));
        assertEquals("--rng=source=/dev/urandom,max-bytes=4096,period-ms=250", extra(devices("<rng model='virtio'>"
                + "<rate period='250' bytes='4096'/><backend model='random'/></rng>")));
        assertEquals("d.xml: /domain/devices/rng/backend/@model: jvmm reads entropy from a host device (<backend "
                + "model='random'>/dev/urandom</backend>)", error(devices("<rng model='virtio'><backend model='egd' "
                + "type='tcp'><source mode='connect' host='h' service='1'/></backend></rng>")));
        assertEquals("--vsock=cid=42", extra(devices("<vsock model='virtio'><cid auto='no' address='42'/></vsock>")));
        assertEquals("d.xml: /domain/devices/vsock/cid: jvmm needs a fixed CID: <cid auto='no' address='N'/> (N from 3,"
                + " unique on the host)", error(devices("<vsock model='virtio'><cid auto='yes'/></vsock>")));
    }

    @Test
    void consoles() {
        String serial = "<serial type='pty'><source path='/dev/pts/3'/><target type='isa-serial' port='0'><model "
                + "name='isa-serial'/></target><alias name='serial0'/></serial>";
        String con = "<console type='pty' tty='/dev/pts/3'><source path='/dev/pts/3'/><target type='serial' port='0'/>"
                + "</console>";
        assertEquals(BASE.replace("none", "stdio"), args(devices(serial + con)));
        assertEquals(BASE.replace("none", "stdio"), args(devices(con)));
        assertEquals(BASE.replace("none", "file=/var/log/vm.log"), args(devices("<serial type='file'><source "
                + "path='/var/log/vm.log'/><target port='0'/></serial>")));
        assertEquals(BASE.replace("none", "socket=/run/vm.sock"), args(devices("<serial type='unix'><source "
                + "mode='bind' path='/run/vm.sock'/><target port='0'/></serial>")));
        assertEquals(BASE.replace("--console=none", "--console=none|--virtio-console=stdio"), args(devices(
                "<console type='pty'><target type='virtio' port='0'/></console>")));
        assertEquals(BASE.replace("--console=none", "--console=none|--virtio-console=socket=/run/hvc0.sock")
                + "|--console-port=name=org.example.0,"
                + "socket=/run/port.sock", args(devices("<console type='unix'><source mode='bind' "
                + "path='/run/hvc0.sock'/><target type='virtio'/></console><channel type='unix'><source mode='bind' "
                + "path='/run/port.sock'/><target type='virtio' name='org.example.0' state='disconnected'/><address "
                + "type='virtio-serial' controller='0' bus='0' port='1'/></channel><controller type='virtio-serial' "
                + "index='0'/>")));
        assertEquals("d.xml: /domain/devices/serial[2]/target: jvmm has one serial port, the 16550 at COM1 "
                + "(type='isa-serial' port='0')", error(devices(serial.replace("<alias name='serial0'/>", "")
                + "<serial type='pty'><target port='1'/></serial>")));
        assertEquals("d.xml: /domain/devices/console[2]: a virtio console on a pty besides the serial one "
                + "(/domain/devices/console[1]): both would be jvmm's stdio; give the virtio console a unix socket, or "
                + "drop one",
                error(devices(con + "<console type='pty'><target type='virtio' port='1'/></console>")));
        assertEquals("d.xml: /domain/devices/channel/@type: jvmm's console ports are on unix sockets (type='unix')",
                error(devices("<channel type='pty'><target type='virtio' name='x'/></channel>")));
        assertEquals("d.xml: /domain/devices/channel/source: jvmm listens on the socket: <source mode='bind' "
                + "path='...'/>", error(devices("<channel type='unix'><source mode='connect' path='/x'/><target "
                + "type='virtio' name='x'/></channel>")));
    }

    @Test
    void lifecycle() {
        assertTrue(args(domain("", "<on_reboot>destroy</on_reboot>")).contains("|--on-reboot=exit"));
        assertTrue(args(domain("", "<on_reboot>restart</on_reboot><on_poweroff>destroy</on_poweroff>"
                + "<on_crash>destroy</on_crash>")).contains("|--on-reboot=restart"));
        assertEquals("d.xml: /domain/on_crash: 'coredump-restart': jvmm exits (status 3) when the guest crashes "
                + "(destroy only)", error(domain("", "<on_crash>coredump-restart</on_crash>")));
        assertEquals("d.xml: /domain/on_reboot: 'preserve': jvmm restarts the guest or exits (restart or destroy)",
                error(domain("", "<on_reboot>preserve</on_reboot>")));
    }

    /** What carries no meaning for jvmm is accepted (docs/launch.md lists it). */
    @Test
    void acceptedAndIgnored() {
        String extra = "<title>T</title><description>D</description><uuid>u</uuid><metadata><app:x "
                + "xmlns:app='http://example.com/app'><app:y/></app:x></metadata><resource><partition>/machine"
                + "</partition></resource><features><acpi/><apic/><pae/><vmport state='off'/></features>"
                + "<cpu mode='host-passthrough' check='none' migratable='on'><topology sockets='1' dies='1' "
                + "cores='1' threads='1'/></cpu><clock offset='utc'><timer name='rtc' tickpolicy='catchup'/><timer "
                + "name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/><timer name='kvmclock'/></clock>"
                + "<on_poweroff>destroy</on_poweroff><on_crash>destroy</on_crash><pm><suspend-to-mem enabled='no'/>"
                + "<suspend-to-disk enabled='no'/></pm><seclabel type='none'/>";
        String devs = "<emulator>/usr/bin/qemu-system-x86_64</emulator><controller type='pci' index='0' "
                + "model='pcie-root'/><controller type='pci' index='1' model='pcie-root-port'><model "
                + "name='pcie-root-port'/><target chassis='1' port='0x10'/></controller><controller type='usb' "
                + "model='none'/><controller type='sata' index='0'/><controller type='virtio-serial' index='0'/>"
                + "<input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/><video><model type='none'/>"
                + "</video>";
        assertEquals(BASE, args(domain(devs, extra)));
        assertEquals(BASE, args(("<domain type='kvm' id='7' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                + domain(devs, extra).substring("<domain type='kvm'>".length()))));
    }

    /** What would change the VM is refused, naming it. */
    @Test
    void refusedWhereIgnoringWouldChangeTheVm() {
        String[][] cases = {
            {"<features><hyperv mode='custom'/></features>", "/domain/features/hyperv: not supported by jvmm"},
            {"<cpu mode='host-model'/>", "/domain/cpu/@mode: 'host-model': jvmm's vCPUs are what KVM supports on this "
                    + "host (mode='host-passthrough')"},
            {"<cpu mode='host-passthrough'><topology sockets='2' cores='1' threads='1'/></cpu>", "/domain/cpu/topology: "
                    + "jvmm's topology is one socket of single-threaded cores, one per vCPU (sockets='1' cores='1' "
                    + "threads='1')"},
            {"<clock offset='localtime'/>", "/domain/clock/@offset: 'localtime': jvmm's RTC keeps UTC"},
            {"<clock offset='utc'><timer name='hpet' present='yes'/></clock>", "/domain/clock/timer: jvmm has no HPET "
                    + "(present='no' only)"},
            {"<memoryBacking><hugepages/></memoryBacking>", "/domain/memoryBacking: not supported by jvmm"},
            {"<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>", "/domain/cputune: not supported by jvmm"},
            {"<seclabel type='dynamic' model='selinux'/>", "/domain/seclabel: jvmm applies no security labels (sVirt); "
                    + "only type='none' is accepted"},
            {"<pm><suspend-to-mem enabled='yes'/></pm>", "/domain/pm/suspend-to-mem/@enabled: jvmm's guests cannot "
                    + "suspend (enabled='no' only)"},
            {"<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-s'/>"
                    + "</qemu:commandline>", "/domain/qemu:commandline: not supported by jvmm"},
        };
        for (String[] c : cases) {
            assertEquals("d.xml: " + c[1], error(domain("", c[0])), c[0]);
        }
        String[][] devs = {
            {"<graphics type='vnc' port='-1'/>", "/domain/devices/graphics: not supported by jvmm"},
            {"<video><model type='virtio'/></video>", "/domain/devices/video: jvmm has no display (<model type='none'/>"
                    + " only)"},
            {"<controller type='usb' model='qemu-xhci'/>", "/domain/devices/controller/@model: jvmm has no USB "
                    + "controller (model='none' only)"},
            {"<controller type='scsi' model='virtio-scsi'/>", "/domain/devices/controller/@type: 'scsi': jvmm has no "
                    + "such controller"},
            {"<input type='tablet' bus='usb'/>", "/domain/devices/input: jvmm has no input devices beyond the PS/2 "
                    + "controller (bus='ps2')"},
            {"<watchdog model='i6300esb'/>", "/domain/devices/watchdog: not supported by jvmm"},
            {"<filesystem type='mount'/>", "/domain/devices/filesystem: not supported by jvmm"},
            {"<memballoon model='xen'/>", "/domain/devices/memballoon[2]/@model: 'xen': jvmm's balloon is virtio "
                    + "(model='virtio' or 'none')"},
        };
        for (String[] c : devs) {
            assertEquals("d.xml: " + c[1], error(devices(c[0])), c[0]);
        }
    }

    @Test
    void lenientWarnsAndSkips() {
        String xml = devices("<disk type='file'><driver name='qemu' type='raw' iothread='1'/><source file='/a.img'/>"
                + "<target dev='vda' bus='virtio'/></disk><disk type='file' device='cdrom'><source file='/x.iso'/>"
                + "<target dev='sda' bus='sata'/></disk><graphics type='vnc'/><interface type='bridge'><source "
                + "bridge='br0'/><model type='virtio'/><driver queues='2' txmode='iothread'/></interface>");
        List<String> w = warnings(xml, BASE + "|--disk=path=/a.img,format=raw|--nic=mode=virtio,bridge=br0,queues=2");
        assertEquals(List.of(
                "warning: d.xml: /domain/devices/disk[1]/driver/@iothread: not supported by jvmm; skipped (--lenient)",
                "warning: d.xml: /domain/devices/disk[2]/@device: 'cdrom': jvmm's disks are virtio-blk disks (no CD-ROM,"
                        + " floppy or LUN); skipped (--lenient)",
                "warning: d.xml: /domain/devices/interface/driver/@txmode: not supported by jvmm; skipped (--lenient)",
                "warning: d.xml: /domain/devices/graphics: not supported by jvmm; skipped (--lenient)"), w);
        // what is wrong rather than unsupported stays an error
        VmmException e = assertThrows(VmmException.class, () -> DomainXml.translate("d.xml", ("<domain type='kvm'>"
                + "<memory>1</memory><os><type>hvm</type></os></domain>").getBytes(StandardCharsets.UTF_8), true, x -> { }));
        assertTrue(e.getMessage().startsWith("d.xml: /domain/os/kernel: missing"), e.getMessage());
    }

    @Test
    void hostileXmlIsRefused() throws Exception {
        for (String f : new String[] {"xxe.xml", "billion-laughs.xml"}) {
            Path p = Path.of(getClass().getResource(f).toURI());
            VmmException e = assertThrows(VmmException.class, () -> DomainXml.translate(p, true, w -> { }));
            assertEquals(p + ": line 2: a DOCTYPE is refused (a domain XML has none; entity and DTD declarations are "
                    + "how XML entity attacks such as billion laughs or an external entity reading a host file work)",
                    e.getMessage());
            assertFalse(e.getMessage().contains("root:"), "nothing of /etc/passwd");
        }
        // XInclude is off: the include is an element in another namespace, which is reported like any other
        Path p = Path.of(getClass().getResource("xinclude.xml").toURI());
        VmmException e = assertThrows(VmmException.class, () -> DomainXml.translate(p, false, w -> { }));
        assertFalse(e.getMessage().contains("root:"), e.getMessage());
        assertTrue(e.getMessage().startsWith(p + ": /domain/os/cmdline/xi:include: not supported by jvmm"),
                e.getMessage());
        // too deep
        String deep = "<domain type='kvm'>" + "<metadata>".repeat(100) + "</metadata>".repeat(100) + "</domain>";
        assertTrue(error(deep).contains("refused by the XML parser's limits"), error(deep));
        assertTrue(error("<domain type='kvm'><memory>1</memory>").startsWith("d.xml: line 1: not well-formed XML: "));
        assertTrue(error("").startsWith("d.xml: line 1: not well-formed XML: "), error(""));
    }
}
