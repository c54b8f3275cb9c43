package dev.jvmm.vmm.libvirt;

import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import org.w3c.dom.Document;

/**
 * Translates a libvirt domain XML into the {@code jvmm launch} options that describe the same VM
 * (docs/launch.md, "From a libvirt domain XML"). It only writes options: what they mean, and whether they are
 * valid, stays the launch path's business. Everything in the file is read, accepted as meaningless to jvmm, or
 * reported with its location ({@link Problems}).
 */
public final class DomainXml {
    private final Problems p;
    private String kernel;
    private String initrd;
    private String cmdline;
    private long memory = -1;
    private long currentMemory = -1;
    private String cpus;
    /** The 16550's console: from {@code <serial>} or a {@code <console>} whose target is serial. */
    private String serialConsole;
    private String serialFrom;
    /** {@code <console>} with a virtio target. */
    private String virtioConsole;
    private String virtioConsoleFrom;
    private String onReboot = "restart"; // libvirt's default
    private final List<String> disks = new ArrayList<>();
    private final List<String> nets = new ArrayList<>();
    private final List<String> nics = new ArrayList<>();
    private final List<String> devices = new ArrayList<>();
    private final List<String> consolePorts = new ArrayList<>();
    /** The balloon's value ("" for one with every default), or null for none. */
    private String balloon = "";
    private String balloonFrom = "/domain/devices";
    private final Map<String, String> balloonKeys = new LinkedHashMap<>();
    private String rng;
    private String vsock;

    private DomainXml(Problems p) {
        this.p = p;
    }

    /**
     * Reads {@code file} and translates it.
     *
     * @param lenient unsupported elements and attributes are warnings (through {@code warn}), skipped
     * @throws VmmException (CONFIG) naming the file, the location in it and what is wrong
     */
    public static List<LaunchArg> translate(Path file, boolean lenient, Consumer<String> warn) {
        byte[] bytes;
        try {
            if (Files.size(file) > SecureXml.MAX_BYTES) {
                throw new VmmException(VmmException.Reason.CONFIG, file + ": " + Files.size(file) + " bytes: too large "
                        + "for a domain XML (at most " + SecureXml.MAX_BYTES + ")");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.CONFIG, "--libvirt: cannot read " + file + ": "
                    + (e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : e.toString()));
        }
        return translate(file.toString(), bytes, lenient, warn);
    }

    /** Translates the domain XML {@code xml}, which error messages call {@code where}. */
    public static List<LaunchArg> translate(String where, byte[] xml, boolean lenient, Consumer<String> warn) {
        Problems problems = new Problems(where, lenient, warn);
        Document doc = SecureXml.parse(where, xml);
        DomainXml t = new DomainXml(problems);
        t.domain(new XmlNode(doc.getDocumentElement(), "/" + doc.getDocumentElement().getNodeName(), problems));
        return t.args();
    }

    // ---- the options

    private List<LaunchArg> args() {
        List<LaunchArg> a = new ArrayList<>();
        a.add(new LaunchArg("--kernel", kernel));
        add(a, "--initrd", initrd);
        add(a, "--cmdline", cmdline);
        a.add(new LaunchArg("--memory", dev.jvmm.sys.Sizes.format(memory)));
        add(a, "--cpus", cpus);
        consoleArgs(a);
        a.add(new LaunchArg("--on-reboot", onReboot));
        disks.forEach(d -> a.add(new LaunchArg("--disk", d)));
        nets.forEach(n -> a.add(new LaunchArg("--net", n)));
        nics.forEach(n -> a.add(new LaunchArg("--nic", n)));
        devices.forEach(d -> a.add(new LaunchArg("--device", d)));
        if (currentMemory >= 0 && currentMemory < memory) {
            if (balloon == null) {
                p.unsupported("/domain/currentMemory", "below <memory> needs a balloon to give the difference back, "
                        + "and <memballoon model='none'/> has none");
            } else {
                balloonKeys.put("size", dev.jvmm.sys.Sizes.format(memory - currentMemory));
            }
        }
        if (balloon != null) {
            // --balloon=VALUE: an empty value is the bare flag, a balloon with every default
            a.add(new LaunchArg("--balloon", spec(balloonKeys)));
        }
        add(a, "--rng", rng);
        add(a, "--vsock", vsock);
        consolePorts.forEach(c -> a.add(new LaunchArg(CONSOLE_PORT_OPTION, c)));
        return a;
    }

    private static void add(List<LaunchArg> a, String option, String value) {
        if (value != null) {
            a.add(new LaunchArg(option, value));
        }
    }

    // ---- the virtio-console mappings, kept together

    /** The option of a named virtio-console port ({@code <channel>}). */
    static final String CONSOLE_PORT_OPTION = "--console-port";
    /** The option of the virtio console's port 0, hvc0 ({@code <console><target type='virtio'/>}). */
    static final String VIRTIO_CONSOLE_OPTION = "--virtio-console";

    /** {@code <console><target type='virtio'/>}: hvc0, on this jvmm console (a unix socket path, or null: stdio). */
    static String virtioConsoleSpec(String socket) {
        return socket == null ? "stdio" : "socket=" + socket;
    }

