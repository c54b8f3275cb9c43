package dev.jvmm.sys.pci;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which processes hold VFIO nodes open, from the {@code /proc/PID/fd} links: {@code /dev/vfio/N} (a group, the
 * type1 interface) or {@code /dev/vfio/devices/vfioX} (one device, the iommufd interface). While a process holds
 * one, vfio-pci cannot let go of the device: an unbind waits in the kernel until the process closes it.
 *
 * @param byNode     the holders of each node, by node path ({@code /dev/vfio/14})
 * @param unreadable processes whose fd table could not be read (another user's, without root); a node they hold
 *                   is not seen
 */
public record VfioUsers(Map<String, List<User>> byNode, int unreadable) {
    /** One process holding a node: its pid and {@code comm}. */
    public record User(int pid, String comm) {
        @Override
        public String toString() {
            return "pid " + pid + " (" + comm + ")";
        }

        /** {@code [{"pid": 5120, "comm": "qemu-system-x86"}, ...]}, as the JSON reports show holders. */
        public static List<Object> toJson(List<User> users) {
            List<Object> out = new ArrayList<>();
            for (User u : users) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("pid", u.pid());
                m.put("comm", u.comm());
                out.add(m);
            }
            return out;
        }
    }

    public VfioUsers {
        byNode = Map.copyOf(byNode);
    }

    /** The processes holding {@code node} ({@code /dev/vfio/14}), by pid; empty when none is seen. */
    public List<User> of(String node) {
        return byNode.getOrDefault(node, List.of());
    }

    /**
     * The processes holding PCI function {@code a} through VFIO: its IOMMU group's node ({@code /dev/vfio/N}) or
     * one of its VFIO cdevs ({@code /dev/vfio/devices/vfioX}), each process once.
     */
    public List<User> of(PciDevices pci, PciAddress a) {
        List<User> out = new ArrayList<>();
        Integer group = pci.iommuGroup(a);
        if (group != null) {
            out.addAll(of(groupNode(group)));
        }
        for (String cdev : pci.vfioCdevs(a)) {
            for (User u : of("/dev/vfio/devices/" + cdev)) {
                if (!out.contains(u)) {
                    out.add(u);
                }
            }
        }
        return out;
    }

    /** The group node of IOMMU group {@code group}. */
    public static String groupNode(int group) {
        return "/dev/vfio/" + group;
    }

    /** Reads every {@code proc/PID/fd} under {@code proc} ({@code /proc} on the running host). */
    public static VfioUsers scan(Path proc) {
        Map<String, List<User>> by = new TreeMap<>();
        int unreadable = 0;
        List<Integer> pids = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(proc)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (!n.isEmpty() && n.chars().allMatch(Character::isDigit)) {
                    pids.add(Integer.valueOf(n));
                }
            }
        } catch (IOException e) {
            throw new PciException(PciException.Reason.SYSFS, "cannot list " + proc + ": " + e.getMessage(), e);
        }
        pids.sort(null);
        for (int pid : pids) {
            Path fds = proc.resolve(Integer.toString(pid)).resolve("fd");
            List<String> nodes = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(fds)) {
                for (Path fd : ds) {
                    String t = target(fd);
                    if (t != null && t.startsWith("/dev/vfio/") && !nodes.contains(t)) {
                        nodes.add(t);
                    }
                }
            } catch (java.nio.file.NoSuchFileException e) {
                continue; // the process exited meanwhile
            } catch (IOException | SecurityException e) {
                unreadable++;
                continue;
            }
            if (nodes.isEmpty()) {
                continue;
            }
            User u = new User(pid, comm(proc.resolve(Integer.toString(pid)).resolve("comm")));
            for (String node : nodes) {
                by.computeIfAbsent(node, k -> new ArrayList<>()).add(u);
            }
        }
        by.replaceAll((k, v) -> List.copyOf(v));
        return new VfioUsers(by, unreadable);
    }

    private static String target(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return null; // closed meanwhile, or not a link
        }
    }

    private static String comm(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return "?";
        }
    }
}
