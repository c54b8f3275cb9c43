package dev.jvmm.vmm.config;

/**
 * One {@code --net} (or one entry of the config file's {@code "nets"}): a virtio-net device on a TAP.
 *
 * @param tap    the TAP interface: an existing one is attached, a missing one is created (and deleted when jvmm
 *               exits); null: jvmm creates {@code jvmmtapN}
 * @param mac    the guest's MAC (6 bytes); null: {@code 52:54:00:12:34:56} plus the NIC's index
 * @param queues queue pairs (1..16); more than 1 makes a multiqueue TAP and offers VIRTIO_NET_F_MQ
 */
public record NetConfig(String tap, byte[] mac, int queues) {
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
