#!/usr/bin/env bash
# Start-up phase trace of `jvmm launch`, run INSIDE the lab's L1: for each round and each variant NAME=JVMM_JAVA_OPTS
# (JVMM_CDS=0 when the options name their own archive or AOT cache), launches the kernel with JVMM_TRACE_STARTUP=1,
# prints the phase marks, and stops the VMM once vCPU 0 enters KVM_RUN (the guest's own boot is the same for every
# variant).
# The output is read through a FIFO (the lab's L1 has no /dev/fd for process substitution).
#   trace.sh KERNEL INITRD ROUNDS NAME=OPTS...
set -uo pipefail
K=$1; INITRD=$2; ROUNDS=$3; shift 3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
FIFO=$TMP/out; mkfifo "$FIFO"
for i in $(seq "$ROUNDS"); do
  for v in "$@"; do
    name=${v%%=*}; opts=${v#*=}; cds=1
    [[ $opts == *SharedArchiveFile* || $opts == *AOTCache* ]] && cds=0
    JVMM_NO_BUILD=1 JVMM_CDS=$cds JVMM_JAVA_OPTS="$opts" JVMM_TRACE_STARTUP=1 "$ROOT/jvmm" launch \
        --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --cmdline "console=ttyS0 quiet panic=-1" \
        </dev/null >"$FIFO" 2>&1 &
    pid=$!
    marks=""
    while IFS= read -r -t 120 l; do
      case $l in
        jvmm-startup:*) marks+="${l#jvmm-startup: } | "; [[ $l == *KVM_RUN* ]] && break ;;
      esac
    done <"$FIFO"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    echo "TRACE $name round $i: $marks"
  done
done
