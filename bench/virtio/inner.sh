#!/usr/bin/env bash
# virtio-blk / virtio-net benchmark, run INSIDE the lab's L1 (a working /dev/kvm): the same guest (the kit's
# kernel and initramfs, 1 vCPU, 512 MiB), once under jvmm and once under QEMU (-M q35, virtio-blk-pci on the same
# raw file with the same cache mode, virtio-net-pci on a TAP with vhost=off). In the guest: sequential read and
# write (1 MiB O_DIRECT) and 4 KiB random reads (qd 1) with bench/virtio/blkbench.c on the raw disk, and TCP
# guest->L1 and L1->guest (64 MiB) with tcpxfer. fio and iperf3 are not in the guest kit, hence the helpers.
#   inner.sh KERNEL INITRD [CACHE=none] [MIB=256]
set -euo pipefail
K=$1; INITRD=$2; CACHE=${3:-none}; MIB=${4:-256}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=${JVMM_LAB_SCRATCH:-/var/tmp}/virtio-bench; rm -rf "$W"; mkdir -p "$W/fs"; cd "$W"
cleanup() { ip link del jb0 2>/dev/null || true; [ -n "${RECV:-}" ] && kill "$RECV" 2>/dev/null || true; cd /; rm -rf "$W"; }
trap cleanup EXIT
gcc -O2 -static -o fs/blkbench "$ROOT/bench/virtio/blkbench.c"
gcc -O2 -static -o fs/tcpxfer "$ROOT/vmm/src/test/c/tcpxfer.c"
cp fs/tcpxfer .
cat > fs/guest.sh <<'G'
ip link set eth0 up; ip addr add 10.88.0.2/24 dev eth0
echo "B-RESULT seqwrite $(/mnt/blkbench /dev/vdb seqwrite $MIB)"
echo "B-RESULT seqread $(/mnt/blkbench /dev/vdb seqread $MIB)"
echo "B-RESULT randread $(/mnt/blkbench /dev/vdb randread 10)"
dd if=/dev/urandom of=/tmp/blob bs=1M count=64 2>/dev/null
ping -c 1 -W 10 10.88.0.1 >/dev/null
echo "B-RESULT tx $(/mnt/tcpxfer send 10.88.0.1 5001 /tmp/blob 2>&1)"
echo "B-READY-RX"
echo "B-RESULT rx $(/mnt/tcpxfer recv 5002 /tmp/in 2>&1)"
G
sed -i "s/\$MIB/$MIB/" fs/guest.sh
truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img
truncate -s ${MIB}M bench.img && dd if=/dev/urandom of=bench.img bs=1M count=$MIB conv=notrunc status=none
head -c 67108864 /dev/urandom > blob
ip tuntap add dev jb0 mode tap && ip addr add 10.88.0.1/24 dev jb0 && ip link set jb0 up
SCRIPT=$(printf '%s' "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && sh /tmp/guest.sh" | base64 -w0)
CMDLINE="console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$SCRIPT"
MAC=52:54:00:88:00:02

run() { # name, command...
  local name=$1; shift
  ./tcpxfer recv 5001 /dev/null 2>"$W/$name.l1rx" & RECV=$!
  ( "$@" > "$W/$name.out" 2>&1 ) &
  local vm=$!
  while kill -0 $vm 2>/dev/null && ! grep -q B-READY-RX "$W/$name.out"; do sleep 0.2; done
  ./tcpxfer send 10.88.0.2 5002 blob 2>"$W/$name.l1tx" || true
  wait $vm || true
  wait $RECV || true; RECV=
  grep B-RESULT "$W/$name.out" | sed "s/^.*B-RESULT/$name/"
}
run jvmm "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --cmdline "$CMDLINE" \
  --disk "path=$W/tools.img" --disk "path=$W/bench.img,cache=$CACHE" --net "tap=jb0,mac=$MAC"
case $CACHE in none) QC=none;; writeback) QC=writeback;; writethrough) QC=writethrough;; unsafe) QC=unsafe;; esac
run qemu qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$K" -initrd "$INITRD" -append "$CMDLINE" \
  -drive file="$W/tools.img",if=none,id=d0,format=raw -device virtio-blk-pci,drive=d0 \
  -drive file="$W/bench.img",if=none,id=d1,format=raw,cache=$QC,aio=threads -device virtio-blk-pci,drive=d1 \
  -netdev tap,id=n0,ifname=jb0,script=no,downscript=no,vhost=off -device virtio-net-pci,netdev=n0,mac=$MAC
