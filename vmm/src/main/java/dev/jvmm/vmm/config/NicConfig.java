package dev.jvmm.vmm.config;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * One {@code --nic} (or one entry of the config file's {@code "nics"}): a guest NIC that is an SR-IOV VF passed
 * through, a virtio-net device, or whichever of the two the host allows ({@code mode=auto}). Which one it becomes,
 * and why, is {@link dev.jvmm.vmm.nic.NicPlanner}'s decision; this is only what was asked, validated
 * ({@link DeviceSpecs#nics}).
 *
 * @param id       the NIC's name in messages and in the plan ({@code eth0}, {@code eth1}, ... by position unless
 *                 {@code id=} is given)
 * @param mode     passthrough, virtio or auto
 * @param pf       the SR-IOV PF (or, for virtio, the device a macvtap sits on) as given: a network interface name
 *                 or a canonical PCI address; null when not given
 * @param vf       one particular VF, as a canonical PCI address ({@code 0000:01:10.2}); null: any free VF of
 *                 {@code pf}
 * @param mac      the guest's MAC, canonical ({@code 52:54:00:12:34:56}); when not given, a locally administered
 *                 address stable per VM and NIC ({@link #generatedMac})
 * @param vlan     802.1Q VLAN id 0..4095 (0: untagged), or null
 * @param qos      802.1p priority 0..7 for {@code vlan}, or null
 * @param spoofchk a VF's MAC anti-spoofing check, or null (leave the PF driver's default)
 * @param trust    a VF's trusted mode (may change its MAC, enter promiscuous mode), or null
 * @param rate     maximum transmit rate in Mbit/s (0: no limit), or null
 * @param tap      virtio-net on this TAP (existing or created), or null
 * @param macvtap  virtio-net on a macvtap over {@code pf} (or over the PF of {@code vf})
 * @param bridge   virtio-net on a TAP jvmm creates and adds to this bridge, or null
 * @param queues   virtio-net queue pairs, 1..{@link NetConfig#MAX_QUEUES}, or null (1)
 * @param failover a virtio-net failover pair (QEMU's {@code failover=on}): a standby virtio-net offering
 *                 VIRTIO_NET_F_STANDBY and, as its primary, a VF of {@code pf} (or {@code vf}) with the same MAC,
 *                 hot-plugged once the guest's driver has negotiated STANDBY
 */
public record NicConfig(String id, Mode mode, String pf, String vf, String mac, Integer vlan, Integer qos,
        Boolean spoofchk, Boolean trust, Integer rate, String tap, boolean macvtap, String bridge, Integer queues,
        boolean failover) {

    /** The keys of a {@code --nic} value, in the order error messages list them; a bare first word is the pf. */
    public static final List<String> KEYS = List.of("id", "mode", "pf", "vf", "mac", "vlan", "qos", "spoofchk",
            "trust", "rate", "tap", "macvtap", "bridge", "queues", "failover");
    /** Highest {@code rate=}: 1 Tbit/s. */
    public static final int MAX_RATE = 1_000_000;

    /** What the NIC may become. */
    public enum Mode {
        /** A VF when the host can pass one through and the VM is not migratable; virtio-net otherwise. */
        AUTO,
        /** A VF, or an error saying why not. */
        PASSTHROUGH,
        /** virtio-net. */
        VIRTIO;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public NicConfig(String id, Mode mode, String pf, String vf, String mac, Integer vlan, Integer qos,
            Boolean spoofchk, Boolean trust, Integer rate, String tap, boolean macvtap, String bridge, Integer queues) {
        this(id, mode, pf, vf, mac, vlan, qos, spoofchk, trust, rate, tap, macvtap, bridge, queues, false);
    }

    /** The id a NIC without {@code id=} gets: {@code eth} and its position among the NICs, from 0. */
    public static String defaultId(int position) {
        return "eth" + position;
    }

    /** virtio-net queue pairs: {@code queues} or 1. */
    public int queuePairs() {
        return queues == null ? 1 : queues;
    }

    /**
     * The MAC of a NIC without {@code mac=}: 6 bytes of SHA-256 over the VM's identity and the NIC's id, with the
     * locally-administered bit set and the multicast bit clear (IEEE 802 §8.2.2). The same VM and NIC get the same
     * address at every launch (a DHCP lease or a switch's table stays valid); different VMs differ.
     *
     * @param vm what identifies the VM (see {@link ConfigLoader#validate}: its config file, or its kernel and disks)
     */
    public static String generatedMac(String vm, String id) {
        byte[] h;
        try {
            h = MessageDigest.getInstance("SHA-256").digest((vm + "\n" + id).getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is in every JRE", e);
        }
        byte[] mac = java.util.Arrays.copyOf(h, 6);
        mac[0] = (byte) ((mac[0] & 0xfc) | 0x02);
        return NetConfig.format(mac);
    }
}
