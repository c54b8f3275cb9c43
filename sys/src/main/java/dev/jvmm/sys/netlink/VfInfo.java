package dev.jvmm.sys.netlink;

/**
 * One VF as a PF reports it in {@code IFLA_VFINFO_LIST/IFLA_VF_INFO} of an {@code RTM_NEWLINK} reply
 * ({@code rtnl_fill_vfinfo}). Settings the driver does not report are null ({@code spoofchk}, {@code trust} and
 * {@code rssQueryEn} read back as 0xffffffff then; {@code linkState} and rates are absent on old kernels).
 *
 * @param vlanProto the ethertype of the VLAN tag ({@code 0x8100} 802.1Q, {@code 0x88a8} 802.1ad); 0x8100 when the
 *                  reply has no {@code IFLA_VF_VLAN_LIST}
 */
public record VfInfo(int vf, String mac, int vlan, int qos, int vlanProto, int minTxRate, int maxTxRate,
                     Boolean spoofchk, Boolean trust, Integer linkState, Boolean rssQueryEn) {
}
