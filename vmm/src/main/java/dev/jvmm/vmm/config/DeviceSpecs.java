package dev.jvmm.vmm.config;

import dev.jvmm.vmm.VmmException;
import dev.jvmm.virtio.blk.CacheMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Parses {@code --disk path=...,readonly=on,cache=...,id=...,queues=N} and {@code --net tap=...,mac=...,queues=N}
 * (and the same keys as JSON objects in the config file's {@code "disks"} / {@code "nets"} arrays) into
 * {@link DiskConfig} / {@link NetConfig}. Every error names where it came from and the offending key:
 * {@code --disk: unknown key "cahce" (expected path, readonly, cache, id, queues)}.
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
        Path p = Path.of(path);
        if (!Files.exists(p)) {
            throw fail(o, "path: " + path + ": no such file");
        }
        if (Files.isDirectory(p)) {
            throw fail(o, "path: " + path + ": is a directory (expected a raw image file or a block device)");
        }
        if (!Files.isReadable(p) || (!ro && !Files.isWritable(p))) {
            throw fail(o, "path: " + path + ": permission denied" + (ro ? "" : " (for read-only use add readonly=on)"));
        }
        return new DiskConfig(p, ro, cache, id, queues);
    }

    public static NetConfig net(Spec s) {
        String o = s.origin();
        Map<String, String> m = s.values();
        String tap = m.get("tap");
        if (tap != null) {
            if (tap.isEmpty() || tap.length() > 15 || tap.contains("/") || tap.contains(" ") || tap.equals(".")
                    || tap.equals("..")) {
                throw fail(o, "tap: \"" + tap + "\" is not an interface name (1 to 15 characters, no '/' or spaces)");
            }
        }
        byte[] mac = null;
        if (m.containsKey("mac")) {
            mac = mac(o, m.get("mac"));
        }
        int queues = m.containsKey("queues") ? number(o, "queues", m.get("queues"), 1, NetConfig.MAX_QUEUES) : 1;
        return new NetConfig(tap, mac, queues);
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

    /** Records {@code --device} values in {@code raw} (given options replace the config file's array). */
    public static void devicesFromCli(ConfigLoader.Raw raw, List<String> devices) {
        if (devices != null && !devices.isEmpty()) {
            raw.devices = cli("--device", devices, "vfio", VfioConfig.KEYS);
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
            String bdf;
            try {
                bdf = dev.jvmm.sys.pci.PciAddress.parse(v).toString();
            } catch (dev.jvmm.sys.pci.PciException e) {
                throw fail(s.origin(), "vfio: " + e.getMessage());
            }
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
        List<Spec> out = new ArrayList<>();
        if (values != null) {
            for (String v : values) {
                out.add(parseCli(option, v, bareKey, keys));
            }
        }
        return out;
    }

    /** Reads a config file's {@code "disks"} or {@code "nets"} array. */
    public static List<Spec> json(String origin, Object value, String bareKey, List<String> keys) {
        if (!(value instanceof List<?> l)) {
            throw fail(origin, "must be an array [...]");
        }
        List<Spec> out = new ArrayList<>();
        for (int i = 0; i < l.size(); i++) {
            out.add(parseJson(origin + "[" + i + "]", l.get(i), bareKey, keys));
        }
        return out;
    }

    private static VmmException fail(String origin, String msg) {
        return new VmmException(VmmException.Reason.CONFIG, origin + ": " + msg);
    }
}