    /** {@code <channel type='unix'><target type='virtio' name=NAME/>}: a named port on a unix socket. */
    static String consolePortSpec(String name, String socket) {
        return "name=" + name + ",socket=" + socket;
    }

    /**
     * {@code --console} (the 16550: stdio, file=, socket=; {@code none} when the XML has no serial console, as
     * libvirt would give the guest no serial port) and {@code --virtio-console} (hvc0). Two consoles on stdio (a pty
     * each in libvirt) cannot share jvmm's terminal: the virtio one is then left out, and said so.
     */
    private void consoleArgs(List<LaunchArg> a) {
        if (virtioConsole != null && serialConsole != null && virtioConsole.equals("stdio") && serialConsole.equals("stdio")) {
            p.unsupported(virtioConsoleFrom, "a virtio console on a pty besides the serial one (" + serialFrom
                    + "): both would be jvmm's stdio; give the virtio console a unix socket, or drop one");
            virtioConsole = null;
        }
        a.add(new LaunchArg("--console", serialConsole != null ? serialConsole : "none"));
        if (virtioConsole != null) {
            a.add(new LaunchArg(VIRTIO_CONSOLE_OPTION, virtioConsole));
        }
    }

    // ---- the domain

    private void domain(XmlNode d) {
        if (!d.name().equals("domain")) {
            throw p.fail(d.path(), "not a libvirt domain XML (the root element must be <domain>)");
        }
        String type = d.attr("type");
        if (type == null || !type.equals("kvm")) {
            throw p.fail(d.at("type"), (type == null ? "missing" : "'" + type + "'")
                    + ": jvmm runs KVM guests (<domain type='kvm'>)");
        }
        d.ignore("id", "name", "uuid", "title", "description", "metadata", "resource");
        XmlNode os = d.kid("os");
        if (os == null) {
            throw p.fail(d.path() + "/os", "missing: jvmm needs <os> with <kernel>");
        }
        os(os);
        XmlNode mem = d.kid("memory");
        if (mem == null) {
            throw p.fail(d.path() + "/memory", "missing");
        }
        memory = size(mem);
        XmlNode cur = d.kid("currentMemory");
        if (cur != null) {
            currentMemory = size(cur);
            if (currentMemory > memory) {
                throw p.fail(cur.path(), "more than <memory> (" + currentMemory + " > " + memory + " bytes)");
            }
        }
        XmlNode vcpu = d.kid("vcpu");
        if (vcpu != null) {
            vcpu(vcpu);
        }
        XmlNode devs = d.kid("devices");
        if (devs != null) {
            devices(devs);
        }
        for (XmlNode k : d.allKids()) {
            switch (k.name()) {
                case "features" -> { d.use(k); features(k); }
                case "cpu" -> { d.use(k); cpu(k); }
                case "clock" -> { d.use(k); clock(k); }
                case "on_poweroff" -> { d.use(k); lifecycle(k, "destroy", "jvmm exits when the guest powers off"); }
                case "on_crash" -> { d.use(k); lifecycle(k, "destroy", "jvmm exits (status 3) when the guest crashes"); }
                case "on_reboot" -> { d.use(k); onReboot(k); }
                case "pm" -> { d.use(k); pm(k); }
                case "seclabel" -> { d.use(k); seclabel(k); }
                default -> {
                }
            }
        }
        d.finish();
    }

    private void os(XmlNode os) {
        XmlNode type = os.kid("type");
        if (type == null) {
            throw p.fail(os.path() + "/type", "missing (expected <type arch='x86_64'>hvm</type>)");
        }
        String arch = type.attr("arch");
        if (arch != null && !arch.equals("x86_64")) {
            throw p.fail(type.at("arch"), "'" + arch + "': jvmm runs x86_64 guests");
        }
        type.attr("machine"); // pc-q35-*, pc-i440fx-*: jvmm's board is its own (docs/launch.md)
        if (!type.text().equals("hvm")) {
            throw p.fail(type.path(), "'" + type.text() + "': jvmm runs hvm guests");
        }
        type.finish();
        XmlNode k = os.kid("kernel");
        if (k == null || k.text().isEmpty()) {
            throw p.fail(os.path() + "/kernel", "missing: jvmm boots a Linux kernel directly (--kernel); firmware "
                    + "(<loader>, <nvram>, firmware=), boot devices (<boot dev=...>) and boot menus are not supported");
        }
        kernel = k.text();
        k.finish();
        XmlNode i = os.kid("initrd");
        if (i != null) {
            initrd = i.text();
            i.finish();
        }
        XmlNode c = os.kid("cmdline");
        if (c != null) {
            cmdline = c.text();
            c.finish();
        }
        // with a kernel given, boot devices and the boot menu are never used
        os.ignore("boot", "bootmenu");
        for (String fw : new String[] {"loader", "nvram"}) {
            for (XmlNode x : os.kids(fw)) {
                x.skipAll();
                p.unsupported(x.path(), "firmware: jvmm boots the <kernel> directly, without firmware");
            }
        }
        if (os.attr("firmware") != null) {
            p.unsupported(os.at("firmware"), "firmware: jvmm boots the <kernel> directly, without firmware");
        }
        os.finish();
    }

