package dev.jvmm.vmm.config;

import dev.jvmm.vmm.VmmException;
import dev.jvmm.virtio.blk.AioMode;
import dev.jvmm.virtio.blk.CacheMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Parses {@code --disk path=...,readonly=on,cache=...,id=...,queues=N,aio=...}, {@code --net tap=...,mac=...,queues=N},
 * {@code --device vfio=BDF} and {@code --nic pf=...,mode=auto,...} (and the same keys as JSON objects in the config
 * file's {@code "disks"} / {@code "nets"} / {@code "devices"} / {@code "nics"} arrays) into {@link DiskConfig} /
 * {@link NetConfig} / {@link VfioConfig} / {@link NicConfig}. Every error names where it came from and the offending key:
 * {@code --disk: unknown key "cahce" (expected path, readonly, cache, id, queues, aio)}.
 */
public final class DeviceSpecs {
    private DeviceSpecs() {
    }

    /** One device's raw {@code key -> value} pairs and where they came from (for messages). */
    public record Spec(String origin, Map<String, String> values) {
    }

    /** Splits {@code k=v,k=v}; a bare first word is the {@code path} (disks) or {@code tap} (nets). */
    public static Spec parseCli(String option, String text, String bareKey, List<String> keys) {
        Map<String, String> m = new LinkedHashMap<>();
        if (text == null || text.isBlank()) {
            throw fail(option, "is empty (expected " + String.join(",", keys.stream().map(k -> k + "=...").toList()) + ")");
        }
        String[] parts = text.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            int eq = p.indexOf('=');
            String k, v;
            if (eq < 0) {
                if (i == 0 && !p.isEmpty()) {
                    k = bareKey;
                    v = p;
                } else {
                    throw fail(option, "\"" + p + "\" is not key=value (expected " + String.join(", ", keys) + ")");
                }
            } else {
                k = p.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                v = p.substring(eq + 1);
            }
            put(option, m, k, v, keys);
        }
        return new Spec(option, m);
    }

    /** Reads one JSON array element: an object with the same keys, or a string in the CLI form. */
    public static Spec parseJson(String origin, Object element, String bareKey, List<String> keys) {
        if (element instanceof String s) {
            return parseCli(origin, s, bareKey, keys);
        }
        if (!(element instanceof Map<?, ?> obj)) {
            throw fail(origin, "must be an object {\"" + keys.get(0) + "\": ...} or a string, got "
                    + (element == null ? "null" : element.getClass().getSimpleName().toLowerCase(Locale.ROOT)));
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : obj.entrySet()) {
            String k = (String) e.getKey();
            Object v = e.getValue();
            String sv;
            if (v instanceof String str) {
                sv = str;
            } else if (v instanceof Boolean b) {
                sv = b ? "on" : "off";
            } else if (v instanceof Long l) {
                sv = Long.toString(l);
            } else {
                if (!keys.contains(k)) {
                    put(origin, m, k, "", keys); // reports the unknown key first
                }
                throw fail(origin, "key \"" + k + "\" must be a string, number or boolean");
            }
            put(origin, m, k, sv, keys);
        }
        return new Spec(origin, m);
    }

    private static void put(String origin, Map<String, String> m, String k, String v, List<String> keys) {
        if (!keys.contains(k)) {
            throw fail(origin, "unknown key \"" + k + "\" (expected " + String.join(", ", keys) + ")");
        }
        if (m.put(k, v) != null) {
            throw fail(origin, "key \"" + k + "\" given twice");
        }
    }

    /** Validates a disk; the file must exist and be readable (and writable unless read-only). */
    public static DiskConfig disk(Spec s) {
        String o = s.origin();
        Map<String, String> m = s.values();
        String path = m.get("path");
        if (path == null || path.isEmpty()) {
            throw fail(o, "path=FILE is required");
        }
        boolean ro = m.containsKey("readonly") && bool(o, "readonly", m.get("readonly"));
        CacheMode cache = CacheMode.WRITEBACK;
        if (m.containsKey("cache")) {
            String c = m.get("cache").trim().toLowerCase(Locale.ROOT);
            cache = switch (c) {
                case "none" -> CacheMode.NONE;
                case "writeback" -> CacheMode.WRITEBACK;
                case "writethrough" -> CacheMode.WRITETHROUGH;
                case "unsafe" -> CacheMode.UNSAFE;
                default -> throw fail(o, "cache: \"" + m.get("cache") + "\" is not a cache mode (expected none, "
                        + "writeback, writethrough or unsafe)");
            };
        }
        String id = m.get("id");
        if (id != null) {
            if (id.isEmpty() || id.length() > DiskConfig.MAX_ID_BYTES || !id.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f)) {
                throw fail(o, "id: \"" + id + "\" must be 1 to " + DiskConfig.MAX_ID_BYTES
                        + " printable ASCII characters without spaces");
            }
        }
        int queues = m.containsKey("queues") ? number(o, "queues", m.get("queues"), 1, DiskConfig.MAX_QUEUES) : 1;
        AioMode aio = AioMode.AUTO;
        if (m.containsKey("aio")) {
            aio = switch (m.get("aio").trim().toLowerCase(Locale.ROOT)) {
                case "auto" -> AioMode.AUTO;
                case "threads" -> AioMode.THREADS;
                case "io_uring" -> AioMode.IO_URING;
                default -> throw fail(o, "aio: \"" + m.get("aio") + "\" is not an aio mode (expected threads, io_uring "
                        + "or auto)");
            };
        }
        String format = null;
        if (m.containsKey("format")) {
            format = m.get("format").trim().toLowerCase(Locale.ROOT);
            if (!format.equals("raw") && !format.equals("qcow2")) {
                throw fail(o, "format: \"" + m.get("format") + "\" is not a disk format (expected raw or qcow2)");
            }
        }
        Path p;
        try {
            p = Path.of(path);
        } catch (java.nio.file.InvalidPathException e) { // a NUL byte: no file has such a name
            throw fail(o, "path: \"" + path.replace("\0", "\\0") + "\" is not a file name: " + e.getReason());
        }
        if (!Files.exists(p)) {
            throw fail(o, "path: " + path + ": no such file");
        }
        if (Files.isDirectory(p)) {
            throw fail(o, "path: " + path + ": is a directory (expected a raw image file or a block device)");
        }
        if (!Files.isReadable(p) || (!ro && !Files.isWritable(p))) {
            throw fail(o, "path: " + path + ": permission denied" + (ro ? "" : " (for read-only use add readonly=on)"));
        }
        if ("qcow2".equals(format) && Files.isRegularFile(p) && !dev.jvmm.virtio.blk.qcow2.Images.isQcow2(p)) {
            throw fail(o, "format=qcow2 but " + path + " is not a qcow2 image (no QFI\\xfb magic)");
        }
        return new DiskConfig(p, ro, cache, id, queues, aio, format);
    }

    public static NetConfig net(Spec s) {
        String o = s.origin();
        Map<String, String> m = s.values();
        String tap = m.get("tap");
        if (tap != null) {
            ifname(o, "tap", tap);
        }
        byte[] mac = null;
        if (m.containsKey("mac")) {
            mac = mac(o, m.get("mac"));
        }
        int queues = m.containsKey("queues") ? number(o, "queues", m.get("queues"), 1, NetConfig.MAX_QUEUES) : 1;
        NetConfig.Vhost vhost = NetConfig.Vhost.AUTO;
        if (m.containsKey("vhost")) {
            String v = m.get("vhost").trim().toLowerCase(Locale.ROOT);
            vhost = switch (v) {
                case "auto" -> NetConfig.Vhost.AUTO;
                case "on", "true", "yes" -> NetConfig.Vhost.ON;
                case "off", "false", "no" -> NetConfig.Vhost.OFF;
                default -> throw fail(o, "vhost: \"" + m.get("vhost") + "\" is not on, off or auto");
            };
        }
        return new NetConfig(tap, mac, queues).withVhost(vhost);
    }

    /** A network interface name: 1 to 15 characters (IFNAMSIZ - 1), no '/' or spaces, not {@code .} or {@code ..}. */
    private static String ifname(String o, String k, String v) {
        if (v.isEmpty() || v.length() > 15 || v.contains("/") || v.contains(" ") || v.equals(".") || v.equals("..")) {
            throw fail(o, k + ": \"" + v + "\" is not an interface name (1 to 15 characters, no '/' or spaces)");
        }
        return v;
    }

    /** A PCI address in canonical form ({@code 0000:01:10.0}). */
    private static String pciAddress(String o, String k, String v) {
        try {
            return dev.jvmm.sys.pci.PciAddress.parse(v).toString();
        } catch (dev.jvmm.sys.pci.PciException e) {
            throw fail(o, k + ": " + e.getMessage());
        }
    }

    static byte[] mac(String o, String s) {
        String[] p = s.trim().split(":", -1);
        byte[] b = new byte[6];
        boolean ok = p.length == 6;
        for (int i = 0; ok && i < 6; i++) {
            ok = p[i].matches("[0-9a-fA-F]{2}");
            if (ok) {
                b[i] = (byte) Integer.parseInt(p[i], 16);
            }
        }
        if (!ok) {
            throw fail(o, "mac: \"" + s + "\" is not a MAC address (use e.g. 52:54:00:12:34:56)");
        }
        if ((b[0] & 1) != 0) {
            throw fail(o, "mac: " + s + " is a multicast address (the first byte must be even)");
        }
        if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0) {
            throw fail(o, "mac: 00:00:00:00:00:00 is not a usable address");
        }
        return b;
    }

    private static boolean bool(String o, String k, String v) {
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "on", "true", "yes", "1" -> true;
            case "off", "false", "no", "0" -> false;
            default -> throw fail(o, k + ": \"" + v + "\" is not on/off");
        };
    }

    private static int number(String o, String k, String v, int min, int max) {
        int n;
        try {
            n = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw fail(o, k + ": \"" + v + "\" is not a number");
        }
        if (n < min || n > max) {
            throw fail(o, k + ": must be between " + min + " and " + max + ", got " + n);
        }
        return n;
    }

    /** Records {@code --disk}/{@code --net} values in {@code raw} (given options replace the config file's arrays). */
    public static void fromCli(ConfigLoader.Raw raw, List<String> disks, List<String> nets) {
        if (disks != null && !disks.isEmpty()) {
            raw.disks = cli("--disk", disks, "path", DiskConfig.KEYS);
        }
        if (nets != null && !nets.isEmpty()) {
            raw.nets = cli("--net", nets, "tap", NetConfig.KEYS);
        }
    }

    /** Records the {@code --vsock} value in {@code raw} (given, it replaces the config file's {@code "vsock"}). */
    public static void vsockFromCli(ConfigLoader.Raw raw, List<String> vsock) {
        if (vsock != null && vsock.size() > 1) {
            throw fail("--vsock", "given " + vsock.size() + " times (a VM has one vsock device)");
        }
        if (vsock != null && !vsock.isEmpty()) {
            raw.vsock = parseCli("--vsock", vsock.get(0), "cid", VsockConfig.KEYS);
        }
    }

    /** Validates a vsock device: {@code cid} is required, 3 to 4294967294. */
    public static VsockConfig vsock(Spec s) {
        String o = s.origin();
        String c = s.values().get("cid");
        if (c == null) {
            throw fail(o, "cid=N is required (the guest's context id, 3 to 4294967294, unique on this host)");
        }
        long cid;
        try {
            cid = Long.parseLong(c.trim());
        } catch (NumberFormatException e) {
            throw fail(o, "cid \"" + c + "\" is not a number");
        }
        try {
            return new VsockConfig(cid);
        } catch (IllegalArgumentException e) {
            throw fail(o, e.getMessage());
        }
    }

    /** Records {@code --device} values in {@code raw} (given options replace the config file's array). */
    public static void devicesFromCli(ConfigLoader.Raw raw, List<String> devices) {
        if (devices != null && !devices.isEmpty()) {
            raw.devices = cli("--device", devices, "vfio", VfioConfig.KEYS);
        }
    }

    /**
     * Records {@code --nic} values (given ones replace the config file's {@code "nics"}) and {@code --migratable}
     * (a flag: when absent the file decides) in {@code raw}.
     */
    public static void nicsFromCli(ConfigLoader.Raw raw, List<String> nics, boolean migratable) {
        if (nics != null && !nics.isEmpty()) {
            raw.nics = nicsCli(nics);
        }
        if (migratable) {
            raw.migratable = true;
        }
    }

    /**
     * Validates VFIO devices: {@code vfio=DDDD:BB:DD.F} (or {@code BB:DD.F}), each at most once, with an optional
     * {@code iommu=auto|type1|iommufd} that the VM's devices must not contradict. Whether the device
     * exists and is bound to vfio-pci is checked when the VM is built, with the host's errors.
     */
    public static List<VfioConfig> vfio(List<Spec> specs) {
        List<VfioConfig> out = new ArrayList<>();
        for (Spec s : specs) {
            String v = s.values().get("vfio");
            if (v == null || v.isBlank()) {
                throw fail(s.origin(), "vfio=DDDD:BB:DD.F is required (e.g. vfio=0000:01:10.0)");
            }
            String bdf = pciAddress(s.origin(), "vfio", v);
            for (VfioConfig c : out) {
                if (c.bdf().equals(bdf)) {
                    throw fail(s.origin(), "vfio: " + bdf + " is given twice");
                }
            }
            String im = s.values().getOrDefault("iommu", "auto").trim().toLowerCase(Locale.ROOT);
            VfioConfig.Iommu iommu = switch (im) {
                case "auto" -> VfioConfig.Iommu.AUTO;
                case "type1" -> VfioConfig.Iommu.TYPE1;
                case "iommufd" -> VfioConfig.Iommu.IOMMUFD;
                default -> throw fail(s.origin(), "iommu: \"" + im + "\" is not auto, type1 or iommufd");
            };
            for (VfioConfig c : out) {
                if (c.iommu() != VfioConfig.Iommu.AUTO && iommu != VfioConfig.Iommu.AUTO && c.iommu() != iommu) {
                    throw fail(s.origin(), "iommu: " + bdf + " asks for " + im + " but " + c.bdf() + " for "
                            + c.iommu().name().toLowerCase(Locale.ROOT) + "; one VM has one IOMMU address space");
                }
            }
            boolean msix = !s.values().containsKey("msix") || bool(s.origin(), "msix", s.values().get("msix"));
            out.add(new VfioConfig(bdf, iommu, msix));
        }
        return out;
    }

    /** Parses every CLI value of one option. */
    public static List<Spec> cli(String option, List<String> values, String bareKey, List<String> keys) {
        return cli(option, values, bareKey, keys, (i, v) -> option);
    }

    private static List<Spec> cli(String option, List<String> values, String bareKey, List<String> keys,
            BiFunction<Integer, Object, String> origin) {
        List<Spec> out = new ArrayList<>();
        if (values != null) {
            for (int i = 0; i < values.size(); i++) {
                out.add(parseCli(origin.apply(i, values.get(i)), values.get(i), bareKey, keys));
            }
        }
        return out;
    }

    /** Reads a config file's {@code "disks"} or {@code "nets"} array. */
    public static List<Spec> json(String origin, Object value, String bareKey, List<String> keys) {
        return json(origin, value, bareKey, keys, (i, e) -> origin + "[" + i + "]");
    }

    private static List<Spec> json(String origin, Object value, String bareKey, List<String> keys,
            BiFunction<Integer, Object, String> elementOrigin) {
        if (!(value instanceof List<?> l)) {
            throw fail(origin, "must be an array [...]");
        }
        List<Spec> out = new ArrayList<>();
        for (int i = 0; i < l.size(); i++) {
            out.add(parseJson(elementOrigin.apply(i, l.get(i)), l.get(i), bareKey, keys));
        }
        return out;
    }

    /**
     * Parses every {@code --nic} value. Each is named in messages by its {@code id=} ({@code --nic eth1}), or
     * without one by its position ({@code --nic #2}), from the first error on, unknown keys included.
     */
    public static List<Spec> nicsCli(List<String> values) {
        return cli("--nic", values, "pf", NicConfig.KEYS,
                (i, v) -> nicId(v) != null ? "--nic " + nicId(v) : "--nic #" + (i + 1));
    }

    /** Reads a config file's {@code "nics"} array; an element is named {@code ...[1] (eth1)} when it has an id. */
    public static List<Spec> nicsJson(String origin, Object value) {
        return json(origin, value, "pf", NicConfig.KEYS,
                (i, e) -> origin + "[" + i + "]" + (nicId(e) != null ? " (" + nicId(e) + ")" : ""));
    }

    /** The {@code id} of a NIC spec before it is parsed (to name it in parse errors), or null. */
    private static String nicId(Object element) {
        if (element instanceof Map<?, ?> m) {
            return m.get("id") instanceof String s && !s.isBlank() ? s : null;
        }
        if (element instanceof String s) {
            for (String part : s.split(",")) {
                int eq = part.indexOf('=');
                if (eq > 0 && part.substring(0, eq).trim().equalsIgnoreCase("id") && !part.substring(eq + 1).isBlank()) {
                    return part.substring(eq + 1);
                }
            }
        }
        return null;
    }

    /**
     * Validates the NICs of one VM: each one's keys ({@link #nic}), then what only the whole list shows: two NICs
     * with one id (given, or the {@code ethN} of an unnamed one), or with one VF.
     *
     * @param migratable the VM is {@code --migratable}: a NIC that must be a VF is refused
     * @param vm         what identifies the VM, for generated MACs ({@link NicConfig#generatedMac})
     */
    public static List<NicConfig> nics(List<Spec> specs, boolean migratable, String vm) {
        List<NicConfig> out = new ArrayList<>();
        Map<String, Spec> byId = new LinkedHashMap<>();
        Map<String, Spec> byVf = new LinkedHashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            Spec s = specs.get(i);
            NicConfig n = nic(s, i, migratable, vm);
            Spec other = byId.putIfAbsent(n.id(), s);
            if (other != null) {
                String why;
                if (!s.values().containsKey("id")) {
                    why = "this NIC has no id= and is named " + n.id() + " by its position, but " + other.origin()
                            + " has that id; give one of them another id=";
                } else if (!other.values().containsKey("id")) {
                    why = n.id() + " is also the id of " + other.origin() + ", which has no id= and is named by its "
                            + "position; give one of them another id=";
                } else {
                    why = n.id() + " is given to two NICs";
                }
                throw fail(s.origin(), "id: " + why);
            }
            if (n.vf() != null && (other = byVf.putIfAbsent(n.vf(), s)) != null) {
                throw fail(s.origin(), "vf: " + n.vf() + " is given to two NICs (" + other.origin() + " too)");
            }
            out.add(n);
        }
        return out;
    }

    /** Validates one NIC, the {@code position}-th (from 0) of its VM; see {@link NicConfig} for the keys. */
    static NicConfig nic(Spec s, int position, boolean migratable, String vm) {
        String o = s.origin();
        Map<String, String> m = s.values();
        NicConfig.Mode mode = NicConfig.Mode.AUTO;
        if (m.containsKey("mode")) {
            String v = m.get("mode").trim().toLowerCase(Locale.ROOT);
            mode = switch (v) {
                case "auto" -> NicConfig.Mode.AUTO;
                case "passthrough" -> NicConfig.Mode.PASSTHROUGH;
                case "virtio" -> NicConfig.Mode.VIRTIO;
                default -> throw fail(o, "mode: \"" + m.get("mode") + "\" is not a mode (expected passthrough, virtio "
                        + "or auto)");
            };
        }
        String id = NicConfig.defaultId(position);
        if (m.containsKey("id")) {
            id = m.get("id");
            if (!id.matches("[A-Za-z0-9_.-]{1,15}")) {
                throw fail(o, "id: \"" + id + "\" must be 1 to 15 letters, digits, '_', '.' or '-'");
            }
        }
        String pf = null;
        if (m.containsKey("pf")) {
            String v = m.get("pf").trim();
            pf = dev.jvmm.sys.pci.PciAddress.looksLike(v) ? pciAddress(o, "pf", v) : ifname(o, "pf", v);
        }
        String vf = m.containsKey("vf") ? pciAddress(o, "vf", m.get("vf")) : null;
        if (pf != null && vf != null) {
            throw fail(o, "pf= and vf= are both given (a VF's PF is known from the VF: give one)");
        }
        String mac = m.containsKey("mac") ? NetConfig.format(mac(o, m.get("mac"))) : NicConfig.generatedMac(vm, id);
        Integer vlan = m.containsKey("vlan") ? number(o, "vlan", m.get("vlan"), 0, 4095) : null;
        Integer qos = m.containsKey("qos") ? number(o, "qos", m.get("qos"), 0, 7) : null;
        if (qos != null && vlan == null) {
            throw fail(o, "qos: the 802.1p priority of a VLAN tag needs vlan=");
        }
        Boolean spoofchk = m.containsKey("spoofchk") ? bool(o, "spoofchk", m.get("spoofchk")) : null;
        Boolean trust = m.containsKey("trust") ? bool(o, "trust", m.get("trust")) : null;
        Integer rate = m.containsKey("rate") ? number(o, "rate", m.get("rate"), 0, NicConfig.MAX_RATE) : null;
        String tap = m.containsKey("tap") ? ifname(o, "tap", m.get("tap")) : null;
        boolean macvtap = m.containsKey("macvtap") && bool(o, "macvtap", m.get("macvtap"));
        String bridge = m.containsKey("bridge") ? ifname(o, "bridge", m.get("bridge")) : null;
        if ((tap != null ? 1 : 0) + (macvtap ? 1 : 0) + (bridge != null ? 1 : 0) > 1) {
            throw fail(o, "tap=, macvtap=on and bridge= are alternatives; give one");
        }
        Integer queues = m.containsKey("queues") ? number(o, "queues", m.get("queues"), 1, NetConfig.MAX_QUEUES) : null;
        if (macvtap && pf == null && vf == null) {
            throw fail(o, "macvtap: macvtap=on needs pf= (the interface the macvtap sits on)");
        }
        if (tap != null) {
            for (String k : List.of("vlan", "qos", "rate")) {
                if (m.containsKey(k)) {
                    throw fail(o, k + ": jvmm does not manage the network behind tap=" + tap + " (set it up there, or "
                            + "use macvtap=on or bridge=)");
                }
            }
        }
        boolean failover = m.containsKey("failover") && bool(o, "failover", m.get("failover"));
        if (failover) {
            if (pf == null && vf == null) {
                throw fail(o, "failover: failover=on pairs virtio-net with a VF: it needs pf= or vf=");
            }
            if (m.containsKey("mode")) {
                throw fail(o, "mode: failover=on gives the guest both a VF and virtio-net; leave mode= out");
            }
        }
        switch (mode) {
            case PASSTHROUGH -> {
                if (pf == null && vf == null) {
                    throw fail(o, "mode=passthrough needs pf= or vf=");
                }
                if (migratable) {
                    throw fail(o, "mode=passthrough on a --migratable VM: a passed-through VF cannot be migrated (use "
                            + "mode=auto or virtio)");
                }
                for (String k : List.of("tap", "macvtap", "bridge", "queues")) {
                    if (m.containsKey(k)) {
                        throw fail(o, k + ": mode=passthrough gives the guest a VF; tap=, macvtap=, bridge= and queues= "
                                + "are for virtio-net (mode=auto falls back to it)");
                    }
                }
            }
            case VIRTIO -> {
                if (vf != null) {
                    throw fail(o, "vf: mode=virtio takes no VF (pf= puts virtio-net on a macvtap over the PF)");
                }
                for (String k : List.of("spoofchk", "trust")) {
                    if (m.containsKey(k)) {
                        throw fail(o, k + ": a VF setting, and mode=virtio has no VF");
                    }
                }
            }
            case AUTO -> {
            }
        }
        return new NicConfig(id, mode, pf, vf, mac, vlan, qos, spoofchk, trust, rate, tap, macvtap, bridge, queues,
                failover);
    }

    /**
     * Parses {@code --balloon [size=128M][,free-page-reporting=on][,deflate-on-oom=on][,stats=SECONDS]}: an empty value
     * (the bare flag) is a balloon with every default; a bare first word is the size.
     */
    public static Spec balloonCli(String text) {
        if (text == null || text.isBlank()) {
            return new Spec("--balloon", new LinkedHashMap<>());
        }
        return parseCli("--balloon", text, "size", BalloonConfig.KEYS);
    }

    /** Reads the config file's {@code "balloon"}: an object with the keys of {@code --balloon}, a string in its form, or true. */
    public static Spec balloonJson(String origin, Object v) {
        if (Boolean.TRUE.equals(v)) {
            return new Spec(origin, new LinkedHashMap<>());
        }
        return parseJson(origin, v, "size", BalloonConfig.KEYS);
    }

    /**
     * Validates a balloon for a guest of {@code memory} bytes: the size (bare numbers are MiB, as for --memory) a whole
     * number of 4 KiB pages below the guest's RAM, the stats interval 1 to a day (or 0: none).
     */
    public static BalloonConfig balloon(Spec s, long memory) {
        String o = s.origin();
        Map<String, String> m = s.values();
        long size = 0;
        if (m.containsKey("size")) {
            try {
                size = dev.jvmm.sys.Sizes.parse(m.get("size"), dev.jvmm.sys.Sizes.MIB);
            } catch (IllegalArgumentException e) {
                throw fail(o, "size: " + e.getMessage());
            }
            if (size % 4096 != 0) {
                throw fail(o, "size: " + m.get("size") + " is not a whole number of 4 KiB pages");
            }
            if (size >= memory) {
                throw fail(o, "size: " + m.get("size") + " must be below the guest's RAM (" + (memory >> 20) + " MiB)");
            }
        }
        boolean reporting = m.containsKey("free-page-reporting") && bool(o, "free-page-reporting", m.get("free-page-reporting"));
        boolean oom = m.containsKey("deflate-on-oom") && bool(o, "deflate-on-oom", m.get("deflate-on-oom"));
        int stats = m.containsKey("stats") ? number(o, "stats", m.get("stats"), 0, BalloonConfig.MAX_STATS_SECONDS) : 0;
        return new BalloonConfig(size, reporting, oom, stats);
    }

    /**
     * Records {@code --rng} ({@code ""} when given without a value), {@code --virtio-console} and
     * {@code --console-port} values in {@code raw}; given options replace the config file's {@code "rng"},
     * {@code "virtio_console"} and {@code "console_ports"}.
     */
    public static void extrasFromCli(ConfigLoader.Raw raw, String rng, String virtioConsole, List<String> ports) {
        if (rng != null) {
            raw.rng = rng.isBlank() ? new Spec("--rng", new LinkedHashMap<>())
                    : parseCli("--rng", rng, "source", RngConfig.KEYS);
        }
        if (virtioConsole != null) {
            raw.virtioConsole = virtioConsole;
            raw.origin.put("virtio_console", "--virtio-console");
        }
        if (ports != null && !ports.isEmpty()) {
            raw.consolePorts = cli("--console-port", ports, "name", VirtioConsoleConfig.PORT_KEYS);
        }
    }

    /**
     * Validates a virtio-rng: {@code source} a readable file that is not a directory (default {@code /dev/urandom});
     * {@code max-bytes} 1..2^40 with {@code period-ms} 1..3600000 (default 1000), or neither.
     */
    public static RngConfig rng(Spec s) {
        String o = s.origin();
        Map<String, String> m = s.values();
        Path source = RngConfig.DEFAULT_SOURCE;
        if (m.containsKey("source")) {
            String v = m.get("source");
            try {
                source = Path.of(v);
            } catch (java.nio.file.InvalidPathException e) {
                throw fail(o, "source: \"" + v.replace("\0", "\\0") + "\" is not a file name: " + e.getReason());
            }
            if (v.isEmpty()) {
                throw fail(o, "source: is empty (expected a file such as /dev/urandom)");
            }
        }
        if (!Files.exists(source)) {
            throw fail(o, "source: " + source + ": no such file");
        }
        if (Files.isDirectory(source)) {
            throw fail(o, "source: " + source + ": is a directory");
        }
        if (!Files.isReadable(source)) {
            throw fail(o, "source: " + source + ": not readable (permission denied)");
        }
        long max = 0, period = 0;
        if (m.containsKey("max-bytes")) {
            max = longNumber(o, "max-bytes", m.get("max-bytes"), 1, RngConfig.MAX_BYTES);
            period = RngConfig.DEFAULT_PERIOD_MS;
        }
        if (m.containsKey("period-ms")) {
            if (max == 0) {
                throw fail(o, "period-ms: a period without max-bytes limits nothing (give max-bytes=N too)");
            }
            period = longNumber(o, "period-ms", m.get("period-ms"), 1, RngConfig.MAX_PERIOD_MS);
        }
        return new RngConfig(source, max, period);
    }

    /**
     * Validates the virtio console: port 0's host end ({@code --virtio-console}, null: none; {@code none} is none
     * too) and the named ports ({@code --console-port name=NAME,socket=PATH}: a name of 1 to 255 letters, digits and
     * {@code . _ - : +}, each name and socket once, at most 31 ports). Returns null when there is neither.
     */
    public static VirtioConsoleConfig virtioConsole(String origin, ConsoleSpec console, List<Spec> ports) {
        List<VirtioConsoleConfig.Port> out = new ArrayList<>();
        Map<String, Spec> names = new LinkedHashMap<>();
        Map<Path, Spec> sockets = new LinkedHashMap<>();
        if (console != null && console.kind() == ConsoleSpec.Kind.NONE) {
            console = null;
        }
        if (console != null && console.kind() == ConsoleSpec.Kind.SOCKET) {
            socketPath(origin, "socket", console.path());
        }
        for (Spec s : ports == null ? List.<Spec>of() : ports) {
            String o = s.origin();
            String name = s.values().get("name");
            String sock = s.values().get("socket");
            if (name == null || name.isEmpty()) {
                throw fail(o, "name=NAME is required (the name the guest sees, e.g. org.example.agent.0)");
            }
            if (name.length() > VirtioConsoleConfig.MAX_NAME || !name.matches("[A-Za-z0-9._:+-]+")) {
                throw fail(o, "name: \"" + name + "\" must be 1 to " + VirtioConsoleConfig.MAX_NAME + " letters, "
                        + "digits, '.', '_', '-', ':' or '+'");
            }
            if (sock == null || sock.isEmpty()) {
                throw fail(o, "socket=PATH is required (the unix socket jvmm listens on for this port)");
            }
            Path p;
            try {
                p = ConsoleSpec.path(sock);
            } catch (IllegalArgumentException e) {
                throw fail(o, "socket: " + e.getMessage());
            }
            socketPath(o, "socket", p);
            Spec other = names.putIfAbsent(name, s);
            if (other != null) {
                throw fail(o, "name: " + name + " is given to two ports");
            }
            Path key = p.toAbsolutePath().normalize();
            if (console != null && console.kind() == ConsoleSpec.Kind.SOCKET
                    && console.path().toAbsolutePath().normalize().equals(key)) {
                throw fail(o, "socket: " + p + " is also the virtio console's socket (" + origin + ")");
            }
            if ((other = sockets.putIfAbsent(key, s)) != null) {
                throw fail(o, "socket: " + p + " is given to two ports");
            }
            out.add(new VirtioConsoleConfig.Port(name, p));
        }
        if (out.size() > VirtioConsoleConfig.MAX_PORTS) {
            throw fail(ports.get(VirtioConsoleConfig.MAX_PORTS).origin(), "at most " + VirtioConsoleConfig.MAX_PORTS
                    + " named ports");
        }
        return console == null && out.isEmpty() ? null : new VirtioConsoleConfig(console, out);
    }

    /** A path a unix socket can be bound to: at most 107 bytes, in a directory that exists. */
    private static void socketPath(String o, String k, Path p) {
        int len = p.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (len > dev.jvmm.sys.UnixSocket.MAX_PATH_BYTES) {
            throw fail(o, k + ": " + p + " is " + len + " bytes long; a unix socket's path has at most "
                    + dev.jvmm.sys.UnixSocket.MAX_PATH_BYTES);
        }
        Path dir = p.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw fail(o, k + ": the directory " + dir + " does not exist");
        }
    }

    private static long longNumber(String o, String k, String v, long min, long max) {
        long n;
        try {
            if (!v.trim().matches("[0-9]{1,18}")) { // ASCII digits only (parseLong takes any script's)
                throw new NumberFormatException(v);
            }
            n = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw fail(o, k + ": \"" + v + "\" is not a number");
        }
        if (n < min || n > max) {
            throw fail(o, k + ": must be between " + min + " and " + max + ", got " + n);
        }
        return n;
    }

    private static VmmException fail(String origin, String msg) {
        return new VmmException(VmmException.Reason.CONFIG, origin + ": " + msg);
    }
}
