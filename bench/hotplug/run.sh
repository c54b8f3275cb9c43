#!/usr/bin/env bash
# Runs the hotplug and failover benchmark (bench/hotplug/inner.sh) in one lab session: builds jvmm on this host,
# boots L1 and runs inner.sh there with the kit's kernel and initramfs.
#   bench/hotplug/run.sh [ROUNDS=5]      VMMS="jvmm qemu fo-jvmm fo-qemu" selects variants (see inner.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
./jvmm launch --help >/dev/null          # builds when stale
echo "bench: $(date -u +%FT%TZ) host $(uname -n) $(nproc) CPUs" >&2
JVMM_NO_BUILD=1 exec ./jvmm lab run --timeout 3000 -- sh -c \
  "VMMS='${VMMS:-jvmm qemu fo-jvmm fo-qemu}' bench/hotplug/inner.sh \"\$JVMM_LAB_KERNEL\" \"\$JVMM_LAB_INITRD\" ${1:-5}"
