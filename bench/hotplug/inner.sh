#!/usr/bin/env bash
# Hotplug and failover benchmark, run INSIDE the lab's L1 (nested KVM, intel-iommu, the igb SR-IOV PF and the
# e1000e on one QEMU-internal wire). The same guest (the kit's kernel and initramfs, 1 vCPU, 512 MiB) under
#   jvmm     jvmm launch --api-socket: vm.add-disk / vm.add-net / vm.add-device and vm.remove-device (ACPI hotplug)
#   qemu     qemu-system-x86_64 -M pc (ACPI hotplug on bus 0, the same mechanism), QMP device_add / device_del,
#            its backends created once at launch (-blockdev, -netdev tap,vhost=on), which is QEMU's fastest case
# hot-adds and removes, ROUNDS times each, a virtio-blk disk, a virtio-net NIC and an igb VF. The guest waits for
# each device and prints a marker as soon as it is usable (the disk's first block read; the NIC with carrier; the VF
# with carrier); bench/hotplug/call.py sends each request and watches the console, with one clock:
#   add_<kind>_ms     request sent -> the guest's marker
#   remove_<kind>_ms  request sent -> the device freed on the host (jvmm: the answer, which comes after the eject
#                     and the freeing; QEMU: its DEVICE_DELETED event)
# Failover (virtio-net standby + the VF as primary, same MAC, both from the igb PF):
#   fo-jvmm  jvmm --nic id=eth0,pf=PF,failover=on; the VF removed with vm.remove-device, added back with vm.add-nic
#   fo-qemu  QEMU -M q35, virtio-net-pci failover=on on a macvtap over the PF + vfio-pci failover_pair_id on a
#            pcie-root-port (as docs/system/virtio-net-failover.rst sets it up); device_del / device_add
# with UDP sequence streams both ways (one datagram every 2 ms) across both events: lost datagrams and the longest
# gap per direction.
#   inner.sh KERNEL INITRD [ROUNDS=5]
set -euo pipefail
K=$1; INITRD=$2; ROUNDS=${3:-5}
VMMS=${VMMS:-jvmm qemu fo-jvmm fo-qemu}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CALL="python3 $ROOT/bench/hotplug/call.py"
PFBDF=0000:01:00.0; PF=/sys/bus/pci/devices/$PFBDF
E1000E=0000:03:00.0
NET_MAC=52:54:00:00:b0:02; VF_MAC=52:54:00:00:b0:03; FO_MAC=52:54:00:00:b0:05
W=${JVMM_LAB_SCRATCH:-/var/tmp}/hotplug-bench; rm -rf "$W"; mkdir -p "$W/fs" "$W/hot"; cd "$W"
P=$(ls $PF/net); EN=$(ls /sys/bus/pci/devices/$E1000E/net)
rebind() { # BDF DRIVER ("" = none: unbound, override cleared)
  echo "$2" > /sys/bus/pci/devices/$1/driver_override
  [ -e /sys/bus/pci/devices/$1/driver ] && echo $1 > /sys/bus/pci/devices/$1/driver/unbind
  [ -n "$2" ] && echo $1 > /sys/bus/pci/drivers_probe
  true
}
cleanup() {
  local rc=$?
  set +e
  if [ $rc != 0 ]; then for f in "$W"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -25 "$f"; }; done; fi
  [ -n "${VMPID:-}" ] && kill $VMPID 2>/dev/null
  ip link del qmvt0 2>/dev/null; ip addr del 10.99.0.1/24 dev $EN 2>/dev/null
  [ -n "${VF:-}" ] && rebind $VF ""
  echo 0 > $PF/sriov_numvfs; echo 1 > $PF/sriov_drivers_autoprobe; rm -rf /run/jvmm/leases
  cd /; rm -rf "$W"
}
trap cleanup EXIT
gcc -O2 -static -o fs/udpseq "$ROOT/lab/src/main/resources/dev/jvmm/lab/udpseq.c"; cp fs/udpseq .
echo hot > hot/hot.txt; truncate -s 16M hot.img && mkfs.ext4 -q -F -d hot hot.img
cat > fs/hotplug.sh <<'G'
byaddr() { for n in /sys/class/net/*; do [ "$(cat $n/address)" = $1 ] && { basename $n; return; }; done; }
up() { N=; while [ -z "$N" ]; do N=$(byaddr $1); [ -n "$N" ] || sleep 0.01; done; ip link set dev $N up
       while [ "$(cat /sys/class/net/$N/carrier 2>/dev/null)" != 1 ]; do sleep 0.01; done; }
echo HB-READY
for r in $(seq $B_ROUNDS); do
  while [ ! -b /dev/vdb ]; do sleep 0.01; done; dd if=/dev/vdb of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null; echo HB-DISK-UP $r
  while [ -b /dev/vdb ]; do sleep 0.01; done; echo HB-DISK-GONE $r
  up $B_NET_MAC; echo HB-NET-UP $r; while [ -e /sys/class/net/$N ]; do sleep 0.01; done; echo HB-NET-GONE $r
  up $B_VF_MAC; echo HB-VF-UP $r; while [ -e /sys/class/net/$N ]; do sleep 0.01; done; echo HB-VF-GONE $r
done
echo HB-DONE
G
cat > fs/failover.sh <<'G'
for i in $(seq 3000); do [ "$(ls -d /sys/class/net/*/lower_* 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
M=$(for n in /sys/class/net/*; do ls -d $n/lower_* > /dev/null 2>&1 && basename $n; done)
ip link set dev $M up; ip addr add 10.99.0.21/24 dev $M
for l in /sys/class/net/$M/lower_*; do ip link set dev ${l##*/lower_} up; done
for i in $(seq 300); do ping -c 1 -W 1 10.99.0.1 > /dev/null 2>&1 && break; done
echo FO-READY
/mnt/udpseq send 10.99.0.1 5401 2000 $B_SECONDS &
/mnt/udpseq recv 5402 $((B_SECONDS + 20)) > /tmp/r.txt
echo "FO-RESULT to-guest $(cat /tmp/r.txt)"
echo FO-DONE
G
truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img
ip link set dev $EN up; ip addr add 10.99.0.1/24 dev $EN; ip link set dev $P up
for i in $(seq 100); do [ "$(cat /sys/class/net/$P/carrier)$(cat /sys/class/net/$EN/carrier)" = 11 ] && break; sleep 0.2; done
echo 0 > $PF/sriov_drivers_autoprobe; echo 1 > $PF/sriov_numvfs
VF=$(basename $(readlink -f $PF/virtfn0))
: > "$W/results"

cmdline() { # script variables...
  local s
  s=$(printf '%s' "export $2 mount -t ext4 /dev/vda /mnt && sh /mnt/$1" | base64 -w0)
  echo "console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$s"
}
waitsock() { for i in $(seq 6000); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "timeout: no socket $1"; return 1; }
waitlog() { for i in $(seq 6000); do grep -q "$1" "$2" && return 0; sleep 0.1; done; echo "timeout: $1"; tail -20 "$2"; return 1; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
field() { grep "^$1 " "$2" | head -1 | cut -d' ' -f2; }
record() { echo "$1 r$2 $3 $4" | tee -a "$W/results"; }
timed() { # vmm round kind-op out-file: add -> sent..seen, remove -> sent..done
  local t
  case $3 in add_*) t=$(ms $(field sent $4) $(field seen $4)) ;; *) t=$(ms $(field sent $4) $(field done $4)) ;; esac
  grep -q '^reply .*\(error\|HTTP/1.1 [45]\)' $4 && { echo "$1 r$2 $3 failed: $(grep ^reply $4)"; return 1; }
  record $1 $2 ${3}_ms $t
}

