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
 * @param standby     non-null: this NIC is the standby of a failover pair ({@code --nic ...,failover=on})
 * @param vhost       whether the kernel's vhost-net serves the rings ({@code vhost=on|off|auto})
 */
public record NetConfig(String tap, byte[] mac, int queues, String bridge, String macvtapOver, String label,
        Standby standby, Vhost vhost) {
    /**
     * {@code vhost=}: {@code auto} (the default) uses vhost-net when {@code /dev/vhost-net} opens and says why not
     * otherwise; {@code on} requires it (a launch fails naming why it cannot be opened); {@code off} keeps the data
     * plane in the VMM. Once opened, a vhost that cannot start for a driver falls back to the VMM's data plane with
     * a logged reason, whichever was asked (as QEMU does).
     */
    public enum Vhost {
        AUTO, ON, OFF;

        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public NetConfig {
        vhost = vhost == null ? Vhost.AUTO : vhost;
    }

    public NetConfig(String tap, byte[] mac, int queues, String bridge, String macvtapOver, String label,
            Standby standby) {
        this(tap, mac, queues, bridge, macvtapOver, label, standby, Vhost.AUTO);
    }

    /** This NIC with {@code vhost=} set to {@code v}. */
    public NetConfig withVhost(Vhost v) {
        return new NetConfig(tap, mac, queues, bridge, macvtapOver, label, standby, v);
    }
    public NetConfig(String tap, byte[] mac, int queues, String bridge, String macvtapOver, String label) {
        this(tap, mac, queues, bridge, macvtapOver, label, null);
    }

    /**
     * The failover pair a standby virtio-net belongs to: its NIC's id and its primary, the VF to hot-plug once the
     * guest's driver has negotiated VIRTIO_NET_F_STANDBY. The primary changes while the VM runs (removed through
     * the API: null; added back: the new VF), and the pair outlives a reboot of the VM, so it is a shared, mutable
     * holder rather than a value.
     */
    public static final class Standby {
        private final String nic;
        private volatile VfioConfig primary;

        public Standby(String nic, VfioConfig primary) {
            this.nic = nic;
            this.primary = primary;
        }

        public String nic() {
            return nic;
        }

        /** The VF that is the primary, or null while there is none (no free VF at launch, or it was removed). */
        public VfioConfig primary() {
            return primary;
        }

        public void setPrimary(VfioConfig vf) {
            this.primary = vf;
        }
    }

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

    public static final java.util.List<String> KEYS = java.util.List.of("tap", "mac", "queues", "vhost");
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
