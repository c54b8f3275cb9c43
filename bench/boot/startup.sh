#!/usr/bin/env bash
# Exec → vCPU 0's first KVM_RUN of `./jvmm launch`, per launcher variant, rounds interleaved (docs/performance.md,
# "Start-up"). Each launch runs with JVMM_TRACE_STARTUP=1 and its clock starts when this script execs ./jvmm (bash's
# own start included); it is stopped once vCPU 0 enters KVM_RUN. Prints every launch's "main entered" and KVM_RUN
# times, then per variant the median and the fastest.
#   startup.sh ROUNDS NAME=ASSIGNMENTS...
# ASSIGNMENTS: environment for the launcher, VAR=VALUE separated by ';' (none: the launcher as shipped), e.g.
#   bench/boot/startup.sh 10 default= jdk17=JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java 'nocache=JVMM_CDS=0'
# The guest: KERNEL and INITRD from the environment, else the launcher's training kernel (a few instructions that
# power off; written by dev.jvmm.vmm.cli.LaunchTraining). Needs a usable /dev/kvm (the host, or the lab's L1) and a
# built tree (JVMM_NO_BUILD=1 is set: nothing is built here; an archive or AOT cache the launcher misses is made by
# the first launch of a variant, whose times then include that training and are left out). DEBUG=1 echoes every
# line the launches print.
set -uo pipefail
ROUNDS=$1; shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
K=${KERNEL:-} INITRD=${INITRD:-}
if [ -z "$K" ]; then
  java -cp "$ROOT/vmm/target/jvmm.jar" dev.jvmm.vmm.cli.LaunchTraining --write "$TMP" || exit 1
  K=$TMP/bzImage INITRD=$TMP/initrd
fi
FIFO=$TMP/out; mkfifo "$FIFO"
declare -A RUNS=()
one() { # $1: variant; prints "MAIN/KVM_RUN" (ms), or "-" when it did not get there
  local spec=${1#*=} a main=- run=- l pid
  (
    IFS=';'
    for a in $spec; do [ -n "$a" ] && export "${a?}"; done
    unset IFS
    export JVMM_NO_BUILD=1 JVMM_TRACE_STARTUP=1 JVMM_T0_US=$EPOCHREALTIME JVMM_T0_PID=$BASHPID
    exec "$ROOT/jvmm" launch --kernel "$K" ${INITRD:+--initrd "$INITRD"} --memory 512M --cpus 1 \
        --cmdline "console=ttyS0 quiet panic=-1" </dev/null >"$FIFO" 2>&1
  ) &
  pid=$!
  while IFS= read -r -t 120 l; do
    [ -n "${DEBUG:-}" ] && printf "%q\n" "$l" >&2
    case $l in
      "jvmm-startup: +"*" ms main entered") main=${l#jvmm-startup: +}; main=${main%% *} ;;
      "jvmm-startup: +"*" ms vcpu 0 entering KVM_RUN") run=${l#jvmm-startup: +}; run=${run%% *}; break ;;
    esac
  done <"$FIFO"
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  echo "$main/$run"
}
for v in "$@"; do one "$v" >/dev/null; done # warm: page cache, and any missing archive made now
for i in $(seq "$ROUNDS"); do
  for v in "$@"; do
    r=$(one "$v")
    RUNS[${v%%=*}]+=" $r"
    echo "RUN ${v%%=*} round $i: main entered +${r%/*} ms, KVM_RUN +${r#*/} ms"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {if (NR) printf "%d", a[int((NR+1)/2)]; else printf "-"}'; }
for v in "$@"; do
  n=${v%%=*}
  mains=$(tr ' ' '\n' <<<"${RUNS[$n]}" | grep / | cut -d/ -f1 | grep -v -- -)
  runs=$(tr ' ' '\n' <<<"${RUNS[$n]}" | grep / | cut -d/ -f2 | grep -v -- -)
  echo "SUMMARY $n: main entered median $(median <<<"$mains") ms; KVM_RUN median $(median <<<"$runs") ms," \
       "fastest $(sort -n <<<"$runs" | head -1) ms ($(grep -c . <<<"$runs") of $ROUNDS launches)"
done