    /** A size: the text in {@code unit} (KiB when absent; b, bytes, KB, k, KiB, MB, M, MiB, ... as libvirt reads them). */
    private long size(XmlNode n) {
        String unit = n.attr("unit", "KiB");
        String t = n.text();
        long mult = unit(unit);
        if (mult == 0) {
            throw p.fail(n.at("unit"), "'" + unit + "' is not a unit (b, bytes, KB, KiB, MB, MiB, GB, GiB, TB, TiB)");
        }
        if (!t.matches("[0-9]{1,19}")) {
            throw p.fail(n.path(), "'" + Problems.shorten(t) + "' is not a whole number");
        }
        long v;
        try {
            v = Math.multiplyExact(Long.parseLong(t), mult);
        } catch (ArithmeticException | NumberFormatException e) {
            throw p.fail(n.path(), t + " " + unit + " is too large");
        }
        n.finish();
        return v;
    }

    static long unit(String unit) {
        String u = unit.toLowerCase(Locale.ROOT);
        return switch (u) {
            case "b", "bytes" -> 1;
            case "kb" -> 1000L;
            case "k", "kib" -> 1L << 10;
            case "mb" -> 1000_000L;
            case "m", "mib" -> 1L << 20;
            case "gb" -> 1000_000_000L;
            case "g", "gib" -> 1L << 30;
            case "tb" -> 1000_000_000_000L;
            case "t", "tib" -> 1L << 40;
            case "pb" -> 1000_000_000_000_000L;
            case "p", "pib" -> 1L << 50;
            default -> 0;
        };
    }

    private void vcpu(XmlNode v) {
        String placement = v.attr("placement");
        if (placement != null && !placement.equals("static") && !placement.equals("auto")) {
            p.unsupported(v.at("placement"), "'" + placement + "' is not static or auto");
        }
        String n = v.text();
        if (!n.matches("[0-9]{1,9}")) {
            throw p.fail(v.path(), "'" + Problems.shorten(n) + "' is not a number of vCPUs");
        }
        cpus = Integer.toString(Integer.parseInt(n));
        String current = v.attr("current");
        if (current != null && !current.equals(n)) {
            p.unsupported(v.at("current"), "fewer vCPUs online than <vcpu> (" + current + " of " + n
                    + "): jvmm has no vCPU hot-plug");
        }
        v.finish();
    }

    private void features(XmlNode f) {
        f.ignore("acpi", "apic", "pae"); // jvmm's board always has ACPI and an APIC; long mode implies PAE
        for (XmlNode vmport : f.kids("vmport")) {
            if (!"off".equals(vmport.attr("state"))) {
                p.unsupported(vmport.at("state"), "jvmm has no VMware I/O port (state='off' only)");
            }
            vmport.finish();
        }
        f.finish();
    }

    private void cpu(XmlNode c) {
        String mode = c.attr("mode", "custom");
        if (!mode.equals("host-passthrough") && !mode.equals("maximum")) {
            p.unsupported(c.at("mode"), "'" + mode + "': jvmm's vCPUs are what KVM supports on this host "
                    + "(mode='host-passthrough')");
        }
        c.ignore("check", "migratable");
        XmlNode t = c.kid("topology");
        if (t != null) {
            // jvmm gives a VM one socket of single-threaded cores, one per vCPU
            boolean one = "1".equals(t.attr("sockets", "1")) && "1".equals(t.attr("dies", "1"))
                    && "1".equals(t.attr("clusters", "1")) && "1".equals(t.attr("threads", "1"))
                    && (cpus == null || cpus.equals(t.attr("cores")));
            if (!one) {
                p.unsupported(t.path(), "jvmm's topology is one socket of single-threaded cores, one per vCPU "
                        + "(sockets='1' cores='" + (cpus == null ? "N" : cpus) + "' threads='1')");
            }
            t.skipAll();
            t.finish();
        }
        c.finish();
    }

    private void clock(XmlNode c) {
        String offset = c.attr("offset", "utc");
        if (!offset.equals("utc")) {
            p.unsupported(c.at("offset"), "'" + offset + "': jvmm's RTC keeps UTC");
        }
        for (XmlNode t : c.kids("timer")) {
            String name = t.attr("name", "");
            String present = t.attr("present");
            t.ignore("tickpolicy", "track");
            switch (name) {
                case "rtc", "pit" -> {
                    if ("no".equals(present)) {
                        p.unsupported(t.at("present"), "jvmm's board always has the " + name.toUpperCase(Locale.ROOT));
                    }
                }
                case "hpet" -> {
                    if (!"no".equals(present)) {
                        p.unsupported(t.path(), "jvmm has no HPET (present='no' only)");
                    }
                }
                case "kvmclock" -> {
                    if ("no".equals(present)) {
                        p.unsupported(t.at("present"), "jvmm's guests always have kvmclock");
                    }
                }
                default -> p.unsupported(t.at("name"), "timer '" + name + "' is not supported by jvmm");
            }
            t.finish();
        }
        c.finish();
    }

    private void lifecycle(XmlNode n, String only, String why) {
        String v = n.text();
        if (!v.equals(only)) {
            p.unsupported(n.path(), "'" + v + "': " + why + " (" + only + " only)");
        }
        n.finish();
    }

    private void onReboot(XmlNode n) {
        String v = n.text();
        switch (v) {
            case "restart" -> onReboot = "restart";
            case "destroy" -> onReboot = "exit";
            default -> p.unsupported(n.path(), "'" + v + "': jvmm restarts the guest or exits (restart or destroy)");
        }
        n.finish();
    }

