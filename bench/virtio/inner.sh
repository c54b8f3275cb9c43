#!/usr/bin/env bash
# virtio-blk / virtio-net benchmark, run INSIDE the lab's L1 (a working /dev/kvm): the same guest (the kit's
# kernel and initramfs, 1 vCPU, 512 MiB), under jvmm and under QEMU (-M q35, virtio-blk-pci on the same raw file
# with the same cache mode and aio=threads, virtio-net-pci on a TAP with vhost=off). In the guest: a warm-up pass
# (sequential write and read over the whole disk, 3 s of random reads; reported as "cold*" figures, not counted),
# then sequential write and read (1 MiB O_DIRECT) and 4 KiB random reads (qd 1) with bench/virtio/blkbench.c on
# the raw disk, and TCP guest->L1 and L1->guest (64 MiB) with tcpxfer. fio and iperf3 are not in the guest kit,
# hence the helpers.
#   inner.sh KERNEL INITRD [CACHE=none] [MIB=256] [ROUNDS=1]
# VMMS (env, default "jvmm qemu"): the variants to run, in this order in odd rounds and reversed in even rounds.
#   jvmm     the ./jvmm launcher as shipped (its JVM flags, plus JVMM_JAVA_OPTS if set)
#   jvmm-c2  jvmm with JVMM_JAVA_OPTS=-XX:TieredStopAtLevel=4 (C2 allowed)
#   qemu     qemu-system-x86_64
# Before every VM: the images are synced and L1's page cache dropped, so each VM starts from the same state.
# Prints one line per figure and run ("<variant> r<round> <figure> <value> ..."), then medians per variant.
set -euo pipefail
K=$1; INITRD=$2; CACHE=${3:-none}; MIB=${4:-256}; ROUNDS=${5:-1}
VMMS=${VMMS:-jvmm qemu}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=${JVMM_LAB_SCRATCH:-/var/tmp}/virtio-bench; rm -rf "$W"; mkdir -p "$W/fs"; cd "$W"
cleanup() { ip link del jb0 2>/dev/null || true; [ -n "${RECV:-}" ] && kill "$RECV" 2>/dev/null || true; cd /; rm -rf "$W"; }
trap cleanup EXIT
gcc -O2 -static -o fs/blkbench "$ROOT/bench/virtio/blkbench.c"
gcc -O2 -static -o fs/tcpxfer "$ROOT/lab/src/main/resources/dev/jvmm/lab/tcpxfer.c"
cp fs/tcpxfer .
cat > fs/guest.sh <<'G'
ip link set eth0 up; ip addr add 10.88.0.2/24 dev eth0
echo "B-RESULT coldwrite $(/mnt/blkbench /dev/vdb seqwrite $MIB)"
echo "B-RESULT coldread $(/mnt/blkbench /dev/vdb seqread $MIB)"
echo "B-RESULT coldrand $(/mnt/blkbench /dev/vdb randread 3)"
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
# conv=fsync: no dirty page cache of the image may be left for the first VM's O_DIRECT writes to flush
truncate -s ${MIB}M bench.img && dd if=/dev/urandom of=bench.img bs=1M count=$MIB conv=notrunc,fsync status=none
head -c 67108864 /dev/urandom > blob
ip tuntap add dev jb0 mode tap && ip addr add 10.88.0.1/24 dev jb0 && ip link set jb0 up
SCRIPT=$(printf '%s' "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && sh /tmp/guest.sh" | base64 -w0)
CMDLINE="console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$SCRIPT"
MAC=52:54:00:88:00:02
case $CACHE in none) QC=none;; writeback) QC=writeback;; writethrough) QC=writethrough;; unsafe) QC=unsafe;; esac

run() { # name round command...
  local name=$1 round=$2; shift 2
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  ./tcpxfer recv 5001 /dev/null 2>"$W/$name.l1rx" & RECV=$!
  ( "$@" > "$W/$name.out" 2>&1 ) &
  local vm=$!
  while kill -0 $vm 2>/dev/null && ! grep -q B-READY-RX "$W/$name.out"; do sleep 0.2; done
  ./tcpxfer send 10.88.0.2 5002 blob 2>"$W/$name.l1tx" || true
  wait $vm || true
  wait $RECV || true; RECV=
  grep B-RESULT "$W/$name.out" | tr -d '\r' | sed "s/^.*B-RESULT/$name r$round/" | tee -a "$W/results"
  grep -i "virtio-blk\|vdb\|requests" "$W/$name.out" | grep -v B-RESULT | sed "s/^/$name r$round: /" || true
}
vm() { # variant round
  case $1 in
    jvmm|jvmm-c2)
      local opts=${JVMM_JAVA_OPTS:-}
      [ "$1" = jvmm-c2 ] && opts="$opts -XX:TieredStopAtLevel=4"
      JVMM_JAVA_OPTS="$opts -Dorg.slf4j.simpleLogger.log.dev.jvmm.virtio.blk=debug" \
      run "$1" "$2" "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --cmdline "$CMDLINE" \
        --disk "path=$W/tools.img" --disk "path=$W/bench.img,cache=$CACHE" --net "tap=jb0,mac=$MAC" ;;
    qemu)
      run qemu "$2" qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -nodefaults \
        -serial stdio -kernel "$K" -initrd "$INITRD" -append "$CMDLINE" \
        -drive file="$W/tools.img",if=none,id=d0,format=raw -device virtio-blk-pci,drive=d0 \
        -drive file="$W/bench.img",if=none,id=d1,format=raw,cache=$QC,aio=threads -device virtio-blk-pci,drive=d1 \
        -netdev tap,id=n0,ifname=jb0,script=no,downscript=no,vhost=off -device virtio-net-pci,netdev=n0,mac=$MAC ;;
    *) echo "inner.sh: unknown variant $1" >&2; exit 2 ;;
  esac
}
: > "$W/results"
for r in $(seq 1 "$ROUNDS"); do
  order=$VMMS
  [ $((r % 2)) = 0 ] && order=$(echo $VMMS | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $order; do vm "$v" "$r"; done
done
echo "== medians over $ROUNDS round(s) (MB/s; randread IOPS)"
# value: the number before "MB/s" or "IOPS" on each result line
awk '{ v=""; for (i=1;i<=NF;i++) if (($i=="MB/s" || $i=="IOPS" || $i=="MB/s)") && i>1) { v=$(i-1); break }
       gsub(/[^0-9.]/, "", v); if (v!="") print $1, $3, v }' "$W/results" | sort -k1,1 -k2,2 -k3,3g |
  awk '{ k=$1" "$2; n[k]++; a[k, n[k]]=$3 } END { for (k in n) { c=n[k]; m=(c%2) ? a[k,(c+1)/2] : (a[k,c/2]+a[k,c/2+1])/2;
       printf "%s %s\n", k, m } }' | sort
