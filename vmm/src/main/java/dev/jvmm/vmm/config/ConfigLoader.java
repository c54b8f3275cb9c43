package dev.jvmm.vmm.config;

import dev.jvmm.sys.Sizes;
import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Builds a {@link VmConfig} from a JSON config file and/or CLI values (CLI values win), and validates it. Every
 * error names its field: {@code --memory: "12Q" is not a size (use e.g. 512M or 2G)} or
 * {@code vm.json: field "cpus": must be between 1 and 255, got 0}.
 */
public final class ConfigLoader {
    /** The JSON fields; anything else is rejected (a typo must not be silently ignored). */
    public static final List<String> FIELDS = List.of("kernel", "initrd", "cmdline", "memory", "cpus", "console",
            "on_reboot", "disks", "nets", "devices", "nics", "migratable", "vsock", "balloon", "rng", "virtio_console",
            "console_ports");

    /** Raw values; null means "not given". Strings as the user typed them. */
    public static final class Raw {
        public String kernel;
        public String initrd;
        public String cmdline;
        public String memory;
        public String cpus;
        public String console;
        public String onReboot;
        /** virtio devices: {@code --disk}/{@code --net} values (they replace the file's arrays), see DeviceSpecs. */
        public List<DeviceSpecs.Spec> disks;
        public List<DeviceSpecs.Spec> nets;
        /** VFIO passthrough: {@code --device} values (they replace the file's {@code "devices"} array). */
        public List<DeviceSpecs.Spec> devices;
        /** Guest NICs: {@code --nic} values (they replace the file's {@code "nics"} array). */
        public List<DeviceSpecs.Spec> nics;
        /** {@code --vsock} or the file's {@code "vsock"} (an object {@code {"cid": 3}} or the CLI form). */
        public DeviceSpecs.Spec vsock;
        /** {@code --migratable} (only ever true: the flag cannot say no) or the file's {@code "migratable"}. */
        public Boolean migratable;
        /** {@code --balloon} or the file's {@code "balloon"} (the CLI's wins); null: no balloon. */
        public DeviceSpecs.Spec balloon;
        /** {@code --rng} (no keys for a bare {@code --rng}) or the file's {@code "rng"}; null: no virtio-rng. */
        public DeviceSpecs.Spec rng;
        /** {@code --virtio-console} or the file's {@code "virtio_console"}: port 0's host end, in ConsoleSpec form. */
        public String virtioConsole;
        /** {@code --console-port} values (they replace the file's {@code "console_ports"} array). */
        public List<DeviceSpecs.Spec> consolePorts;
        /** The config file read, absolute; part of the VM's identity for generated MACs. */
        public Path configFile;
        /** Where each value came from, for messages: "--memory" or "vm.json: field \"memory\"". */
        final java.util.Map<String, String> origin = new java.util.HashMap<>();
    }

    private ConfigLoader() {
    }

