#!/usr/bin/env bash
# virtio-blk / virtio-net benchmark, run INSIDE the lab's L1 (a working /dev/kvm; bench/virtio/run.sh starts it): the
# same guest (the kit's kernel and initramfs, 1 vCPU, 512 MiB) under each variant in VMMS, on the same raw disk image
# (/dev/vdb in the guest, cache mode CACHE for every variant) and the same TAP (jb0, L1 = 10.88.0.1, guest =
# 10.88.0.2). fio and iperf3 are not in the guest kit: bench/virtio/blkbench.c and bench/virtio/netbench.c are built
# here (static) and carried on a second disk (/dev/vda, ext4).
#   inner.sh KERNEL INITRD [CACHE=none] [MIB=128] [ROUNDS=3]
# Variants (VMMS, default "jvmm qemu"; odd rounds in this order, even rounds reversed, so a slow spell of the shared
# host hits every variant alike):
#   jvmm          ./jvmm launch as shipped, its defaults (vhost=auto, aio auto once those options exist); the bench
#                 disk with cache=CACHE. JVMM_NET_OPTS / JVMM_DISK_OPTS (e.g. ",vhost=on" / ",aio=io_uring") are
#                 appended to its --net and to the bench disk's --disk, for every jvmm variant
#   jvmm-c2       the same with JVMM_JAVA_OPTS=-XX:TieredStopAtLevel=4 (C2 allowed)
#   jvmm-vhost    the same with ,vhost=on on --net and ,aio=io_uring on the bench disk (fails if jvmm lacks them)
#   jvmm-user     the same with ,vhost=off and ,aio=threads (jvmm's userspace data paths)
#   qemu          QEMU's best configuration: -M q35, virtio-blk-pci on the raw file with cache=CACHE and aio=io_uring
#                 (aio=native if this QEMU refuses io_uring, aio=threads if it refuses both: probed once below by
#                 QEMU's exit, and printed), virtio-net-pci on the TAP with vhost=on
#   qemu-iothread qemu plus an iothread for the bench disk (-object iothread, virtio-blk-pci iothread=)
#   qemu-user     QEMU as in the earlier runs of this bench: aio=threads, vhost=off (for continuity)
# Queues: one virtio-net queue pair and one virtio-blk queue for every variant: the guest has one vCPU, so a
# multiqueue device would be used as one queue anyway, and neither side gets mq (the 4-stream TCP figures share the
# one queue pair on both VMMs).
# In the guest, in this order (figure names as printed):
#   cold-*              a warm-up, not counted: sequential write and read over the whole disk, 3 s of 4 KiB
#                       random reads; TCP 16 MiB each way
#   seqwrite, seqread   1 MiB O_DIRECT requests over MIB MiB, one at a time (the write ends with fdatasync)
#   randread-qd1, randread-qd16, randwrite-qd1, randwrite-qd16
#                       4 KiB O_DIRECT requests at random offsets for RANDSECS s (default 5): qd1 = pread/pwrite,
#                       qd16 = Linux AIO with 16 in flight (blkbench.c); a write run ends with fdatasync
#   tcp-g2h-1, tcp-g2h-4, tcp-h2g-1, tcp-h2g-4
#                       TCP guest -> L1 and L1 -> guest, NETMIB MiB (default 64) in total over 1 or 4 connections
#                       (netbench tcp; the guest connects in both directions, L1's netbench serve sends or sinks)
#   udp-rr-p50, udp-rr-p99, udp-rr-rate
#                       UDP request/response, 64-byte datagrams, one at a time for UDPSECS s (default 5) against
#                       L1's echo: median and 99th percentile round trip (µs) and transactions per second
# CPU per GiB: L1 runs "netbench serve 5001 VMM_PID" for each VM: TCP and UDP echo on 5001, and phase marks on UDP
# 5002. Around every counted figure the guest sends "begin FIGURE" / "end FIGURE" there and waits for the answer,
# which comes once L1 has sampled the VMM's CPU (so the samples bracket the phase exactly, with no polling): the
# VMM process's utime+stime from /proc/PID/stat (all its threads: vCPU, device, I/O; and the vhost workers, which
# are threads of their owner since Linux 6.4, so they are not added twice) plus any vhost-N kthread outside it whose N
# is one of its thread ids (kthreads: kernels before 6.4). The VMM's PID is the child of timeout(1) (the jvmm launcher execs
# java; QEMU is itself). CPU / (bytes moved / 2^30) is printed beside each throughput figure (s/GiB; µs per
# transaction for udp), with the vhost workers' and the guest's (guest_time) shares in the CPU detail. The marks also
# give the VMM's CPU from its exec to the guest script (vmm-cpu-to-guest-script) and its VmHWM after the last phase
# (peak-rss-after-io).
# Before every VM: the images are synced and L1's page cache dropped. Each VM is stopped after VM_TIMEOUT s (900).
# Output: "R VARIANT ROUND FIGURE VALUE UNIT ..." per figure and run as it comes, then bench/virtio/summary.py: every
# round per figure, medians, ratios VARIANT/REF (REF=qemu; higher is better for MB/s, IOPS, tx/s, lower for µs, s,
# KiB and CPU) and the CPU detail.
set -uo pipefail
K=$1; INITRD=$2; CACHE=${3:-none}; MIB=${4:-128}; ROUNDS=${5:-3}
VMMS=${VMMS:-jvmm qemu}; REF=${REF:-qemu}
NETMIB=${NETMIB:-64}; RANDSECS=${RANDSECS:-5}; UDPSECS=${UDPSECS:-5}; VM_TIMEOUT=${VM_TIMEOUT:-900}
PORT=${BENCH_PORT:-5001}                    # TCP and UDP echo; PORT+1: the phase marks
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=${JVMM_LAB_SCRATCH:-/var/tmp}/virtio-bench; rm -rf "$W"; mkdir -p "$W/fs"; cd "$W" || exit 2
SRV=; TO=
cleanup() {
  [ -n "$TO" ] && kill "$TO" 2>/dev/null          # timeout(1) passes the signal on to the VMM
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
  sleep 1
  ip link del jb0 2>/dev/null
  cd / && rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
gcc -O2 -static -o fs/blkbench "$ROOT/bench/virtio/blkbench.c" || exit 2
gcc -O2 -static -pthread -o fs/netbench "$ROOT/bench/virtio/netbench.c" || exit 2
cp fs/netbench . || exit 2
{
  echo "MIB=$MIB NETMIB=$NETMIB RS=$RANDSECS US=$UDPSECS P=$PORT"
  cat <<'G'
ip link set eth0 up; ip addr add 10.88.0.2/24 dev eth0
H=10.88.0.1; B=/mnt/blkbench; N=/mnt/netbench
mark() { $N mark $H $P "$@" > /dev/null || echo "B-WARN mark $* not answered"; }
# counted FIGURE CMD...: the CPU marks around CMD, CMD's line as the figure
counted() { f=$1; shift; mark begin "$f"; r=$("$@" 2>&1); mark end "$f"; echo "B-RESULT $f $r"; }
cold() { f=$1; shift; echo "B-RESULT cold-$f $("$@" 2>&1)"; }
ping -c 1 -W 10 $H > /dev/null
mark boot
cold seqwrite $B /dev/vdb seqwrite $MIB
cold seqread $B /dev/vdb seqread $MIB
cold randread $B /dev/vdb randread 3
counted seqwrite $B /dev/vdb seqwrite $MIB
counted seqread $B /dev/vdb seqread $MIB
counted randread-qd1 $B /dev/vdb randread $RS 1
counted randread-qd16 $B /dev/vdb randread $RS 16
counted randwrite-qd1 $B /dev/vdb randwrite $RS 1
counted randwrite-qd16 $B /dev/vdb randwrite $RS 16
cold tcp-g2h $N tcp $H $P send 1 16
cold tcp-h2g $N tcp $H $P recv 1 16
counted tcp-g2h-1 $N tcp $H $P send 1 $NETMIB
counted tcp-g2h-4 $N tcp $H $P send 4 $NETMIB
counted tcp-h2g-1 $N tcp $H $P recv 1 $NETMIB
counted tcp-h2g-4 $N tcp $H $P recv 4 $NETMIB
counted udp-rr-p50 $N udp $H $P $US 64
mark end-all
echo B-DONE
G
} > fs/guest.sh
truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img || exit 2
# conv=fsync: no dirty page cache of the image may be left for the first VM's O_DIRECT writes to flush
truncate -s "${MIB}M" bench.img && dd if=/dev/urandom of=bench.img bs=1M count="$MIB" conv=notrunc,fsync status=none || exit 2
ip tuntap add dev jb0 mode tap && ip addr add 10.88.0.1/24 dev jb0 && ip link set jb0 up || exit 2
SCRIPT=$(printf '%s' "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && sh /tmp/guest.sh" | base64 -w0)
CMDLINE="console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$SCRIPT"
MAC=52:54:00:88:00:02
QC=$CACHE

# QEMU's best asynchronous I/O for this file and cache mode: the first of io_uring, native that QEMU accepts (it
# exits with an error at once when it cannot open the drive that way).
# shellcheck source=../lib/qemu-aio.sh
. "$ROOT/bench/lib/qemu-aio.sh"
QAIO=$(qemu_best_aio "$W/bench.img" raw "$QC" "$W")
echo "qemu: aio=$QAIO for the variants qemu and qemu-iothread (cache=$QC, vhost=on); $(qemu-system-x86_64 --version | head -1)"
[ -e /dev/vhost-net ] || echo "warning: no /dev/vhost-net in L1: QEMU's vhost=on will fail"

: > "$W/results"
run() { # NAME ROUND CMD...
  local name=$1 round=$2; shift 2
  local o=$W/$name.r$round vm='' to rc
  sync; { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null
  : > "$o.marks"
  timeout "$VM_TIMEOUT" "$@" > "$o.out" 2>&1 < /dev/null &
  to=$!; TO=$to
  for _ in $(seq 100); do
    vm=$(ps -o pid= --ppid "$to" 2>/dev/null | tr -d ' ' | head -1)
    [ -n "$vm" ] && break
    sleep 0.05
  done
  if [ -n "$vm" ]; then
    ./netbench serve "$PORT" "$vm" "$o.marks" 2> "$o.srv" &
  else
    echo "$name r$round: the VMM's PID was not found (no CPU figures)"
    ./netbench serve "$PORT" 2> "$o.srv" &
  fi
  SRV=$!
  wait "$to"; rc=$?; TO=
  kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=
  [ "$rc" = 124 ] && echo "$name r$round: stopped after $VM_TIMEOUT s"
  grep -a 'B-RESULT' "$o.out" | tr -d '\r' | sed "s/^.*B-RESULT /R $name $round /" | tee -a "$W/results"
  sed "s/^/M $name $round /" "$o.marks" >> "$W/results"
  grep -aq B-DONE "$o.out" || { echo "$name r$round: the guest did not finish (exit $rc); last lines:"; tail -5 "$o.out"; }
  grep -a "B-WARN\|virtio-blk-[0-9]*:.*requests\|vhost\|io_uring\|aio=\|ERROR\|Exception" "$o.out" | grep -v B-RESULT | head -20 |
    sed "s/^/$name r$round: /"
  [ -s "$o.srv" ] && sed "s/^/$name r$round server: /" "$o.srv" | head -5
}
vm() { # VARIANT ROUND
  local v=$1 netx=${JVMM_NET_OPTS:-} diskx=${JVMM_DISK_OPTS:-} opts=${JVMM_JAVA_OPTS:-} q=()
  case $v in
    jvmm|jvmm-c2|jvmm-vhost|jvmm-user)
      case $v in
        jvmm-c2) opts="$opts -XX:TieredStopAtLevel=4" ;;
        jvmm-vhost) netx="$netx,vhost=on"; diskx="$diskx,aio=io_uring" ;;
        jvmm-user) netx="$netx,vhost=off"; diskx="$diskx,aio=threads" ;;
      esac
      JVMM_JAVA_OPTS="$opts -Dorg.slf4j.simpleLogger.log.dev.jvmm.virtio.blk=debug" \
      run "$v" "$2" "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --cmdline "$CMDLINE" \
        --disk "path=$W/tools.img" --disk "path=$W/bench.img,cache=$CACHE$diskx" --net "tap=jb0,mac=$MAC$netx" ;;
    qemu|qemu-iothread|qemu-user)
      local vhost=on aio=$QAIO blk="virtio-blk-pci,drive=d1"
      case $v in
        qemu-iothread) q=(-object "iothread,id=io0"); blk="$blk,iothread=io0" ;;
        qemu-user) vhost=off; aio=threads ;;
      esac
      run "$v" "$2" qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -nodefaults \
        -serial stdio -kernel "$K" -initrd "$INITRD" -append "$CMDLINE" \
        -drive "file=$W/tools.img,if=none,id=d0,format=raw" -device "virtio-blk-pci,drive=d0" \
        -drive "file=$W/bench.img,if=none,id=d1,format=raw,cache=$QC,aio=$aio" "${q[@]}" -device "$blk" \
        -netdev "tap,id=n0,ifname=jb0,script=no,downscript=no,vhost=$vhost" -device "virtio-net-pci,netdev=n0,mac=$MAC" ;;
    *) echo "inner.sh: unknown variant $v" >&2; exit 2 ;;
  esac
}
echo "bench/virtio: VMMS=\"$VMMS\" CACHE=$CACHE MIB=$MIB NETMIB=$NETMIB RANDSECS=$RANDSECS UDPSECS=$UDPSECS ROUNDS=$ROUNDS"
for r in $(seq 1 "$ROUNDS"); do
  order=$VMMS
  [ $((r % 2)) = 0 ] && order=$(echo "$VMMS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for v in $order; do
    echo "== round $r: $v ($(date -u +%T))"
    vm "$v" "$r"
  done
done
echo
echo "bench/virtio: all runs done in $SECONDS s"
python3 "$ROOT/bench/virtio/summary.py" "$W/results" --ref "$REF"