jvmm_hotplug() {
  local S=$W/api.sock log=$W/jvmm.log id r
  rebind $VF vfio-pci; ip link set dev $P vf 0 mac $VF_MAC
  "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --disk "path=$W/tools.img" \
    --api-socket $S --cmdline "$(cmdline hotplug.sh "B_ROUNDS=$ROUNDS B_NET_MAC=$NET_MAC B_VF_MAC=$VF_MAC;")" > $log 2>&1 &
  VMPID=$!
  waitlog HB-READY $log; waitsock $S; sleep 2
  for r in $(seq $ROUNDS); do
    $CALL http $S PUT vm.add-disk "{\"path\":\"$W/hot.img\"}" --log $log "HB-DISK-UP $r" 1 > c.out; timed jvmm $r add_disk c.out
    id=$(grep -o '"id": *"[^"]*"' c.out | cut -d'"' -f4)
    $CALL http $S PUT vm.remove-device "{\"id\":\"$id\",\"timeout_s\":300}" > c.out; timed jvmm $r remove_disk c.out
    $CALL http $S PUT vm.add-net "{\"tap\":\"jhb0\",\"mac\":\"$NET_MAC\"}" --log $log "HB-NET-UP $r" 1 > c.out; timed jvmm $r add_net c.out
    id=$(grep -o '"id": *"[^"]*"' c.out | cut -d'"' -f4)
    $CALL http $S PUT vm.remove-device "{\"id\":\"$id\",\"timeout_s\":300}" > c.out; timed jvmm $r remove_net c.out
    $CALL http $S PUT vm.add-device "{\"vfio\":\"$VF\"}" --log $log "HB-VF-UP $r" 1 > c.out; timed jvmm $r add_vf c.out
    id=$(grep -o '"id": *"[^"]*"' c.out | cut -d'"' -f4)
    $CALL http $S PUT vm.remove-device "{\"id\":\"$id\",\"timeout_s\":300}" > c.out; timed jvmm $r remove_vf c.out
  done
  waitlog HB-DONE $log
  wait $VMPID || true; VMPID=      # the guest powers off after its script
  rebind $VF ""
}