    /** Reads a config file into {@code raw} (fields already set in {@code raw} are kept: the CLI wins). */
    public static void readFile(Path file, Raw raw) {
        String where = file.getFileName().toString();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.CONFIG, "--config: cannot read " + file + ": " + e.getMessage(), e);
        }
        if (raw.configFile == null) {
            raw.configFile = file.toAbsolutePath().normalize();
        }
        readText(text, where, raw);
    }

    /**
     * Reads a config in the file's JSON form from {@code text} ({@code where} names it in errors: a file name, "the
     * migration stream"); fields already set in {@code raw} are kept.
     */
    public static void readText(String text, String where, Raw raw) {
        Object root;
        try {
            root = Json.parse(text);
        } catch (Json.ParseException e) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": not valid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> m)) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": the top level must be an object {...}");
        }
        Set<String> known = Set.copyOf(FIELDS);
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String k = (String) e.getKey();
            String origin = where + ": field \"" + k + "\"";
            if (!known.contains(k)) {
                throw new VmmException(VmmException.Reason.CONFIG, origin + ": unknown field (known: "
                        + String.join(", ", FIELDS) + ")");
            }
            Object v = e.getValue();
            if (k.equals("nics")) { // the CLI's list wins
                List<DeviceSpecs.Spec> specs = DeviceSpecs.nicsJson(origin, v);
                if (raw.nics == null) {
                    raw.nics = specs;
                }
                continue;
            }
            if (k.equals("migratable")) {
                if (!(v instanceof Boolean b)) {
                    throw new VmmException(VmmException.Reason.CONFIG, origin + ": must be true or false, got "
                            + (v == null ? "null" : v.getClass().getSimpleName().toLowerCase(Locale.ROOT)));
                }
                if (raw.migratable == null) {
                    raw.migratable = b;
                }
                continue;
            }
            if (k.equals("vsock")) { // the CLI's --vsock wins
                DeviceSpecs.Spec spec = DeviceSpecs.parseJson(origin, v, "cid", VsockConfig.KEYS);
                if (raw.vsock == null) {
                    raw.vsock = spec;
                }
                continue;
            }
            if (k.equals("balloon")) { // virtio-balloon; the CLI's wins
                DeviceSpecs.Spec spec = DeviceSpecs.balloonJson(origin, v);
                if (raw.balloon == null) {
                    raw.balloon = spec;
                }
                continue;
            }
            if (k.equals("rng")) { // an object or string of --rng's keys, or true; the CLI's wins
                DeviceSpecs.Spec spec = Boolean.TRUE.equals(v) ? new DeviceSpecs.Spec(origin, new java.util.LinkedHashMap<>())
                        : Boolean.FALSE.equals(v) ? null : DeviceSpecs.parseJson(origin, v, "source", RngConfig.KEYS);
                if (raw.rng == null) {
                    raw.rng = spec;
                }
                continue;
            }
            if (k.equals("console_ports")) { // the CLI's list wins
                List<DeviceSpecs.Spec> specs = DeviceSpecs.json(origin, v, "name", VirtioConsoleConfig.PORT_KEYS);
                if (raw.consolePorts == null) {
                    raw.consolePorts = specs;
                }
                continue;
            }
            if (k.equals("devices")) { // VFIO passthrough; the CLI's list wins
                List<DeviceSpecs.Spec> specs = DeviceSpecs.json(origin, v, "vfio", VfioConfig.KEYS);
                if (raw.devices == null) {
                    raw.devices = specs;
                }
                continue;
            }
            if (k.equals("disks") || k.equals("nets")) { // virtio devices (DeviceSpecs); the CLI's list wins
                List<DeviceSpecs.Spec> specs = k.equals("disks")
                        ? DeviceSpecs.json(origin, v, "path", DiskConfig.KEYS) : DeviceSpecs.json(origin, v, "tap", NetConfig.KEYS);
                if (k.equals("disks") && raw.disks == null) {
                    raw.disks = specs;
                } else if (k.equals("nets") && raw.nets == null) {
                    raw.nets = specs;
                }
                continue;
            }
            String sv;
            if (v instanceof String str) {
                sv = str;
            } else if (v instanceof Long l && (k.equals("cpus") || k.equals("memory"))) {
                sv = k.equals("memory") ? l + "M" : Long.toString(l);
            } else {
                throw new VmmException(VmmException.Reason.CONFIG, origin + ": must be a "
                        + (k.equals("cpus") ? "number" : k.equals("memory") ? "string like \"512M\" or a number of MiB" : "string")
                        + ", got " + (v == null ? "null" : v.getClass().getSimpleName().toLowerCase(Locale.ROOT)));
            }
            set(raw, k, sv, origin);
        }
    }

    private static void set(Raw raw, String k, String v, String origin) {
        switch (k) {
            case "kernel" -> { if (raw.kernel == null) { raw.kernel = v; raw.origin.put(k, origin); } }
            case "initrd" -> { if (raw.initrd == null) { raw.initrd = v; raw.origin.put(k, origin); } }
            case "cmdline" -> { if (raw.cmdline == null) { raw.cmdline = v; raw.origin.put(k, origin); } }
            case "memory" -> { if (raw.memory == null) { raw.memory = v; raw.origin.put(k, origin); } }
            case "cpus" -> { if (raw.cpus == null) { raw.cpus = v; raw.origin.put(k, origin); } }
            case "console" -> { if (raw.console == null) { raw.console = v; raw.origin.put(k, origin); } }
            case "on_reboot" -> { if (raw.onReboot == null) { raw.onReboot = v; raw.origin.put(k, origin); } }
            case "virtio_console" -> {
                if (raw.virtioConsole == null) {
                    raw.virtioConsole = v;
                    raw.origin.put(k, origin);
                }
            }
            default -> throw new IllegalStateException(k);
        }
    }

    /**
     * The config file (the form {@link #readFile} reads) of a VM that has {@code disks} and {@code nets} now, in
     * that order (a saved VM: hot-added devices included, removed ones gone, each NIC with the MAC it has). A NIC on
     * a bridge or a macvtap, and passed-through functions, have no place in this form and are refused (CONFLICT).
     */
    public static String write(VmConfig cfg, List<DiskConfig> disks, List<NetConfig> nets) {
        return write(cfg, disks, nets, cfg.extras());
    }

    /**
     * As {@link #write(VmConfig, List, List)}, with the other virtio devices the VM has now ({@code extras}: a device
     * removed through the API is left out).
     */
    public static String write(VmConfig cfg, List<DiskConfig> disks, List<NetConfig> nets, VirtioExtras extras) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("kernel", cfg.kernel().toAbsolutePath().toString());
        if (cfg.initrd() != null) {
            m.put("initrd", cfg.initrd().toAbsolutePath().toString());
        }
        m.put("cmdline", cfg.cmdline());
        m.put("memory", cfg.memory() >> 20);
        m.put("cpus", (long) cfg.cpus());
        m.put("console", cfg.console().toString());
        m.put("on_reboot", cfg.onReboot().name().toLowerCase(Locale.ROOT));
        List<Object> d = new java.util.ArrayList<>();
        for (DiskConfig x : disks) {
            Map<String, Object> e = new java.util.LinkedHashMap<>();
            e.put("path", x.path().toAbsolutePath().toString());
            e.put("readonly", x.readOnly());
            e.put("cache", x.cache().name().toLowerCase(Locale.ROOT));
            if (x.id() != null) {
                e.put("id", x.id());
            }
            e.put("queues", (long) x.queues());
            if (x.aio() != dev.jvmm.virtio.blk.AioMode.AUTO) {
                e.put("aio", x.aio().toString());
            }
            if (x.format() != null) {
                e.put("format", x.format());
            }
            d.add(e);
        }
        m.put("disks", d);
        List<Object> n = new java.util.ArrayList<>();
        List<Object> nics = new java.util.ArrayList<>();
        for (NetConfig x : nets) {
            String nicId = x.label() != null && x.label().startsWith("--nic ") ? x.label().substring(6) : null;
            if (nicId != null) {
                nics.add(nicOf(cfg, nicId, x));
                continue;
            }
            if (x.bridge() != null || x.macvtapOver() != null || x.standby() != null) {
                throw new VmmException(VmmException.Reason.CONFLICT, x.what() + ": a --net NIC on a bridge or a "
                        + "macvtap cannot be saved (a plain TAP, or any --nic, can)");
            }
            Map<String, Object> e = new java.util.LinkedHashMap<>();
            if (x.tap() != null) {
                e.put("tap", x.tap());
            }
            if (x.mac() != null) {
                e.put("mac", NetConfig.format(x.mac()));
            }
            e.put("queues", (long) x.queues());
            if (x.vhost() != NetConfig.Vhost.AUTO) {
                e.put("vhost", x.vhost().key());
            }
            n.add(e);
        }
        m.put("nets", n);
        if (!nics.isEmpty()) {
            m.put("nics", nics);
        }
        if (cfg.migratable()) {
            m.put("migratable", true);
        }
        if (extras.vsock() != null) {
            m.put("vsock", new java.util.LinkedHashMap<>(Map.of("cid", extras.vsock().cid())));
        }
        BalloonConfig b = extras.balloon();
        if (b != null) {
            Map<String, Object> e = new java.util.LinkedHashMap<>();
            e.put("size", (b.size() >> 10) + "K");
            e.put("free-page-reporting", b.freePageReporting());
            e.put("deflate-on-oom", b.deflateOnOom());
            e.put("stats", (long) b.statsSeconds());
            m.put("balloon", e);
        }
        if (extras.rng() != null) {
            RngConfig r = extras.rng();
            Map<String, Object> e = new java.util.LinkedHashMap<>();
            e.put("source", r.source().toAbsolutePath().toString());
            if (r.limited()) {
                e.put("max-bytes", r.maxBytes());
                e.put("period-ms", r.periodMs());
            }
            m.put("rng", e);
        }
        if (extras.console() != null) {
            VirtioConsoleConfig c = extras.console();
            if (c.console() != null) {
                m.put("virtio_console", absolute(c.console()).toString());
            }
            List<Object> ports = new java.util.ArrayList<>();
            for (VirtioConsoleConfig.Port p : c.ports()) {
                Map<String, Object> e = new java.util.LinkedHashMap<>();
                e.put("name", p.name());
                e.put("socket", p.socket().toAbsolutePath().toString());
                ports.add(e);
            }
            if (!ports.isEmpty()) {
                m.put("console_ports", ports);
            }
        }
        return Json.write(m) + "\n";
    }

    /**
     * The {@code "nics"} entry of a saved virtio-net that came from {@code --nic id}: virtio-net again on the same kind
     * of backend (TAP, bridge, or a macvtap on the PF), with the MAC it has; a failover standby stays one, with its
     * PF and VF settings, so that wherever it is restored the pool there gives it a primary.
     */
    private static Map<String, Object> nicOf(VmConfig cfg, String id, NetConfig x) {
        NicConfig orig = cfg.nics().stream().filter(c -> c.id().equals(id)).findFirst().orElse(null);
        Map<String, Object> e = new java.util.LinkedHashMap<>();
        e.put("id", id);
        String pf = x.macvtapOver();
        if (x.standby() != null) {
            e.put("failover", true);
            if (orig != null && orig.pf() != null) {
                pf = orig.pf();
            } else if (pf == null && orig != null && orig.vf() != null) {
                e.put("vf", orig.vf());
            }
            if (orig != null) {
                putIfSet(e, "vlan", orig.vlan() == null ? null : (long) orig.vlan());
                putIfSet(e, "qos", orig.qos() == null ? null : (long) orig.qos());
                putIfSet(e, "spoofchk", orig.spoofchk());
                putIfSet(e, "trust", orig.trust());
                putIfSet(e, "rate", orig.rate() == null ? null : (long) orig.rate());
            }
        } else {
            e.put("mode", "virtio");
        }
        putIfSet(e, "pf", pf);
        putIfSet(e, "tap", x.tap());
        putIfSet(e, "bridge", x.bridge());
        if (x.mac() != null) {
            e.put("mac", NetConfig.format(x.mac()));
        }
        e.put("queues", (long) x.queues());
        return e;
    }

    /** A console spec with its path made absolute (a restore may run in another directory). */
    private static ConsoleSpec absolute(ConsoleSpec c) {
        return c.path() == null ? c : new ConsoleSpec(c.kind(), c.path().toAbsolutePath());
    }

    private static void putIfSet(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }

    /** Records CLI values (call before {@link #readFile} so they win). */
    public static Raw fromCli(String kernel, String initrd, String cmdline, String memory, String cpus, String console,
            String onReboot) {
        Raw r = new Raw();
        String[][] kv = {{"kernel", kernel, "--kernel"}, {"initrd", initrd, "--initrd"}, {"cmdline", cmdline, "--cmdline"},
            {"memory", memory, "--memory"}, {"cpus", cpus, "--cpus"}, {"console", console, "--console"},
            {"on_reboot", onReboot, "--on-reboot"}};
        for (String[] e : kv) {
            if (e[1] != null) {
                set(r, e[0], e[1], e[2]);
            }
        }
        return r;
    }

    /** Validates and builds; {@code maxCpus} is the host's KVM_CAP_MAX_VCPUS (capped at 255: xAPIC ids). */
    public static VmConfig validate(Raw r, int maxCpus) {
        if (r.kernel == null) {
            throw fail("--kernel", "is required (a bzImage or a vmlinux with a PVH note)");
        }
        Path kernel = readableFile(r.kernel, origin(r, "kernel", "--kernel"));
        Path initrd = r.initrd == null ? null : readableFile(r.initrd, origin(r, "initrd", "--initrd"));
        String cmdline = r.cmdline == null ? VmConfig.DEFAULT_CMDLINE : r.cmdline;
        if (cmdline.indexOf('\0') >= 0 || cmdline.length() > 4095) {
            throw fail(origin(r, "cmdline", "--cmdline"), "must be at most 4095 characters without NUL bytes");
        }
        long memory = VmConfig.DEFAULT_MEMORY;
        if (r.memory != null) {
            String o = origin(r, "memory", "--memory");
            try {
                memory = Sizes.parse(r.memory, Sizes.MIB); // a bare number is MiB, as in QEMU's -m
            } catch (IllegalArgumentException e) {
                throw fail(o, e.getMessage());
            }
            if (memory < VmConfig.MIN_MEMORY || memory > VmConfig.MAX_MEMORY) {
                throw fail(o, "must be between " + Sizes.format(VmConfig.MIN_MEMORY) + " and "
                        + Sizes.format(VmConfig.MAX_MEMORY) + ", got " + r.memory);
            }
            if (memory % (2L << 20) != 0) {
                throw fail(o, "must be a multiple of 2M, got " + r.memory);
            }
        }
        int limit = Math.max(1, Math.min(255, maxCpus));
        int cpus = 1;
        if (r.cpus != null) {
            String o = origin(r, "cpus", "--cpus");
            try {
                cpus = Integer.parseInt(r.cpus.trim());
            } catch (NumberFormatException e) {
                throw fail(o, "\"" + r.cpus + "\" is not a number");
            }
            if (cpus < 1 || cpus > limit) {
                throw fail(o, "must be between 1 and " + limit + ", got " + cpus);
            }
        }
        ConsoleSpec console = ConsoleSpec.STDIO;
        if (r.console != null) {
            try {
                console = ConsoleSpec.parse(r.console);
            } catch (IllegalArgumentException e) {
                throw fail(origin(r, "console", "--console"), e.getMessage());
            }
        }
        VmConfig.OnReboot onReboot = VmConfig.OnReboot.EXIT;
        if (r.onReboot != null) {
            switch (r.onReboot.trim().toLowerCase(Locale.ROOT)) {
                case "exit" -> onReboot = VmConfig.OnReboot.EXIT;
                case "restart" -> onReboot = VmConfig.OnReboot.RESTART;
                default -> throw fail(origin(r, "on_reboot", "--on-reboot"), "\"" + r.onReboot
                        + "\" is not valid (use exit or restart)");
            }
        }
        List<DiskConfig> disks = r.disks == null ? List.of() : r.disks.stream().map(DeviceSpecs::disk).toList();
        boolean migratable = Boolean.TRUE.equals(r.migratable);
        VirtioExtras extras = VirtioExtras.NONE.withRng(r.rng == null ? null : DeviceSpecs.rng(r.rng))
                .withConsole(virtioConsole(r, console))
                .withBalloon(r.balloon == null ? null : DeviceSpecs.balloon(r.balloon, memory))
                .withVsock(r.vsock == null ? null : DeviceSpecs.vsock(r.vsock));
        return new VmConfig(kernel, initrd, cmdline, memory, cpus, console, onReboot, disks,
                r.nets == null ? null : r.nets.stream().map(DeviceSpecs::net).toList(),
                r.devices == null ? null : DeviceSpecs.vfio(r.devices),
                r.nics == null ? null : DeviceSpecs.nics(r.nics, migratable, identity(r, kernel, disks)), migratable,
                extras);
    }

    /**
     * The virtio console of {@code --virtio-console} and {@code --console-port} (null: none). Both consoles on stdio
     * is refused (as Cloud Hypervisor refuses a tty for both --serial and --console): they would share one terminal's
     * input. No socket may be the serial console's.
     */
    private static VirtioConsoleConfig virtioConsole(Raw r, ConsoleSpec serial) {
        String o = origin(r, "virtio_console", "--virtio-console");
        ConsoleSpec port0 = null;
        if (r.virtioConsole != null) {
            try {
                port0 = ConsoleSpec.parse(r.virtioConsole);
            } catch (IllegalArgumentException e) {
                throw fail(o, e.getMessage());
            }
            if (port0.kind() == ConsoleSpec.Kind.STDIO && serial.kind() == ConsoleSpec.Kind.STDIO) {
                throw fail(o, "stdio: the serial console (--console) is on stdio too (its default), and two consoles "
                        + "cannot share a terminal's input; move one of them: --console file=PATH, socket=PATH or none");
            }
            if (port0.path() != null && serial.path() != null
                    && port0.path().toAbsolutePath().normalize().equals(serial.path().toAbsolutePath().normalize())) {
                throw fail(o, port0.path() + " is also the serial console's (--console)");
            }
        }
        VirtioConsoleConfig c = DeviceSpecs.virtioConsole(o, port0, r.consolePorts);
        if (c != null && serial.kind() == ConsoleSpec.Kind.SOCKET) {
            for (VirtioConsoleConfig.Port p : c.ports()) {
                if (p.socket().toAbsolutePath().normalize().equals(serial.path().toAbsolutePath().normalize())) {
                    throw fail("--console-port " + p.name(), "socket: " + p.socket() + " is also the serial console's");
                }
            }
        }
        return c;
    }

    /**
     * What identifies a VM for its generated MACs ({@link NicConfig#generatedMac}): its config file when it has
     * one, else its kernel and disks (so two VMs booting one kernel from different disks get different MACs).
     */
    static String identity(Raw r, Path kernel, List<DiskConfig> disks) {
        if (r.configFile != null) {
            return "config " + r.configFile;
        }
        StringBuilder b = new StringBuilder("kernel ").append(kernel.toAbsolutePath().normalize());
        for (DiskConfig d : disks) {
            b.append("\ndisk ").append(d.path().toAbsolutePath().normalize());
        }
        return b.toString();
    }

    private static String origin(Raw r, String field, String dflt) {
        return r.origin.getOrDefault(field, dflt);
    }

    private static Path readableFile(String s, String origin) {
        Path p;
        try {
            p = Path.of(s);
        } catch (java.nio.file.InvalidPathException e) { // a NUL byte: no file has such a name
            throw fail(origin, "\"" + s.replace("\0", "\\0") + "\" is not a file name: " + e.getReason());
        }
        if (!Files.exists(p)) {
            throw fail(origin, s + ": no such file");
        }
        if (!Files.isRegularFile(p)) {
            throw fail(origin, s + ": not a regular file");
        }
        if (!Files.isReadable(p)) {
            throw fail(origin, s + ": not readable (permission denied)");
        }
        return p;
    }

    private static VmmException fail(String origin, String msg) {
        return new VmmException(VmmException.Reason.CONFIG, origin + ": " + msg);
    }
}
