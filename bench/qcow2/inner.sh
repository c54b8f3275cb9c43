#!/usr/bin/env bash
# qcow2 benchmark (issue 19), run INSIDE the lab's L1 (a working /dev/kvm; bench/qcow2/run.sh starts it): the same
# guest (the kit's kernel and initramfs, 1 vCPU, 512 MiB) under each variant in VMMS, on images made afresh for
# every VM the same way for every variant, all with cache=none. fio is not in the guest kit: bench/virtio/blkbench.c
# is built here (static) and carried on the tools disk (/dev/vda, ext4).
#   inner.sh KERNEL INITRD [MIB=128] [ROUNDS=3]
# Variants (VMMS, default "jvmm-raw jvmm-qcow2 qemu-qcow2"; round r starts with the r-th, rotating):
#   jvmm-raw      ./jvmm launch, its defaults (aio auto), raw images: the fresh ones sparse files (truncate), the full
#                 one written through (random data)
#   jvmm-qcow2    ./jvmm launch, qcow2 images (format=qcow2): the fresh ones "qemu-img create -f qcow2 $QCOW2_OPTS"
#                 (default: version 3, 64 KiB clusters), the full one "qemu-img convert -O qcow2" of the random data
#   qemu-qcow2    QEMU's best configuration on the same qcow2 images: -M q35, virtio-blk-pci, format=qcow2,
#                 cache=none, aio=io_uring (aio=native if this QEMU refuses io_uring on the file, threads if both:
#                 probed once below by QEMU's exit, and printed); its default qcow2 caches (they cover these images)
#   qemu-raw      (optional) the same QEMU on the raw images
# JVMM_DISK_OPTS is appended to every bench disk's --disk of the jvmm variants; QCOW2_OPTS to qemu-img create's -o.
# The disks: vda tools; vdb fresh, MIB MiB; vdc and vdd fresh, FRESH_GIB GiB each (default 4: random 4 KiB writes
# then almost always land in clusters not yet allocated); vde full, MIB MiB of random data; vdf fresh, MIB MiB, for
# the write warm-up.
# In the guest, in this order (figure names as printed; RANDSECS s per random figure, default 5):
#   cold-randread, cold-seqread   a warm-up on vde, not counted
#   cold-seqwrite         a warm-up of the allocating write path on vdf, not counted (jvmm's JIT compiles its qcow2
#                         code here: about 0.2 s of CPU under L1's TCG, a few ms on the development host)
#   fresh-seqread         1 MiB O_DIRECT reads over vdb, nothing allocated (zeroes)
#   fresh-seqwrite        1 MiB O_DIRECT writes over vdb, each allocating (ends with fdatasync)
#   fresh-randread-qd16   4 KiB reads at random offsets of vdc, 16 in flight, nothing allocated
#   fresh-randwrite-qd1   4 KiB writes at random offsets of vdc, one at a time: each allocates a cluster (a block
#                         of the sparse raw file)
#   fresh-randwrite-qd16  the same on vdd with 16 in flight
#   full-seqwrite, full-seqread, full-randread-qd1, full-randread-qd16, full-randwrite-qd1, full-randwrite-qd16
#                         the same on vde, where every cluster is allocated
# After each qcow2 VM every image is checked with "qemu-img check" (a line per image: "check VARIANT ROUND DISK
# ok|FAILED ..."), and the host space each fresh image took is printed ("du VARIANT ROUND DISK KiB").
# Before every VM: the images are synced and L1's page cache dropped. Each VM is stopped after VM_TIMEOUT s (900).
# Output: "R VARIANT ROUND FIGURE VALUE UNIT ..." per figure and run, then bench/virtio/summary.py twice: ratios
# against REF (qemu-qcow2), then against jvmm-raw (qcow2's cost in jvmm).
set -uo pipefail
K=$1; INITRD=$2; MIB=${3:-128}; ROUNDS=${4:-3}
VMMS=${VMMS:-jvmm-raw jvmm-qcow2 qemu-qcow2}; REF=${REF:-qemu-qcow2}
RANDSECS=${RANDSECS:-5}; FRESH_GIB=${FRESH_GIB:-4}; VM_TIMEOUT=${VM_TIMEOUT:-900}; QCOW2_OPTS=${QCOW2_OPTS:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=${JVMM_LAB_SCRATCH:-/var/tmp}/qcow2-bench; rm -rf "$W"; mkdir -p "$W/fs"; cd "$W" || exit 2
TO=
cleanup() {
  [ -n "$TO" ] && kill "$TO" 2>/dev/null          # timeout(1) passes the signal on to the VMM
  sleep 1
  cd / && rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
gcc -O2 -static -o fs/blkbench "$ROOT/bench/virtio/blkbench.c" || exit 2
{
  echo "MIB=$MIB RS=$RANDSECS"
  cat <<'G'
B=/mnt/blkbench
r() { f=$1; shift; echo "B-RESULT $f $("$@" 2>&1)"; }
r cold-randread $B /dev/vde randread 3 16
r cold-seqread $B /dev/vde seqread $MIB
r cold-seqwrite $B /dev/vdf seqwrite $MIB
r fresh-seqread $B /dev/vdb seqread $MIB
r fresh-seqwrite $B /dev/vdb seqwrite $MIB
r fresh-randread-qd16 $B /dev/vdc randread $RS 16
r fresh-randwrite-qd1 $B /dev/vdc randwrite $RS 1
r fresh-randwrite-qd16 $B /dev/vdd randwrite $RS 16
r full-seqwrite $B /dev/vde seqwrite $MIB
r full-seqread $B /dev/vde seqread $MIB
r full-randread-qd1 $B /dev/vde randread $RS 1
r full-randread-qd16 $B /dev/vde randread $RS 16
r full-randwrite-qd1 $B /dev/vde randwrite $RS 1
r full-randwrite-qd16 $B /dev/vde randwrite $RS 16
echo B-DONE
G
} > fs/guest.sh
truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img || exit 2
dd if=/dev/urandom of=master.raw bs=1M count="$MIB" conv=fsync status=none || exit 2
qo=${QCOW2_OPTS:+-o $QCOW2_OPTS}
# shellcheck disable=SC2086
qemu-img convert -f raw -O qcow2 $qo master.raw master.qcow2 || exit 2
SCRIPT=$(printf '%s' "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && sh /tmp/guest.sh" | base64 -w0)
CMDLINE="console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$SCRIPT"

# QEMU's best asynchronous I/O for this file and cache mode: the first of io_uring, native that QEMU accepts.
# shellcheck source=../lib/qemu-aio.sh
. "$ROOT/bench/lib/qemu-aio.sh"
QAIO=$(qemu_best_aio "$W/master.qcow2" qcow2 "none" "$W")
echo "qemu: aio=$QAIO, cache=none; $(qemu-system-x86_64 --version | head -1); $(qemu-img --version | head -1)"

DISKS="fseq frand1 frand16 full warm"
images() { # raw|qcow2: the five bench images, made afresh
  rm -f ./*.raw.img ./*.qcow2.img
  if [ "$1" = raw ]; then
    truncate -s "${MIB}M" fseq.raw.img warm.raw.img && truncate -s "${FRESH_GIB}G" frand1.raw.img frand16.raw.img &&
      cp master.raw full.raw.img
  else
    # shellcheck disable=SC2086
    qemu-img create -q -f qcow2 $qo fseq.qcow2.img "${MIB}M" && qemu-img create -q -f qcow2 $qo frand1.qcow2.img "${FRESH_GIB}G" &&
      qemu-img create -q -f qcow2 $qo frand16.qcow2.img "${FRESH_GIB}G" && cp master.qcow2 full.qcow2.img &&
      qemu-img create -q -f qcow2 $qo warm.qcow2.img "${MIB}M"
  fi
}
: > "$W/results"
run() { # NAME ROUND FORMAT CMD...
  local name=$1 round=$2 fmt=$3 o=$W/$1.r$2 rc d
  shift 3
  images "$fmt" || { echo "$name r$round: could not make the images"; return; }
  sync; { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null
  timeout "$VM_TIMEOUT" "$@" > "$o.out" 2>&1 < /dev/null &
  TO=$!
  wait "$TO"; rc=$?; TO=
  [ "$rc" = 124 ] && echo "$name r$round: stopped after $VM_TIMEOUT s"
  grep -a 'B-RESULT' "$o.out" | tr -d '\r' | sed "s/^.*B-RESULT /R $name $round /" | tee -a "$W/results"
  grep -aq B-DONE "$o.out" || { echo "$name r$round: the guest did not finish (exit $rc); last lines:"; tail -5 "$o.out"; }
  grep -a "ERROR\|Exception\|I/O error\|WARN" "$o.out" | head -10 | sed "s/^/$name r$round: /"
  for d in $DISKS; do
    if [ "$fmt" = qcow2 ]; then
      if c=$(qemu-img check "$d.qcow2.img" 2>&1); then echo "check $name $round $d ok: $(echo "$c" | head -2 | tr "\n" " ")"
      else echo "check $name $round $d FAILED: $(echo "$c" | tr '\n' ' ' | cut -c1-300)"; fi
    fi
    [ "$d" != full ] && echo "du $name $round $d $(du -k "$d.$fmt.img" 2>/dev/null | cut -f1) KiB"
  done
}
vm() { # VARIANT ROUND
  local v=$1 fmt diskx=${JVMM_DISK_OPTS:-} d args=()
  case $v in
    jvmm-raw|qemu-raw) fmt=raw ;;
    jvmm-qcow2|qemu-qcow2) fmt=qcow2 ;;
    *) echo "inner.sh: unknown variant $v" >&2; exit 2 ;;
  esac
  case $v in
    jvmm-*)
      args=(--disk "path=$W/tools.img")
      for d in $DISKS; do args+=(--disk "path=$W/$d.$fmt.img,format=$fmt,cache=none$diskx"); done
      run "$v" "$2" "$fmt" "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 \
        --cmdline "$CMDLINE" "${args[@]}" ;;
    qemu-*)
      args=(-drive "file=$W/tools.img,if=none,id=d0,format=raw" -device "virtio-blk-pci,drive=d0")
      local i=1
      for d in $DISKS; do
        args+=(-drive "file=$W/$d.$fmt.img,if=none,id=d$i,format=$fmt,cache=none,aio=$QAIO" -device "virtio-blk-pci,drive=d$i")
        i=$((i + 1))
      done
      run "$v" "$2" "$fmt" qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot \
        -nodefaults -serial stdio -kernel "$K" -initrd "$INITRD" -append "$CMDLINE" "${args[@]}" ;;
  esac
}
echo "bench/qcow2: VMMS=\"$VMMS\" MIB=$MIB FRESH_GIB=$FRESH_GIB RANDSECS=$RANDSECS ROUNDS=$ROUNDS QCOW2_OPTS=$QCOW2_OPTS"
read -r -a vs <<< "$VMMS"
for r in $(seq 1 "$ROUNDS"); do
  # rotated by one each round: every variant runs first, in the middle and last (a VM right after another VM's
  # writes meets L1's and L0's write-back of them)
  order=""
  for i in $(seq 0 $((${#vs[@]} - 1))); do order+="${vs[$(( (i + r - 1) % ${#vs[@]} ))]} "; done
  for v in $order; do
    echo "== round $r: $v ($(date -u +%T))"
    vm "$v" "$r"
  done
done
echo
echo "bench/qcow2: all runs done in $SECONDS s"
python3 "$ROOT/bench/virtio/summary.py" "$W/results" --ref "$REF"
case " $VMMS " in
  *" jvmm-raw "*) echo; echo "== against jvmm-raw (qcow2's cost in jvmm)"
    python3 "$ROOT/bench/virtio/summary.py" "$W/results" --ref jvmm-raw ;;
esac
