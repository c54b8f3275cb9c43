#!/usr/bin/env bash
# Runs the live-migration and snapshot benchmark (bench/migrate/inner.sh) in one lab session: builds jvmm on this
# host, boots L1 and runs inner.sh there with the kit's kernel and initramfs.
#   bench/migrate/run.sh [ROUNDS=3]     VMMS="jvmm qemu" and CASES="idle dirty snapshot" select (see inner.sh);
#                                       MIG_TIMEOUT=300 bounds each live migration (s); LAB_TIMEOUT=5400 the session
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
./jvmm launch --help >/dev/null          # builds when stale
echo "bench: $(date -u +%FT%TZ) host $(uname -n) $(nproc) CPUs" >&2
JVMM_NO_BUILD=1 exec ./jvmm lab run --timeout "${LAB_TIMEOUT:-5400}" -- sh -c \
  "VMMS='${VMMS:-jvmm qemu}' CASES='${CASES:-idle dirty snapshot}' MIG_TIMEOUT='${MIG_TIMEOUT:-300}' \
bench/migrate/inner.sh \"\$JVMM_LAB_KERNEL\" \"\$JVMM_LAB_INITRD\" ${1:-3}"