    private void pm(XmlNode pm) {
        for (String s : new String[] {"suspend-to-mem", "suspend-to-disk"}) {
            for (XmlNode k : pm.kids(s)) {
                if (!"no".equals(k.attr("enabled"))) {
                    p.unsupported(k.at("enabled"), "jvmm's guests cannot suspend (enabled='no' only)");
                }
                k.finish();
            }
        }
        pm.finish();
    }

    private void seclabel(XmlNode s) {
        if (!"none".equals(s.attr("type"))) {
            s.skipAll();
            p.unsupported(s.path(), "jvmm applies no security labels (sVirt); only type='none' is accepted");
            return;
        }
        s.finish();
    }

    // ---- devices

    private void devices(XmlNode devs) {
        devs.ignore("emulator");
        for (XmlNode k : devs.allKids()) {
            boolean known = true;
            switch (k.name()) {
                case "disk" -> disk(k);
                case "interface" -> iface(k);
                case "hostdev" -> hostdev(k);
                case "memballoon" -> memballoon(k);
                case "rng" -> rng(k);
                case "vsock" -> vsock(k);
                case "serial" -> serial(k);
                case "console" -> console(k);
                case "channel" -> channel(k);
                case "controller" -> controller(k);
                case "input" -> input(k);
                case "video" -> video(k);
                default -> known = false;
            }
            if (known) {
                devs.use(k);
            }
        }
        devs.finish();
    }

    /** What every device may carry that means nothing to jvmm: its guest PCI address, libvirt's alias, boot order. */
    private static void deviceExtras(XmlNode n) {
        n.ignore("address", "alias", "boot");
    }

    private void disk(XmlNode d) {
        String type = d.attr("type", "file");
        String device = d.attr("device", "disk");
        if (!device.equals("disk")) {
            d.skipAll();
            p.unsupported(d.at("device"), "'" + device + "': jvmm's disks are virtio-blk disks (no CD-ROM, floppy or LUN)");
            return;
        }
        if (!type.equals("file") && !type.equals("block")) {
            d.skipAll();
            p.unsupported(d.at("type"), "'" + type + "': jvmm's disks are image files (type='file') or block "
                    + "devices (type='block')");
            return;
        }
        Spec s = new Spec(d.path());
        XmlNode src = d.kid("source");
        String path = src == null ? null : src.attr(type.equals("file") ? "file" : "dev");
        if (path == null || path.isEmpty()) {
            d.skipAll();
            p.unsupported(src == null ? d.path() + "/source" : src.at(type.equals("file") ? "file" : "dev"),
                    "missing: the disk's " + (type.equals("file") ? "image file" : "block device"));
            return;
        }
        src.ignore("index");
        src.finish();
        XmlNode target = d.kid("target");
        String bus = target == null ? null : target.attr("bus");
        if (!"virtio".equals(bus)) {
            d.skipAll();
            p.unsupported(target == null ? d.path() + "/target" : target.at("bus"), (bus == null ? "missing"
                    : "'" + bus + "'") + ": jvmm's disks are virtio-blk (bus='virtio')");
            return;
        }
        target.attr("dev"); // vda, vdb: the guest names its disks itself, in PCI order (the XML's)
        target.finish();
        if (!s.put("path", path, src.at(type.equals("file") ? "file" : "dev"))) {
            d.skipAll();
            return;
        }
        XmlNode drv = d.kid("driver");
        if (drv != null) {
            driver(drv, s);
        }
        XmlNode ro = d.kid("readonly");
        if (ro != null) {
            s.put("readonly", "on", ro.path());
            ro.finish();
        }
        XmlNode serial = d.kid("serial");
        if (serial != null) {
            s.put("id", serial.text(), serial.path());
            serial.finish();
        }
        XmlNode backing = d.kid("backingStore");
        if (backing != null) {
            backing.finish(); // empty: no backing chain; anything in it is reported
        }
        deviceExtras(d);
        d.finish();
        disks.add(s.value());
    }

    private void driver(XmlNode drv, Spec s) {
        String name = drv.attr("name");
        if (name != null && !name.equals("qemu")) {
            p.unsupported(drv.at("name"), "'" + name + "' (name='qemu' only)");
        }
        String type = drv.attr("type");
        if (type != null) {
            switch (type) {
                case "raw", "qcow2" -> s.put("format", type, drv.at("type"));
                default -> p.unsupported(drv.at("type"), "'" + type + "': jvmm reads raw and qcow2 images");
            }
        }
        String cache = drv.attr("cache");
        if (cache != null) {
            switch (cache) {
                case "none", "writethrough", "writeback", "unsafe" -> s.put("cache", cache, drv.at("cache"));
                case "default" -> {
                }
                default -> p.unsupported(drv.at("cache"), "'" + cache + "': jvmm's cache modes are none, writethrough, "
                        + "writeback and unsafe");
            }
        }
        String io = drv.attr("io");
        if (io != null) {
            switch (io) {
                case "threads" -> s.put("aio", "threads", drv.at("io"));
                // jvmm has no Linux AIO: io_uring is its asynchronous kernel path
                case "native", "io_uring" -> s.put("aio", "io_uring", drv.at("io"));
                case "default" -> {
                }
                default -> p.unsupported(drv.at("io"), "'" + io + "' (threads, native or io_uring)");
            }
        }
        discard(drv);
        String queues = drv.attr("queues");
        if (queues != null) {
            s.put("queues", queues, drv.at("queues"));
        }
        drv.finish();
    }