qemu_hotplug() {
  local Q=$W/qmp.sock log=$W/qemu.log r
  rebind $VF vfio-pci; ip link set dev $P vf 0 mac $VF_MAC
  qemu-system-x86_64 -M pc -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
    -kernel "$K" -initrd "$INITRD" -append "$(cmdline hotplug.sh "B_ROUNDS=$ROUNDS B_NET_MAC=$NET_MAC B_VF_MAC=$VF_MAC;")" \
    -drive file="$W/tools.img",if=virtio,format=raw \
    -blockdev driver=raw,node-name=hd1,file.driver=file,file.filename="$W/hot.img" \
    -netdev tap,id=hn1,ifname=qhb0,script=no,downscript=no,vhost=on -qmp unix:$Q,server=on,wait=off > $log 2>&1 &
  VMPID=$!
  waitlog HB-READY $log; waitsock $Q; sleep 2
  for r in $(seq $ROUNDS); do
    $CALL qmp $Q '{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","drive":"hd1","id":"hpdisk"}}' \
      --log $log "HB-DISK-UP $r" 1 > c.out; timed qemu $r add_disk c.out
    $CALL qmp $Q '{"execute":"device_del","arguments":{"id":"hpdisk"}}' --event DEVICE_DELETED hpdisk > c.out; timed qemu $r remove_disk c.out
    $CALL qmp $Q "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\",\"netdev\":\"hn1\",\"mac\":\"$NET_MAC\",\"id\":\"hpnet\"}}" \
      --log $log "HB-NET-UP $r" 1 > c.out; timed qemu $r add_net c.out
    $CALL qmp $Q '{"execute":"device_del","arguments":{"id":"hpnet"}}' --event DEVICE_DELETED hpnet > c.out; timed qemu $r remove_net c.out
    $CALL qmp $Q "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vfio-pci\",\"host\":\"$VF\",\"id\":\"hpvf\"}}" \
      --log $log "HB-VF-UP $r" 1 > c.out; timed qemu $r add_vf c.out
    $CALL qmp $Q '{"execute":"device_del","arguments":{"id":"hpvf"}}' --event DEVICE_DELETED hpvf > c.out; timed qemu $r remove_vf c.out
  done
  waitlog HB-DONE $log
  wait $VMPID || true; VMPID=
  rebind $VF ""
}

