#!/usr/bin/env bash
# qcow2 benchmark (issue 19) in ONE lab session: builds jvmm on this host, boots the lab's L1 and runs
# bench/qcow2/inner.sh there: jvmm on raw images, jvmm on qcow2 and QEMU on the same qcow2 images (cache=none, QEMU's
# best aio), sequential 1 MiB and 4 KiB random read and write at queue depth 1 and 16, on fresh (allocating) images
# and on fully allocated ones; per-round lines, medians and ratios (see inner.sh's header and docs/performance.md,
# "qcow2: jvmm vs QEMU").
#   bench/qcow2/run.sh [ROUNDS=3] [MIB=256]
# Environment, passed on to L1: VMMS, REF, RANDSECS, FRESH_GIB, VM_TIMEOUT, JVMM_DISK_OPTS, JVMM_JAVA_OPTS, QCOW2_OPTS.
# LAB_TIMEOUT bounds the whole L1 session (s, default 2700). L1's scratch disk, where the images live, is opened with
# cache=none in L0 (JVMM_LAB_SCRATCH_CACHE), so that L0 does not write back one VM's data while the next is measured.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
ROUNDS=${1:-3}; MIB=${2:-256}
./jvmm launch --help >/dev/null          # builds when stale, and makes vmm/target/jvmm-launch.jsa
envs=""
for v in VMMS REF RANDSECS FRESH_GIB VM_TIMEOUT JVMM_DISK_OPTS JVMM_JAVA_OPTS QCOW2_OPTS; do
  [ -n "${!v+x}" ] && envs+="$v=$(printf '%q' "${!v}") "
done
echo "bench: $(date -u +%FT%TZ) host $(uname -n) $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
JVMM_NO_BUILD=1 JVMM_LAB_SCRATCH_CACHE=${JVMM_LAB_SCRATCH_CACHE:-none} exec ./jvmm lab run --timeout "${LAB_TIMEOUT:-2700}" -- \
  bash -c "env $envs bench/qcow2/inner.sh \"\$JVMM_LAB_KERNEL\" \"\$JVMM_LAB_INITRD\" $MIB $ROUNDS"