    /**
     * {@code discard=}: jvmm always passes the guest's discards to the image (a hole punched in a file, BLKDISCARD on
     * a block device), which is {@code unmap}; {@code ignore} would differ.
     */
    private void discard(XmlNode drv) {
        String discard = drv.attr("discard");
        if (discard != null && !discard.equals("unmap")) {
            p.unsupported(drv.at("discard"), "'" + discard + "': jvmm always passes the guest's discards to the image "
                    + "(discard='unmap')");
        }
    }

    private void iface(XmlNode n) {
        String type = n.attr("type", "");
        Spec s = new Spec(n.path());
        XmlNode macEl = n.kid("mac");
        if (!type.equals("hostdev")) {
            XmlNode model = n.kid("model");
            String m = model == null ? null : model.attr("type");
            if (!"virtio".equals(m)) {
                n.skipAll();
                p.unsupported(model == null ? n.path() + "/model" : model.at("type"), (m == null ? "missing" : "'"
                        + m + "'") + ": jvmm's emulated NICs are virtio-net (<model type='virtio'/>)");
                return;
            }
            model.finish();
        }
        XmlNode drv = n.kid("driver");
        String vhost = null;
        switch (type) {
            case "ethernet" -> {
                XmlNode target = n.kid("target");
                if (target != null) {
                    target.attr("managed"); // managed='no': the TAP exists, which is how jvmm's tap= works anyway
                    String dev = target.attr("dev");
                    if (dev != null && !s.put("tap", dev, target.at("dev"))) {
                        n.skipAll();
                        return;
                    }
                    target.finish();
                }
            }
            case "bridge" -> {
                XmlNode src = n.kid("source");
                String br = src == null ? null : src.attr("bridge");
                if (br == null || br.isEmpty()) {
                    n.skipAll();
                    p.unsupported(n.path() + "/source", "missing <source bridge='...'/>");
                    return;
                }
                src.finish();
                s.put("mode", "virtio", n.path());
                if (!s.put("bridge", br, src.at("bridge"))) {
                    n.skipAll();
                    return;
                }
                n.ignore("target"); // the name of libvirt's TAP: jvmm names the one it creates
            }
            case "direct" -> {
                XmlNode src = n.kid("source");
                String dev = src == null ? null : src.attr("dev");
                if (dev == null || dev.isEmpty()) {
                    n.skipAll();
                    p.unsupported(n.path() + "/source", "missing <source dev='...' mode='bridge'/>");
                    return;
                }
                String mode = src.attr("mode");
                if (!"bridge".equals(mode)) {
                    n.skipAll();
                    p.unsupported(src.at("mode"), (mode == null ? "missing (libvirt's default is vepa)" : "'" + mode
                            + "'") + ": jvmm's macvtaps are in bridge mode (mode='bridge')");
                    return;
                }
                src.finish();
                s.put("mode", "virtio", n.path());
                if (!s.put("pf", dev, src.at("dev"))) {
                    n.skipAll();
                    return;
                }
                s.put("macvtap", "on", src.path());
                n.ignore("target");
            }
            case "hostdev" -> {
                n.attr("managed"); // jvmm binds the VF to vfio-pci itself, as managed='yes' asks
                XmlNode src = n.kid("source");
                XmlNode addr = src == null ? null : src.kid("address");
                if (addr == null) {
                    n.skipAll();
                    p.unsupported(n.path() + "/source/address", "missing: the VF's PCI address");
                    return;
                }
                String bdf = pciAddress(addr);
                if (bdf == null) {
                    n.skipAll();
                    return;
                }
                src.finish();
                s.put("mode", "passthrough", n.path());
                s.put("vf", bdf, addr.path());
                if (drv != null) {
                    String dn = drv.attr("name");
                    if (dn != null && !dn.equals("vfio")) {
                        p.unsupported(drv.at("name"), "'" + dn + "' (name='vfio' only)");
                    }
                }
            }
            case "network" -> {
                n.skipAll();
                p.unsupported(n.at("type"), "'network' needs libvirt's network driver: give the network's bridge "
                        + "instead (type='bridge' with <source bridge='virbr0'/>)");
                return;
            }
            default -> {
                n.skipAll();
                p.unsupported(n.at("type"), "'" + type + "': jvmm's NICs are type='ethernet' (a TAP), 'bridge', "
                        + "'direct' (a macvtap) or 'hostdev' (an SR-IOV VF)");
                return;
            }
        }
        if (macEl != null) {
            s.put("mac", macEl.attr("address"), macEl.at("address"));
            macEl.ignore("type"); // generated or static: the address is what counts
            macEl.finish();
        }
        XmlNode vlan = type.equals("hostdev") ? n.kid("vlan") : null;
        if (vlan != null) {
            vlan(vlan, s);
        }
        if (drv != null && !type.equals("hostdev")) {
            String q = drv.attr("queues");
            if (q != null) {
                s.put("queues", q, drv.at("queues"));
            }
            String name = drv.attr("name");
            if (name != null) {
                switch (name) {
                    case "vhost" -> vhost = "on";
                    case "qemu" -> vhost = "off";
                    default -> p.unsupported(drv.at("name"), "'" + name + "' (vhost or qemu)");
                }
            }
        }
        if (drv != null) {
            drv.finish();
        }
        XmlNode link = n.kid("link");
        if (link != null) {
            if (!"up".equals(link.attr("state"))) {
                p.unsupported(link.at("state"), "jvmm's NICs start with their link up (state='up' only)");
            }
            link.finish();
        }
        deviceExtras(n);
        n.finish();
        if (type.equals("ethernet")) {
            // --net: a virtio-net on a TAP, the option with the vhost key
            if (vhost != null) {
                s.put("vhost", vhost, n.path() + "/driver/@name");
            }
            nets.add(s.value());
        } else {
            // --nic has no vhost key: vhost or not is the host's business, the guest sees the same virtio-net
            nics.add(s.value());
        }
    }

