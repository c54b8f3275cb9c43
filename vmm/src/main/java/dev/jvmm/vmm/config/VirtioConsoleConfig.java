package dev.jvmm.vmm.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The configuration of a virtio-console device: {@code --virtio-console SPEC} makes port 0 a console (the guest's
 * {@code hvc0}) whose host end is {@code SPEC} ({@code stdio}, {@code file=PATH} or {@code socket=PATH}, as
 * {@code --console}'s), and each {@code --console-port name=NAME,socket=PATH} adds a named port on a unix socket
 * (VIRTIO_CONSOLE_F_MULTIPORT). The 16550 ({@code --console}) stays, independent of it. Config file:
 * {@code "virtio_console"} and {@code "console_ports"}.
 *
 * @param console port 0's host end, or null for none (then the device has only named ports)
 * @param ports   the named ports, ids 1 and up in this order
 */
public record VirtioConsoleConfig(ConsoleSpec console, List<Port> ports) {
    /** The keys {@code --console-port} accepts. */
    public static final List<String> PORT_KEYS = List.of("name", "socket");
    /** Named ports a device takes (port ids 1..31, QEMU's default of 31 ports per virtio-serial bus). */
    public static final int MAX_PORTS = 31;
    public static final int MAX_NAME = 255;

    /** A named port: the name the guest sees, and the unix socket jvmm listens on for it. */
    public record Port(String name, Path socket) {
        @Override
        public String toString() {
            return "name=" + name + ",socket=" + socket;
        }
    }

    public VirtioConsoleConfig {
        ports = ports == null ? List.of() : List.copyOf(ports);
        if (console == null && ports.isEmpty()) {
            throw new IllegalArgumentException("a virtio console needs a console port or a named port");
        }
    }
}
