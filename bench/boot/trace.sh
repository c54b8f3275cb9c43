#!/usr/bin/env bash
# Start-up phase trace of `jvmm launch`, run INSIDE the lab's L1: for each round and each variant NAME=JVMM_JAVA_OPTS
# (JVMM_CDS=0 when the options name their own archive), launches the kernel with JVMM_TRACE_STARTUP=1, prints the
# phase marks, and stops the VMM once vCPU 0 enters KVM_RUN (the guest's own boot is the same for every variant).
#   trace.sh KERNEL INITRD ROUNDS NAME=OPTS...
set -uo pipefail
K=$1; INITRD=$2; ROUNDS=$3; shift 3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for i in $(seq "$ROUNDS"); do
  for v in "$@"; do
    name=${v%%=*}; opts=${v#*=}; cds=1
    [[ $opts == *SharedArchiveFile* ]] && cds=0
    exec 3< <(JVMM_NO_BUILD=1 JVMM_CDS=$cds JVMM_JAVA_OPTS="$opts" JVMM_TRACE_STARTUP=1 exec "$ROOT/jvmm" launch \
        --kernel "$K" --initrd "$INITRD" --memory 512M --cpus 1 --cmdline "console=ttyS0 quiet panic=-1" </dev/null 2>&1)
    marks=""
    while IFS= read -r -t 120 l <&3; do
      case $l in
        jvmm-startup:*) marks+="${l#jvmm-startup: } | "; [[ $l == *KVM_RUN* ]] && break ;;
      esac
    done
    pkill -P $$ -f 'dev.jvmm.vmm.cli.LaunchCommand' 2>/dev/null; exec 3<&-; sleep 1
    echo "TRACE $name round $i: $marks"
  done
done