    private void vlan(XmlNode vlan, Spec s) {
        List<XmlNode> tags = vlan.kids("tag");
        if (tags.size() != 1) {
            p.unsupported(vlan.path(), tags.size() + " tags: jvmm sets one VLAN on a VF (no trunk)");
        } else {
            String id = tags.get(0).attr("id");
            if (id == null) {
                p.unsupported(tags.get(0).path(), "missing id=");
            } else {
                s.put("vlan", id, tags.get(0).at("id"));
            }
            tags.get(0).finish();
        }
        vlan.finish();
    }

    /** A {@code <address type='pci' domain= bus= slot= function=/>} as {@code 0000:03:10.2}, or null (reported). */
    private String pciAddress(XmlNode a) {
        String t = a.attr("type", "pci");
        if (!t.equals("pci")) {
            p.unsupported(a.at("type"), "'" + t + "': a PCI address (type='pci') is expected");
            return null;
        }
        long[] v = new long[4];
        String[] names = {"domain", "bus", "slot", "function"};
        long[] max = {0xffff, 0xff, 0x1f, 7};
        for (int i = 0; i < 4; i++) {
            String s = a.attr(names[i], i == 0 ? "0" : null);
            if (s == null) {
                p.unsupported(a.at(names[i]), "missing");
                return null;
            }
            try {
                v[i] = Long.decode(s);
            } catch (NumberFormatException e) {
                v[i] = -1;
            }
            if (v[i] < 0 || v[i] > max[i]) {
                p.unsupported(a.at(names[i]), "'" + Problems.shorten(s) + "' is not a PCI " + names[i] + " (0 to 0x"
                        + Long.toHexString(max[i]) + ")");
                return null;
            }
        }
        a.finish();
        return String.format("%04x:%02x:%02x.%x", v[0], v[1], v[2], v[3]);
    }

    private void hostdev(XmlNode h) {
        String mode = h.attr("mode", "subsystem");
        String type = h.attr("type");
        if (!mode.equals("subsystem") || !"pci".equals(type)) {
            h.skipAll();
            p.unsupported(h.path(), "mode='" + mode + "' type='" + type + "': jvmm passes through PCI functions "
                    + "(mode='subsystem' type='pci')");
            return;
        }
        h.attr("managed"); // jvmm binds the function to vfio-pci if it is not yet (docs/vfio.md)
        XmlNode src = h.kid("source");
        XmlNode addr = src == null ? null : src.kid("address");
        if (addr == null) {
            h.skipAll();
            p.unsupported(h.path() + "/source/address", "missing: the function's PCI address");
            return;
        }
        String bdf = pciAddress(addr);
        if (bdf == null) {
            h.skipAll();
            return;
        }
        src.finish();
        XmlNode drv = h.kid("driver");
        if (drv != null) {
            String n = drv.attr("name");
            if (n != null && !n.equals("vfio")) {
                p.unsupported(drv.at("name"), "'" + n + "' (name='vfio' only)");
            }
            drv.finish();
        }
        deviceExtras(h);
        h.finish();
        devices.add("vfio=" + bdf);
    }

    private static boolean virtioModel(String m) {
        return "virtio".equals(m) || "virtio-non-transitional".equals(m);
    }

    private void memballoon(XmlNode b) {
        String model = b.attr("model", "");
        if (model.equals("none")) {
            balloon = null;
            b.finish();
            return;
        }
        if (!virtioModel(model)) {
            b.skipAll();
            p.unsupported(b.at("model"), "'" + model + "': jvmm's balloon is virtio (model='virtio' or 'none')");
            balloon = null;
            return;
        }
        balloonFrom = b.path();
        if ("on".equals(b.attr("autodeflate"))) {
            balloonKeys.put("deflate-on-oom", "on");
        }
        if ("on".equals(b.attr("freePageReporting"))) {
            balloonKeys.put("free-page-reporting", "on");
        }
        XmlNode stats = b.kid("stats");
        if (stats != null) {
            String period = stats.attr("period", "0");
            if (!period.matches("[0-9]{1,9}")) {
                p.unsupported(stats.at("period"), "'" + Problems.shorten(period) + "' is not a number of seconds");
            } else if (Integer.parseInt(period) > 0) {
                balloonKeys.put("stats", Integer.toString(Integer.parseInt(period)));
            }
            stats.finish();
        }
        deviceExtras(b);
        b.finish();
    }