at() { # vmm event out-file t0: where the event falls in the L1 -> guest stream (one datagram every 2 ms)
  echo "$1 r1 $2 sent at seq $(awk -v a="$4" -v b="$(field sent $3)" 'BEGIN { printf "%d", (b - a) / 0.002 }'), done at seq $(awk -v a="$4" -v b="$(field done $3)" 'BEGIN { printf "%d", (b - a) / 0.002 }')" | tee -a "$W/results"
}
failover() { # vmm: stream both ways for D s; remove the primary at +15 s, add it back at +35 s
  local vmm=$1 log=$W/$1.log D=60 S=$W/api.sock Q=$W/qmp.sock prim
  ./udpseq recv 5401 400 > l1recv.txt & local RCV=$!
  if [ $vmm = fo-jvmm ]; then
    "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --disk "path=$W/tools.img" --api-socket $S \
      --nic "id=eth0,pf=$P,failover=on,mac=$FO_MAC" --cmdline "$(cmdline failover.sh "B_SECONDS=$D;")" > $log 2>&1 &
  else
    rebind $VF vfio-pci; ip link set dev $P vf 0 mac $FO_MAC
    ip link add link $P name qmvt0 address $FO_MAC type macvtap mode bridge; ip link set qmvt0 up
    qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
      -kernel "$K" -initrd "$INITRD" -append "$(cmdline failover.sh "B_SECONDS=$D;")" \
      -drive file="$W/tools.img",if=virtio,format=raw \
      -device pcie-root-port,id=root1,chassis=1 -device pcie-root-port,id=root2,chassis=2 \
      -netdev tap,id=hostnet1,fd=3,vhost=on -device virtio-net-pci,netdev=hostnet1,id=net1,mac=$FO_MAC,bus=root2,failover=on \
      -device vfio-pci,host=$VF,id=hostdev0,bus=root1,failover_pair_id=net1 \
      -qmp unix:$Q,server=on,wait=off 3<>/dev/tap$(cat /sys/class/net/qmvt0/ifindex) > $log 2>&1 &
  fi
  VMPID=$!
  waitlog FO-READY $log
  if [ $vmm = fo-jvmm ]; then waitsock $S; else waitsock $Q; fi
  local t0; t0=$(date +%s.%N)
  ./udpseq send 10.99.0.21 5402 2000 $D 2>/dev/null &
  sleep 15
  if [ $vmm = fo-jvmm ]; then
    prim=$($CALL http $S GET vm.info | grep -o '"primary": *"vfio-[0-9]*"' | head -1 | cut -d'"' -f4)
    $CALL http $S PUT vm.remove-device "{\"id\":\"$prim\",\"timeout_s\":300}" > c.out; timed $vmm 1 remove_primary c.out
    at $vmm remove c.out $t0
    sleep 20
    $CALL http $S PUT vm.add-nic '{"id":"eth0"}' > c.out; timed $vmm 1 readd_primary c.out
    at $vmm readd c.out $t0
  else
    $CALL qmp $Q '{"execute":"device_del","arguments":{"id":"hostdev0"}}' --event DEVICE_DELETED hostdev0 > c.out
    timed $vmm 1 remove_primary c.out
    at $vmm remove c.out $t0
    sleep 20
    $CALL qmp $Q "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vfio-pci\",\"host\":\"$VF\",\"id\":\"hostdev0\",\"bus\":\"root1\",\"failover_pair_id\":\"net1\"}}" > c.out
    timed $vmm 1 readd_primary c.out
    at $vmm readd c.out $t0
  fi
  waitlog FO-DONE $log
  kill $RCV 2>/dev/null || true; wait $RCV 2>/dev/null || true
  record $vmm 1 to-guest "$(grep FO-RESULT $log | sed 's/.*udpseq: //' | tr -d '\r')"
  record $vmm 1 from-guest "$(sed 's/udpseq: //' l1recv.txt)"
  wait $VMPID || true; VMPID=
  ip link del qmvt0 2>/dev/null || true; rebind $VF ""
}

echo "bench: $(date -u +%FT%TZ) L1 $(uname -r), $(qemu-system-x86_64 --version | head -1), $ROUNDS round(s)"
for v in $VMMS; do
  case $v in
    jvmm) jvmm_hotplug ;;
    qemu) qemu_hotplug ;;
    fo-jvmm|fo-qemu) failover $v ;;
    *) echo "inner.sh: unknown variant $v" >&2; exit 2 ;;
  esac
done
echo "== medians over $ROUNDS round(s), ms"
awk '$3 ~ /_ms$/ { print $1, $3, $4 }' "$W/results" | sort -k1,1 -k2,2 -k3,3g |
  awk '{ k=$1" "$2; n[k]++; a[k, n[k]]=$3 } END { for (k in n) { c=n[k]; m=(c%2) ? a[k,(c+1)/2] : (a[k,c/2]+a[k,c/2+1])/2;
       printf "%s %s\n", k, m } }' | sort
echo "== failover (one run each): lost datagrams and the longest gaps per direction; where the events fell"
grep -E ' (to|from)-guest | sent at seq ' "$W/results" || true
