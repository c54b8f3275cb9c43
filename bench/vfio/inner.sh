#!/usr/bin/env bash
# Passthrough benchmark, run INSIDE the lab's L1 (a working /dev/kvm, intel-iommu, the igb SR-IOV PF and the
# e1000e on one QEMU-internal wire): the same guest (the kit's kernel and initramfs, 1 vCPU, 512 MiB) gets
#   jvmm-vf      an igb VF passed through by jvmm        (--device vfio=VF)
#   qemu-vf      the same VF passed through by QEMU      (-M q35 -enable-kvm -cpu host -device vfio-pci,host=VF)
#   jvmm-e1000e  the e1000e passed through whole by jvmm
#   qemu-e1000e  the same e1000e passed through by QEMU
#   jvmm-virtio  jvmm's virtio-net on a TAP in L1 (for scale: the emulated path on the same guest)
# and, in the guest: 20 pings to L1's address (every 0.2 s; the average RTT), then 64 MiB over TCP to L1 with
# tcpxfer (MB/s). Around the transfer the guest prints markers and this script reads the VM's KVM exit counters
# (debugfs /sys/kernel/debug/kvm/<pid>-<fd>/: exits, io_exits, mmio_exits), the same for every VMM: the exits
# during the transfer, and per MiB sent. Every variant runs ROUNDS times; odd rounds in VMMS order, even reversed.
#   inner.sh KERNEL INITRD [ROUNDS=1]
# VMMS (env, default "jvmm-vf qemu-vf jvmm-e1000e qemu-e1000e jvmm-virtio").
# Prints one line per figure and run ("<variant> r<round> <figure> <value>"), then medians per variant.
set -euo pipefail
K=$1; INITRD=$2; ROUNDS=${3:-1}
VMMS=${VMMS:-jvmm-vf qemu-vf jvmm-e1000e qemu-e1000e jvmm-virtio}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PF=/sys/bus/pci/devices/0000:01:00.0
E1000E=0000:03:00.0
VF_MAC=52:54:00:00:00:51
E1000E_MAC=52:54:00:00:e1:0e
TAP_MAC=52:54:00:88:00:02
W=${JVMM_LAB_SCRATCH:-/var/tmp}/vfio-bench; rm -rf "$W"; mkdir -p "$W/fs"; cd "$W"
P=$(ls $PF/net)
rebind() { # BDF DRIVER ("" = the host driver, by probing with no override)
  echo "$2" > /sys/bus/pci/devices/$1/driver_override
  [ -e /sys/bus/pci/devices/$1/driver ] && echo $1 > /sys/bus/pci/devices/$1/driver/unbind
  echo $1 > /sys/bus/pci/drivers_probe
}
cleanup() {
  [ -n "${RECV:-}" ] && kill "$RECV" 2>/dev/null || true
  ip link del jb0 2>/dev/null || true
  ip addr del 10.99.0.1/24 dev $P 2>/dev/null || true
  [ -n "${VF:-}" ] && rebind $VF "" 2>/dev/null || true
  echo 0 > $PF/sriov_numvfs 2>/dev/null || true; echo 1 > $PF/sriov_drivers_autoprobe 2>/dev/null || true
  rebind $E1000E "" 2>/dev/null || true
  cd /; rm -rf "$W"
}
trap cleanup EXIT
modprobe vfio-pci 2>/dev/null || true  # loaded by L1's init; the chroot has the host's /lib/modules
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
gcc -O2 -static -o fs/tcpxfer "$ROOT/lab/src/main/resources/dev/jvmm/lab/tcpxfer.c"
cp fs/tcpxfer .
cat > fs/guest.sh <<'G'
for i in $(seq 50); do for n in /sys/class/net/*; do [ "$(cat $n/address)" = "$B_MAC" ] && N=$(basename $n); done; [ -n "$N" ] && break; sleep 0.1; done
ip link set dev $N up; ip addr add $B_IP/24 dev $N
for i in $(seq 100); do [ "$(cat /sys/class/net/$N/carrier 2>/dev/null)" = 1 ] && break; sleep 0.1; done
ping -c 2 -W 10 $B_PEER >/dev/null
echo "B-RESULT ping $(ping -c 20 -i 0.2 -W 5 $B_PEER | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1 ms|p')"
dd if=/dev/urandom of=/tmp/blob bs=1M count=64 2>/dev/null
echo B-XFER-START; sleep 1
echo "B-RESULT tx $(/mnt/tcpxfer send $B_PEER 5001 /tmp/blob 2>&1)"
echo B-XFER-END; sleep 1
G
truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img
# the wire: L1's address on the igb PF (the VF and the e1000e reach it), a TAP with its own subnet for virtio
ip link set dev $P up; ip addr add 10.99.0.1/24 dev $P
for i in $(seq 100); do [ "$(cat /sys/class/net/$P/carrier 2>/dev/null)" = 1 ] && break; sleep 0.2; done
ip tuntap add dev jb0 mode tap && ip addr add 10.88.0.1/24 dev jb0 && ip link set jb0 up
echo 0 > $PF/sriov_drivers_autoprobe; echo 1 > $PF/sriov_numvfs
VF=$(basename $(readlink -f $PF/virtfn0))
ip link set dev $P vf 0 mac $VF_MAC
rebind $VF vfio-pci; rebind $E1000E vfio-pci

exits() { # PID: "exits io_exits mmio_exits" of that process's VM; KVM names the directory after the thread that
  # created the VM (for jvmm a JVM thread, not the process), so any thread of the process matches
  local d t
  for d in /sys/kernel/debug/kvm/*-*; do
    t=${d##*/}; t=${t%%-*}
    [ -d /proc/$1/task/$t ] && { echo "$(cat $d/exits) $(cat $d/io_exits) $(cat $d/mmio_exits)"; return; }
  done
}
run() { # name round mac ip peer command...
  local name=$1 round=$2 mac=$3 ip=$4 peer=$5; shift 5
  local script cmdline
  script=$(printf '%s' "B_MAC=$mac B_IP=$ip B_PEER=$peer; mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && . /tmp/guest.sh" | base64 -w0)
  cmdline="console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$script"
  ./tcpxfer recv 5001 /dev/null 2>"$W/$name.l1rx" & RECV=$!
  local args=() a
  for a in "$@"; do args+=("${a//@CMDLINE@/$cmdline}"); done
  ( exec "${args[@]}" > "$W/$name.out" 2>&1 ) &
  local vm=$! e0="" e1=""
  while kill -0 $vm 2>/dev/null; do
    if [ -z "$e0" ] && grep -q B-XFER-START "$W/$name.out"; then e0=$(exits $vm); e0=${e0:-none}; fi
    if [ -z "$e1" ] && grep -q B-XFER-END "$W/$name.out"; then e1=$(exits $vm); e1=${e1:-none}; fi
    sleep 0.1
  done
  wait $vm || true
  wait $RECV || true; RECV=
  grep B-RESULT "$W/$name.out" | tr -d '\r' | sed "s/^.*B-RESULT/$name r$round/" | tee -a "$W/results"
  if [ -n "$e0" ] && [ -n "$e1" ] && [ "$e0" != none ] && [ "$e1" != none ]; then
    set -- $e0 $e1
    echo "$name r$round exits $(($4 - $1)) io $(($5 - $2)) mmio $(($6 - $3)) (during the 64 MiB transfer)" | tee -a "$W/results"
  else
    echo "$name r$round: no exit counters (markers or debugfs missing)"; tail -20 "$W/$name.out"
  fi
}
JVMM=("$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --cmdline @CMDLINE@ --disk "path=$W/tools.img")
QEMU=(qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -nodefaults -serial stdio
  -kernel "$K" -initrd "$INITRD" -append @CMDLINE@ -drive file="$W/tools.img",if=none,id=d0,format=raw
  -device virtio-blk-pci,drive=d0)
vm() { # variant round
  case $1 in
    jvmm-vf) run "$1" "$2" $VF_MAC 10.99.0.2 10.99.0.1 "${JVMM[@]}" --device vfio=$VF ;;
    qemu-vf) run "$1" "$2" $VF_MAC 10.99.0.2 10.99.0.1 "${QEMU[@]}" -device vfio-pci,host=$VF ;;
    jvmm-e1000e) run "$1" "$2" $E1000E_MAC 10.99.0.3 10.99.0.1 "${JVMM[@]}" --device vfio=$E1000E ;;
    qemu-e1000e) run "$1" "$2" $E1000E_MAC 10.99.0.3 10.99.0.1 "${QEMU[@]}" -device vfio-pci,host=$E1000E ;;
    jvmm-virtio) run "$1" "$2" $TAP_MAC 10.88.0.2 10.88.0.1 "${JVMM[@]}" --net "tap=jb0,mac=$TAP_MAC" ;;
    *) echo "inner.sh: unknown variant $1" >&2; exit 2 ;;
  esac
}
: > "$W/results"
echo "bench: $(date -u +%FT%TZ) L1 $(uname -r), $(qemu-system-x86_64 --version | head -1)"
for r in $(seq 1 "$ROUNDS"); do
  order=$VMMS
  [ $((r % 2)) = 0 ] && order=$(echo $VMMS | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $order; do vm "$v" "$r"; done
done
echo "== medians over $ROUNDS round(s): TCP guest -> L1 (MB/s), ping RTT (ms), KVM exits during the transfer"
awk '$3=="tx" { for (i=1;i<=NF;i++) if ($i=="MB/s)") { v=$(i-1); gsub(/[^0-9.]/,"",v); print $1, "tx_MBps", v } }
     $3=="ping" { print $1, "ping_ms", $4 }
     $3=="exits" { print $1, "exits", $4; print $1, "io_exits", $6; print $1, "mmio_exits", $8 }' "$W/results" |
  sort -k1,1 -k2,2 -k3,3g |
  awk '{ k=$1" "$2; n[k]++; a[k, n[k]]=$3 } END { for (k in n) { c=n[k]; m=(c%2) ? a[k,(c+1)/2] : (a[k,c/2]+a[k,c/2+1])/2;
       printf "%s %s\n", k, m } }' | sort
