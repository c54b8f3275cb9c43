#!/bin/sh
# Captures the netlink fixtures of this directory from the running kernel, with iproute2 as the independent
# client: every '>' line is a request iproute2 sent, every '<' line the kernel's reply (strace hex dumps).
# Needs root (creates and deletes a network namespace "jvmm-fx-$$" with a veth pair; the host's links are
# only read). Run from this directory:  sudo ./capture.sh
set -eu
ns=jvmm-fx-$$
cap() { # file description command...
    f=$1; d=$2; shift 2
    { echo "# $d"; echo "# captured on $(uname -r) with: $*"; strace -x -e trace=sendmsg,recvmsg,sendto,recvfrom -e write=all -e read=all "$@" 2>&1 >/dev/null | ./strace2fixture.py; } > "$f" || true
}
cap lo-getlink.nl "RTM_GETLINK reply for lo (host netns), RTEXT_FILTER_VF|SKIP_STATS" ip -d link show lo
ip netns add $ns
trap 'ip netns del $ns' EXIT
ip -n $ns link add d0 address 02:00:00:00:00:01 type veth peer name d1 address 02:00:00:00:00:02
cap veth-getlink.nl "RTM_GETLINK reply for a veth link d0 (no SR-IOV)" ip -n $ns -d link show d0
cap veth-vf-mac.nl "ip link set vf 0 mac on a veth: kernel answers EOPNOTSUPP" ip -n $ns link set dev d0 vf 0 mac 52:54:00:12:34:56
cap veth-vf-vlan.nl "ip link set vf 2 vlan 10 qos 3 (IFLA_VF_VLAN)" ip -n $ns link set dev d0 vf 2 vlan 10 qos 3
cap veth-vf-vlan-ad.nl "ip link set vf 1 vlan 100 qos 2 proto 802.1ad (IFLA_VF_VLAN_LIST)" ip -n $ns link set dev d0 vf 1 vlan 100 qos 2 proto 802.1ad
cap veth-vf-spoofchk.nl "ip link set vf 3 spoofchk on" ip -n $ns link set dev d0 vf 3 spoofchk on
cap veth-vf-trust.nl "ip link set vf 3 trust off" ip -n $ns link set dev d0 vf 3 trust off
cap veth-vf-state.nl "ip link set vf 4 state disable" ip -n $ns link set dev d0 vf 4 state disable
cap veth-vf-rate.nl "ip link set vf 5 min_tx_rate 10 max_tx_rate 100" ip -n $ns link set dev d0 vf 5 min_tx_rate 10 max_tx_rate 100
cap veth-mtu-extack.nl "ip link set mtu 10: EINVAL with an extended-ACK message" ip -n $ns link set dev d0 mtu 10
cap nodev-getlink.nl "RTM_GETLINK for a link that does not exist: ENODEV" ip -n $ns link show dev nosuchlink0
