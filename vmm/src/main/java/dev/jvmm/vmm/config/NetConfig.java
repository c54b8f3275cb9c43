package dev.jvmm.vmm.config;

/**
 * One {@code --net} (or one entry of the config file's {@code "nets"}, or a {@code --nic} that became virtio-net):
 * a virtio-net device on a TAP, a TAP in a bridge, or a macvtap.
 *
 * @param tap         the TAP interface: an existing one is attached, a missing one is created (and deleted when
 *                    jvmm exits); null: jvmm creates {@code jvmmtapN}
 * @param mac         the guest's MAC (6 bytes); null: {@code 52:54:00:12:34:56} plus the NIC's index
 * @param queues      queue pairs (1..16); more than 1 makes a multiqueue TAP and offers VIRTIO_NET_F_MQ
 * @param bridge      null, or a bridge the TAP is put into (the TAP is taken out, or deleted, when jvmm exits)
 * @param macvtapOver null, or the link a macvtap is made on (bridge mode, the guest's MAC; deleted when jvmm
 *                    exits) instead of a TAP: the guest is then on that link's network
 * @param label       how errors name the NIC ({@code --nic eth1}); null: by its {@code --net} option
 */
public record NetConfig(String tap, byte[] mac, int queues, String bridge, String macvtapOver, String label) {
    public NetConfig(String tap, byte[] mac, int queues) {
        this(tap, mac, queues, null, null, null);
    }

    public NetConfig(String tap, byte[] mac, int queues, String bridge, String macvtapOver) {
        this(tap, mac, queues, bridge, macvtapOver, null);
    }

    /** How errors name this NIC: its label ({@code --nic eth1}), else the {@code --net} option it came from. */
    public String what() {
        return label != null ? label : "--net " + (tap == null ? "" : "tap=" + tap);
    }

    public static final java.util.List<String> KEYS = java.util.List.of("tap", "mac", "queues");
    public static final int MAX_QUEUES = 16;

    /** The MAC jvmm uses for NIC {@code index} when none is given. */
    public static byte[] defaultMac(int index) {
        return new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, (byte) (0x56 + index)};
    }

    public static String format(byte[] mac) {
        StringBuilder b = new StringBuilder();
        for (byte x : mac) {
            if (b.length() > 0) {
                b.append(':');
            }
            b.append(String.format("%02x", x & 0xff));
        }
        return b.toString();
    }
}
