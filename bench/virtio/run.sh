#!/usr/bin/env bash
# jvmm against QEMU's best configuration (issue 16) in ONE lab session: builds jvmm (and its AppCDS archive) on this
# host, extracts the kit kernel's vmlinux (for QEMU microvm's PVH boot), boots the lab's L1 and runs there
#   1. bench/virtio/inner.sh  virtio-blk and virtio-net: sequential 1 MiB read/write, 4 KiB random read/write at
#      queue depth 1 and 16, TCP guest->L1 and L1->guest with 1 and 4 streams, UDP request/response latency, each
#      with the VMM's CPU time per GiB moved (variants VMMS, default "jvmm qemu": jvmm's defaults against QEMU with
#      vhost=on, aio=io_uring (or native), cache=none)
#   2. bench/boot/inner.sh    exec -> first KVM_RUN, launch -> guest /init, peak RSS (jvmm, QEMU q35 and microvm)
# with ROUNDS interleaved rounds each, and prints per-round lines, medians, ratios and CPU per GiB (see both scripts'
# headers and docs/performance.md, "Against QEMU's best configuration").
#   bench/virtio/run.sh [ROUNDS=3] [MIB=128]
# Environment, passed on to L1: VMMS, REF (qemu), NETMIB (64), RANDSECS (5), UDPSECS (5), VM_TIMEOUT (900),
# JVMM_NET_OPTS, JVMM_DISK_OPTS, JVMM_JAVA_OPTS (bench/virtio/inner.sh); BOOT_VMMS ("jvmm q35 microvm"). Here:
# VIRTIO=0 or BOOT=0 leaves that part out; LAB_TIMEOUT bounds the whole L1 session (s, default 2700).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
ROUNDS=${1:-3}; MIB=${2:-128}
./jvmm launch --help >/dev/null          # builds when stale, and makes vmm/target/jvmm-launch.jsa
kernel=''; release=''
eval "$(./jvmm lab kit | sed -n 's/^\(kernel\|initrd-guest\|release\)=/\1=/p' | sed 's/-guest//')"
OUT=${JVMM_LAB_DIR:-/var/tmp/jvmm-lab}/bench; mkdir -p "$OUT"
VMLINUX=$OUT/vmlinux-$release
if [ -z "$kernel" ] || [ -z "$release" ]; then echo "run.sh: ./jvmm lab kit named no kernel" >&2; exit 1; fi
[ -s "$VMLINUX" ] || bench/boot/extract-vmlinux.sh "$kernel" "$VMLINUX"
envs=""
for v in VMMS REF NETMIB RANDSECS UDPSECS VM_TIMEOUT JVMM_NET_OPTS JVMM_DISK_OPTS JVMM_JAVA_OPTS BOOT_VMMS; do
  [ -n "${!v+x}" ] && envs+="$v=$(printf '%q' "${!v}") "
done
steps="rc=0"
[ "${VIRTIO:-1}" = 1 ] && steps+="; env $envs bench/virtio/inner.sh \"\$JVMM_LAB_KERNEL\" \"\$JVMM_LAB_INITRD\" none $MIB $ROUNDS || rc=\$?"
[ "${BOOT:-1}" = 1 ] && steps+="; env $envs bench/boot/inner.sh \"\$JVMM_LAB_KERNEL\" $(printf '%q' "$VMLINUX") \"\$JVMM_LAB_INITRD\" $ROUNDS 512 1 || rc=\$?"
steps+="; exit \$rc"
echo "bench: $(date -u +%FT%TZ) host $(uname -n) $(nproc) CPUs, kernel $release, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
JVMM_NO_BUILD=1 exec ./jvmm lab run --timeout "${LAB_TIMEOUT:-2700}" -- bash -c "$steps"
