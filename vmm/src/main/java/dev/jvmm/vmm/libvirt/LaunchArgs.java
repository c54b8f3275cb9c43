package dev.jvmm.vmm.libvirt;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A {@code jvmm launch} argument list: merged with the user's own options, printed, written as a config file. */
public final class LaunchArgs {
    /**
     * The repeatable device options: the user's add to the XML's. Every other option given on the command line
     * replaces the XML's.
     */
    public static final Set<String> EXTENDING = Set.of("--disk", "--net", "--nic", "--device",
            DomainXml.CONSOLE_PORT_OPTION);
    /** Options that choose what launch does rather than describe the VM: left out of the printed command line. */
    static final Set<String> MODE = Set.of("--dry-run", "--json");

    private LaunchArgs() {
    }

    /**
     * The XML's options with the user's: the user's are appended; an XML option that the user also gave is dropped,
     * unless it is one of {@link #EXTENDING}.
     */
    public static List<LaunchArg> merge(List<LaunchArg> xml, List<LaunchArg> user) {
        Set<String> given = new java.util.HashSet<>();
        user.forEach(a -> given.add(a.option()));
        List<LaunchArg> out = new ArrayList<>();
        for (LaunchArg a : xml) {
            if (EXTENDING.contains(a.option()) || !given.contains(a.option())) {
                out.add(a);
            }
        }
        out.addAll(user);
        return out;
    }

    /** The command line a user would type, for a shell: {@code jvmm launch --kernel /boot/vmlinuz ...}. */
    public static String commandLine(List<LaunchArg> args) {
        StringBuilder b = new StringBuilder("jvmm launch");
        for (LaunchArg a : args) {
            if (!MODE.contains(a.option())) {
                b.append(' ').append(a.shellForm());
            }
        }
        return b.toString();
    }

    /** The arguments as picocli reads them. */
    public static String[] parseForm(List<LaunchArg> args) {
        return args.stream().map(LaunchArg::parseForm).toArray(String[]::new);
    }

    /** The arguments one by one, as a program would pass them ({@code ["--kernel", "/boot/vmlinuz", ...]}). */
    static List<String> argv(List<LaunchArg> args) {
        List<String> out = new ArrayList<>(List.of("jvmm", "launch"));
        for (LaunchArg a : args) {
            if (!MODE.contains(a.option())) {
                out.add(a.option());
                if (a.value() != null) {
                    out.add(a.value());
                }
            }
        }
        return out;
    }

    /** Config file fields (docs/launch.md, "Config file") by option; the repeatable ones are arrays. */
    private static final Map<String, String> FIELDS = Map.ofEntries(Map.entry("--kernel", "kernel"),
            Map.entry("--initrd", "initrd"), Map.entry("--cmdline", "cmdline"), Map.entry("--memory", "memory"),
            Map.entry("--cpus", "cpus"), Map.entry("--console", "console"), Map.entry("--on-reboot", "on_reboot"),
            Map.entry("--disk", "disks"), Map.entry("--net", "nets"), Map.entry("--nic", "nics"),
            Map.entry("--device", "devices"), Map.entry("--vsock", "vsock"), Map.entry("--balloon", "balloon"),
            Map.entry("--migratable", "migratable"), Map.entry("--rng", "rng"),
            Map.entry(DomainXml.CONSOLE_PORT_OPTION, "console_ports"),
            Map.entry(DomainXml.VIRTIO_CONSOLE_OPTION, "virtio_console"));

    /**
     * The same VM in the config file's form ({@code jvmm launch --config}): each device in its option's string form.
     * Options that are no part of a VM's config (--api-socket, --stats, ...) are left out.
     */
    public static Map<String, Object> config(List<LaunchArg> args) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (LaunchArg a : args) {
            String f = FIELDS.get(a.option());
            if (f == null) {
                continue;
            }
            if (EXTENDING.contains(a.option())) {
                @SuppressWarnings("unchecked")
                List<Object> l = (List<Object>) m.computeIfAbsent(f, k -> new ArrayList<>());
                l.add(a.value());
            } else if (a.option().equals("--cpus") && a.value().matches("[0-9]{1,9}")) {
                m.put(f, Long.parseLong(a.value()));
            } else if (a.value() == null || (a.option().equals("--balloon") && a.value().isEmpty())) {
                m.put(f, Boolean.TRUE);
            } else {
                m.put(f, a.value());
            }
        }
        return m;
    }

    /** {@code s} as one shell word: as is when it is plain, else in single quotes. */
    static String quote(String s) {
        if (!s.isEmpty() && s.chars().allMatch(c -> Character.isLetterOrDigit(c) && c < 0x80 || "_./:=,@%+-".indexOf(c) >= 0)) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