    private void rng(XmlNode r) {
        if (!virtioModel(r.attr("model"))) {
            r.skipAll();
            p.unsupported(r.at("model"), "jvmm's entropy device is virtio (model='virtio')");
            return;
        }
        if (rng != null) {
            r.skipAll();
            p.unsupported(r.path(), "a second <rng>: jvmm gives a VM one");
            return;
        }
        Spec s = new Spec(r.path());
        XmlNode be = r.kid("backend");
        if (be == null || !"random".equals(be.attr("model"))) {
            r.skipAll();
            p.unsupported(be == null ? r.path() + "/backend" : be.at("model"), "jvmm reads entropy from a host device"
                    + " (<backend model='random'>/dev/urandom</backend>)");
            return;
        }
        String src = be.text();
        if (!s.put("source", src.isEmpty() ? "/dev/urandom" : src, be.path())) {
            r.skipAll();
            return;
        }
        be.finish();
        XmlNode rate = r.kid("rate");
        if (rate != null) {
            String bytes = rate.attr("bytes");
            if (bytes == null) {
                p.unsupported(rate.path(), "missing bytes=");
            } else {
                s.put("max-bytes", bytes, rate.at("bytes"));
                s.put("period-ms", rate.attr("period", "1000"), rate.at("period")); // libvirt's default period: 1 s
            }
            rate.finish();
        }
        deviceExtras(r);
        r.finish();
        rng = s.value();
    }

    private void vsock(XmlNode v) {
        String model = v.attr("model");
        if (model != null && !virtioModel(model)) {
            v.skipAll();
            p.unsupported(v.at("model"), "'" + model + "': jvmm's vsock is virtio");
            return;
        }
        XmlNode cid = v.kid("cid");
        String auto = cid == null ? "yes" : cid.attr("auto", "no");
        String address = cid == null ? null : cid.attr("address");
        if (!auto.equals("no") || address == null) {
            v.skipAll();
            p.unsupported(cid == null ? v.path() + "/cid" : cid.path(), "jvmm needs a fixed CID: <cid auto='no' "
                    + "address='N'/> (N from 3, unique on the host)");
            return;
        }
        cid.finish();
        Spec s = new Spec(v.path());
        s.put("cid", address, cid.at("address"));
        deviceExtras(v);
        v.finish();
        vsock = s.value();
    }

    /** A character device's unix socket (source mode='bind' path=...), or null when it has none (reported). */
    private String bindSocket(XmlNode c) {
        XmlNode src = c.kid("source");
        String mode = src == null ? null : src.attr("mode");
        String path = src == null ? null : src.attr("path");
        if (!"bind".equals(mode) || path == null || path.isEmpty()) {
            p.unsupported(src == null ? c.path() + "/source" : src.path(), "jvmm listens on the socket: <source "
                    + "mode='bind' path='...'/>");
            return null;
        }
        src.finish();
        return path;
    }

    /** The 16550's {@code --console} for a serial-like character device, or null (reported). */
    private String serialSpec(XmlNode c) {
        String type = c.attr("type", "pty");
        switch (type) {
            case "pty", "stdio" -> {
                c.ignore("source"); // the pty libvirt allocated: jvmm's console is its stdio
                c.attr("tty");
                return "stdio";
            }
            case "file" -> {
                XmlNode src = c.kid("source");
                String path = src == null ? null : src.attr("path");
                if (path == null || path.isEmpty()) {
                    p.unsupported(c.path() + "/source", "missing <source path='...'/>");
                    return null;
                }
                src.finish();
                return "file=" + path;
            }
            case "unix" -> {
                String path = bindSocket(c);
                return path == null ? null : "socket=" + path;
            }
            case "null" -> {
                return "none";
            }
            default -> {
                p.unsupported(c.at("type"), "'" + type + "': jvmm's console is pty (its stdio), file, unix or null");
                return null;
            }
        }
    }

    private void setSerial(XmlNode n, String spec) {
        if (serialConsole != null && !serialConsole.equals(spec)) {
            p.unsupported(n.path(), "a second serial port: jvmm has one (" + serialFrom + ")");
            return;
        }
        if (serialConsole == null) {
            serialConsole = spec;
            serialFrom = n.path();
        }
    }

    private void serial(XmlNode s) {
        XmlNode target = s.kid("target");
        if (target != null) {
            String port = target.attr("port", "0");
            String type = target.attr("type", "isa-serial");
            if (!port.equals("0") || !type.equals("isa-serial")) {
                s.skipAll();
                p.unsupported(target.path(), "jvmm has one serial port, the 16550 at COM1 (type='isa-serial' port='0')");
                return;
            }
            XmlNode model = target.kid("model");
            if (model != null && !"isa-serial".equals(model.attr("name"))) {
                p.unsupported(model.at("name"), "jvmm's serial port is a 16550 (isa-serial)");
            }
            if (model != null) {
                model.finish();
            }
            target.finish();
        }
        String spec = serialSpec(s);
        if (spec == null) {
            s.skipAll();
            return;
        }
        deviceExtras(s);
        s.finish();
        setSerial(s, spec);
    }

