#!/usr/bin/env bash
# Runs the boot-time benchmark in one lab session: builds jvmm (and its AppCDS archive) on this host, extracts the
# kit kernel's vmlinux for QEMU microvm's PVH boot, boots L1 and runs inner.sh there (exec -> first KVM_RUN,
# launch -> guest /init, peak RSS; jvmm, QEMU q35 and microvm). bench/virtio/run.sh runs it too, after the virtio
# benchmark, in the same lab session.
#   bench/boot/run.sh [RUNS=5] [MEM_MB=512] [CPUS=1]        BOOT_VMMS="jvmm q35 microvm" (a subset, or another order)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
./jvmm launch --help >/dev/null          # builds when stale, and makes the launch archive (vmm/target/jvmm-launch-JDK.aot or .jsa)
kernel=''; initrd=''; release=''
eval "$(./jvmm lab kit | sed -n 's/^\(kernel\|initrd-guest\|release\)=/\1=/p' | sed 's/-guest//')"
OUT=${JVMM_LAB_DIR:-/var/tmp/jvmm-lab}/bench; mkdir -p "$OUT"
VMLINUX=$OUT/vmlinux-$release
[ -s "$VMLINUX" ] || bench/boot/extract-vmlinux.sh "$kernel" "$VMLINUX"
echo "bench: $(date -u +%FT%TZ) host $(uname -n) $(nproc) CPUs, kernel $release" >&2
JVMM_NO_BUILD=1 exec ./jvmm lab run --timeout 2400 -- env BOOT_VMMS="${BOOT_VMMS:-jvmm q35 microvm}" \
  bench/boot/inner.sh "$kernel" "$VMLINUX" "$initrd" "${1:-5}" "${2:-512}" "${3:-1}"
