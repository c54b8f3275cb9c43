#!/usr/bin/env bash
# The fresh-image sequential write of bench/qcow2 (1 MiB O_DIRECT writes, each allocating, ending with fdatasync),
# sampled many times: its single runs spread 2-3x in the lab (L1's disk is a file on L0), so one figure per VM (as
# in bench/qcow2/run.sh) needs many rounds to settle. Here every VM writes DISKS fresh images one after the other,
# each a sample, and the variants take turns, rotating, ROUNDS times, in one lab session.
#   bench/qcow2/seqwrite.sh [ROUNDS=6] [DISKS=4] [MIB=256]
# Variants (VMMS, default "jvmm-qcow2 qemu-qcow2 jvmm-raw"), as in bench/qcow2/inner.sh: jvmm on qcow2 images
# (qemu-img create -f qcow2 $QCOW2_OPTS) and on sparse raw files, QEMU with its best aio on the same qcow2 images, all
# cache=none; JVMM_JAVA_OPTS reaches the jvmm launches. L1's scratch disk is opened with cache=none in L0
# (JVMM_LAB_SCRATCH_CACHE), so that the host does not write back one VM's data while the next one is measured.
# Before the DISKS images, each VM writes one more, not counted ("cold-seqwrite"; WARM=0 leaves it out), as
# bench/qcow2/inner.sh does: jvmm's JIT compiles its qcow2 code in the first image a VM writes (about 0.2 s of CPU in
# L1), which a VM that has written for a while has behind it.
# Output: "R VARIANT ROUND fresh-seqwrite VALUE MB/s ..." per sample, then bench/virtio/summary.py (medians over all
# samples, ratios against qemu-qcow2, of the medians and paired by round).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${1:-}" != --inner ]; then
  cd "$ROOT" || exit 2
  ./jvmm launch --help >/dev/null || exit 2
  echo "bench: $(date -u +%FT%TZ) host $(uname -n) $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
  envs=""
  for v in VMMS QCOW2_OPTS JVMM_JAVA_OPTS WARM; do [ -n "${!v+x}" ] && envs+="$v=$(printf '%q' "${!v}") "; done
  JVMM_NO_BUILD=1 JVMM_LAB_SCRATCH_CACHE=${JVMM_LAB_SCRATCH_CACHE:-none} exec ./jvmm lab run \
    --timeout "${LAB_TIMEOUT:-2700}" -- bash -c "env $envs bench/qcow2/seqwrite.sh --inner ${1:-6} ${2:-4} ${3:-256}"
fi
ROUNDS=$2; NDISK=$3; MIB=$4
K=$JVMM_LAB_KERNEL; INITRD=$JVMM_LAB_INITRD
VMMS=${VMMS:-jvmm-qcow2 qemu-qcow2 jvmm-raw}; QCOW2_OPTS=${QCOW2_OPTS:-}; WARM=${WARM:-1}
W=${JVMM_LAB_SCRATCH:-/var/tmp}/qcow2-seqwrite; rm -rf "$W"; mkdir -p "$W/fs"; cd "$W" || exit 2
trap 'cd / && rm -rf "$W"' EXIT
gcc -O2 -static -o fs/blkbench "$ROOT/bench/virtio/blkbench.c" || exit 2
letters=(b c d e f g h i j k l m n o p q r s t u v w x y)
[ "$NDISK" -ge 1 ] && [ "$NDISK" -le $((${#letters[@]} - 1)) ] || { echo "DISKS must be 1..$((${#letters[@]} - 1))" >&2; exit 2; }
NIMG=$NDISK; [ "$WARM" = 1 ] && NIMG=$((NDISK + 1))   # the warm-up image is the last disk, written first
{
  [ "$WARM" = 1 ] && echo "echo \"B-RESULT cold-seqwrite \$(/mnt/blkbench /dev/vd${letters[$NDISK]} seqwrite $MIB 2>&1)\""
  for i in $(seq 0 $((NDISK - 1))); do
    echo "echo \"B-RESULT fresh-seqwrite \$(/mnt/blkbench /dev/vd${letters[$i]} seqwrite $MIB 2>&1)\""
  done
  echo "echo B-DONE"
} > fs/guest.sh
truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img || exit 2
SCRIPT=$(printf '%s' "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && sh /tmp/guest.sh" | base64 -w0)
CMDLINE="console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$SCRIPT"
qo=${QCOW2_OPTS:+-o $QCOW2_OPTS}
# shellcheck disable=SC2086
qemu-img create -q -f qcow2 $qo probe.qcow2 "${MIB}M" || exit 2
# shellcheck source=../lib/qemu-aio.sh
. "$ROOT/bench/lib/qemu-aio.sh"
QAIO=$(qemu_best_aio "$W/probe.qcow2" qcow2 none "$W")
echo "qemu: aio=$QAIO, cache=none; $(qemu-system-x86_64 --version | head -1)"
: > results
vm() { # VARIANT ROUND
  local v=$1 fmt=qcow2 i args=()
  [ "$v" = jvmm-raw ] && fmt=raw
  rm -f d*.img
  for i in $(seq 1 "$NIMG"); do
    # shellcheck disable=SC2086
    if [ $fmt = raw ]; then truncate -s "${MIB}M" "d$i.img"; else qemu-img create -q -f qcow2 $qo "d$i.img" "${MIB}M"; fi || return
  done
  sync; { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null
  case $v in
    jvmm-*)
      args=(--disk "path=$W/tools.img")
      for i in $(seq 1 "$NIMG"); do args+=(--disk "path=$W/d$i.img,format=$fmt,cache=none"); done
      timeout 900 "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --cmdline "$CMDLINE" \
        "${args[@]}" > "$v.out" 2>&1 < /dev/null ;;
    qemu-qcow2)
      args=(-drive "file=$W/tools.img,if=none,id=d0,format=raw" -device virtio-blk-pci,drive=d0)
      for i in $(seq 1 "$NIMG"); do
        args+=(-drive "file=$W/d$i.img,if=none,id=d$i,format=qcow2,cache=none,aio=$QAIO" -device "virtio-blk-pci,drive=d$i")
      done
      timeout 900 qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -nographic -no-reboot -nodefaults \
        -serial stdio -kernel "$K" -initrd "$INITRD" -append "$CMDLINE" "${args[@]}" > "$v.out" 2>&1 < /dev/null ;;
    *) echo "seqwrite.sh: unknown variant $v" >&2; exit 2 ;;
  esac
  grep -a 'B-RESULT' "$v.out" | tr -d '\r' | sed "s/^.*B-RESULT /R $v $2 /" | tee -a results
  grep -aq B-DONE "$v.out" || { echo "$v r$2: the guest did not finish; last lines:"; tail -5 "$v.out"; }
  if [ $fmt = qcow2 ]; then
    for i in $(seq 1 "$NIMG"); do
      qemu-img check -q "d$i.img" > /dev/null 2>&1 || echo "check $v $2 d$i FAILED: $(qemu-img check "d$i.img" 2>&1 | head -3)"
    done
  fi
}
read -r -a vmms <<< "$VMMS"
for r in $(seq 1 "$ROUNDS"); do
  for j in $(seq 0 $((${#vmms[@]} - 1))); do
    v=${vmms[$(((j + r - 1) % ${#vmms[@]}))]}
    echo "== round $r: $v ($(date -u +%T))"
    vm "$v" "$r"
  done
done
python3 "$ROOT/bench/virtio/summary.py" results --ref qemu-qcow2