    private void console(XmlNode c) {
        XmlNode target = c.kid("target");
        String ttype = target == null ? "serial" : target.attr("type", "serial");
        if (target != null) {
            target.attr("port");
        }
        if (ttype.equals("serial")) {
            String spec = serialSpec(c);
            if (spec == null) {
                c.skipAll();
                return;
            }
            if (target != null) {
                target.finish();
            }
            deviceExtras(c);
            c.finish();
            // libvirt shows the first serial port again as the console: one port
            setSerial(c, spec);
            return;
        }
        if (!ttype.equals("virtio")) {
            c.skipAll();
            p.unsupported(target.at("type"), "'" + ttype + "': jvmm's consoles are serial or virtio");
            return;
        }
        if (virtioConsole != null) {
            c.skipAll();
            p.unsupported(c.path(), "a second virtio console: hvc1 and on are <channel>s in jvmm (--console-port)");
            return;
        }
        String type = c.attr("type", "pty");
        String socket = null;
        if (type.equals("unix")) {
            socket = bindSocket(c);
            if (socket == null) {
                c.skipAll();
                return;
            }
        } else if (type.equals("pty") || type.equals("stdio")) {
            c.ignore("source");
            c.attr("tty");
        } else {
            c.skipAll();
            p.unsupported(c.at("type"), "'" + type + "': a virtio console is pty (jvmm's stdio) or unix");
            return;
        }
        Spec s = new Spec(c.path());
        if (socket != null && !s.put("socket", socket, c.path() + "/source/@path")) {
            c.skipAll();
            return;
        }
        target.finish();
        deviceExtras(c);
        c.finish();
        virtioConsole = virtioConsoleSpec(socket);
        virtioConsoleFrom = c.path();
    }

    private void channel(XmlNode c) {
        XmlNode target = c.kid("target");
        if (target == null || !"virtio".equals(target.attr("type"))) {
            c.skipAll();
            p.unsupported(target == null ? c.path() + "/target" : target.at("type"), "jvmm's channels are virtio "
                    + "console ports (<target type='virtio' name='...'/>)");
            return;
        }
        String name = target.attr("name");
        target.attr("state"); // connected or not: what libvirt saw of the guest
        if (name == null || name.isEmpty()) {
            c.skipAll();
            p.unsupported(target.at("name"), "missing: a console port has a name");
            return;
        }
        if (!"unix".equals(c.attr("type"))) {
            c.skipAll();
            p.unsupported(c.at("type"), "jvmm's console ports are on unix sockets (type='unix')");
            return;
        }
        String socket = bindSocket(c);
        if (socket == null) {
            c.skipAll();
            return;
        }
        Spec s = new Spec(c.path());
        if (!s.put("name", name, target.at("name")) || !s.put("socket", socket, c.path() + "/source/@path")) {
            c.skipAll();
            return;
        }
        target.finish();
        deviceExtras(c);
        c.finish();
        consolePorts.add(consolePortSpec(name, socket));
    }

    private void controller(XmlNode c) {
        String type = c.attr("type", "");
        String model = c.attr("model");
        switch (type) {
            // the PCI topology is jvmm's own; the serial bus comes with virtio consoles; the machine's built-in
            // SATA/IDE controllers carry no disk jvmm accepts
            case "pci", "virtio-serial", "sata", "ide" -> c.skipAll();
            case "usb" -> {
                if (!"none".equals(model)) {
                    c.skipAll();
                    p.unsupported(c.at("model"), "jvmm has no USB controller (model='none' only)");
                    return;
                }
                c.skipAll();
            }
            default -> {
                c.skipAll();
                p.unsupported(c.at("type"), "'" + type + "': jvmm has no such controller");
                return;
            }
        }
        c.finish();
    }

    private void input(XmlNode i) {
        if (!"ps2".equals(i.attr("bus"))) {
            i.skipAll();
            p.unsupported(i.path(), "jvmm has no input devices beyond the PS/2 controller (bus='ps2')");
            return;
        }
        i.attr("type");
        deviceExtras(i);
        i.finish();
    }

    private void video(XmlNode v) {
        XmlNode m = v.kid("model");
        if (m == null || !"none".equals(m.attr("type"))) {
            v.skipAll();
            p.unsupported(v.path(), "jvmm has no display (<model type='none'/> only)");
            return;
        }
        m.finish();
        deviceExtras(v);
        v.finish();
    }

    /** {@code key=value,...} of one option, refusing what the CLI form cannot carry (a ',' in a value). */
    private final class Spec {
        private final Map<String, String> m = new LinkedHashMap<>();
        private final String where;

        Spec(String where) {
            this.where = where;
        }

        boolean put(String k, String v, String at) {
            if (v == null) {
                p.unsupported(at, "missing");
                return false;
            }
            if (v.indexOf(',') >= 0) {
                p.unsupported(at, "'" + Problems.shorten(v) + "' has a ',', which a jvmm option's key=value list "
                        + "cannot carry");
                return false;
            }
            m.put(k, v);
            return true;
        }

        String value() {
            return spec(m);
        }

        @Override
        public String toString() {
            return where + ": " + m;
        }
    }

    private static String spec(Map<String, String> m) {
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> b.append(b.length() == 0 ? "" : ",").append(k).append('=').append(v));
        return b.toString();
    }
}
