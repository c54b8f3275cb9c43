#!/usr/bin/env bash
# Boot-time benchmark, run INSIDE the lab's L1 (it needs a working /dev/kvm; bench/boot/run.sh or bench/virtio/run.sh
# starts it), for jvmm, QEMU -M q35 and QEMU -M microvm (PVH vmlinux, ACPI on), with the same kernel build,
# initramfs, memory, vCPUs and command line, no devices. Figures per VMM and round:
#   exec-to-kvm-run  the VMM's exec -> its first KVM_RUN on vCPU 0, in a run of its own that is stopped there: jvmm
#                    with JVMM_TRACE_STARTUP=1 (its "jvmm-startup: ... vcpu 0 entering KVM_RUN" line), QEMU with
#                    -trace enable=kvm_vcpu_ioctl (its first "kvm_vcpu_ioctl ... type 0xae80" line, KVM_RUN = 0xae80;
#                    the few dozen vCPU ioctls before it are traced too). The time is taken by this script, on one
#                    clock (bash's EPOCHREALTIME), when it reads the line from a FIFO: not jvmm's own "+N ms", whose
#                    origin, the process start from /proc/stat's btime (whole seconds), is off by up to 1 s per boot
#                    of L1. For QEMU q35 and microvm the first KVM_RUN runs their firmware (SeaBIOS, qboot); for jvmm
#                    the kernel's entry.
#   launch-to-init   the VMM's launch -> the guest /init's first "JVMM-LAB: " line (a full boot, ended by the guest's
#                    poweroff), read through a pipe line by line (no polling, which would take L1's one CPU)
#   peak-rss         that run's VMM peak RSS, /usr/bin/time -v's maximum resident set size (guest RAM touched
#                    included, for every VMM)
# Rounds: one warm-up start of each VMM (stopped at KVM_RUN, not counted: it brings the binaries, jars and CDS
# archive into L1's page cache), then RUNS rounds, each: the three KVM_RUN runs, then the three boots, in BOOT_VMMS
# order in odd rounds and reversed in even ones, so a slow spell of the shared host hits every VMM alike.
# Prints "R VMM ROUND FIGURE VALUE UNIT" lines as it goes, then bench/virtio/summary.py's tables (medians, ratios
# VMM/q35; lower is better for all three figures) and the versions.
#   inner.sh KERNEL_BZIMAGE VMLINUX INITRD [RUNS=5] [MEM_MB=512] [CPUS=1]     BOOT_VMMS="jvmm q35 microvm"
set -uo pipefail
K=$1; VMLINUX=$2; INITRD=$3; RUNS=${4:-5}; MEMMB=${5:-512}; CPUS=${6:-1}
VMMS=${BOOT_VMMS:-jvmm q35 microvm}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MARKER="JVMM-LAB: "
CMDLINE="console=ttyS0 quiet panic=-1"
[ -n "${EPOCHREALTIME:-}" ] || { echo "inner.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 2; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
TIME=(); [ -x /usr/bin/time ] && TIME=(/usr/bin/time -v -o "$TMP/time")
[ ${#TIME[@]} = 0 ] && echo "no /usr/bin/time in L1: peak RSS not measured"
Q=(qemu-system-x86_64 -enable-kvm -cpu host -m "$MEMMB" -smp "$CPUS" -display none -vga none -nodefaults -no-reboot -serial stdio)
cmd() { # VMM: its command line, in CMD
  case $1 in
    jvmm) CMD=("$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory "${MEMMB}M" --cpus "$CPUS" --cmdline "$CMDLINE") ;;
    q35) CMD=("${Q[@]}" -M q35 -kernel "$K" -initrd "$INITRD" -append "$CMDLINE") ;;
    microvm) CMD=("${Q[@]}" -M "microvm,acpi=on" -kernel "$VMLINUX" -initrd "$INITRD" -append "$CMDLINE") ;;
    *) echo "inner.sh: unknown VMM $1" >&2; exit 2 ;;
  esac
}

# to_kvm_run VMM: runs it until its first KVM_RUN, stops it; prints the ms from the exec to that line.
to_kvm_run() {
  local vmm=$1 fifo=$TMP/$1.fifo t0 t1='' l pid i pat
  cmd "$vmm"
  if [ "$vmm" = jvmm ]; then pat="jvmm-startup:*KVM_RUN"; else CMD+=(-trace enable=kvm_vcpu_ioctl); pat="kvm_vcpu_ioctl*type 0xae80"; fi
  rm -f "$fifo"; mkfifo "$fifo"
  t0=${EPOCHREALTIME/[.,]/}
  JVMM_TRACE_STARTUP=1 "${CMD[@]}" < /dev/null > "$fifo" 2>&1 &
  pid=$!
  while IFS= read -r -t 120 l; do
    # shellcheck disable=SC2053 # pat is a glob pattern
    if [[ $l == *$pat* ]]; then t1=${EPOCHREALTIME/[.,]/}; break; fi
  done < "$fifo"
  kill "$pid" 2>/dev/null
  for i in $(seq 50); do case $(ps -o stat= -p "$pid" 2>/dev/null) in ""|Z*) break ;; esac; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ -n "$t1" ] || { echo "$vmm: no first KVM_RUN line within 120 s" >&2; return 1; }
  echo $(( (t1 - t0) / 1000 ))
}

# to_init VMM: one full boot; the VMM's output goes through a read loop that stamps the first marker line (no
# polling). Prints "ms rss_kib" (rss NA without /usr/bin/time).
to_init() {
  local vmm=$1 t0 rss=NA
  cmd "$vmm"
  rm -f "$TMP/t1" "$TMP/$vmm.out" "$TMP/time"
  t0=${EPOCHREALTIME/[.,]/}
  { timeout 300 "${TIME[@]}" "${CMD[@]}" </dev/null 2>&1; echo "VMM-EXIT $?"; } |
    while IFS= read -r l; do
      if [ ! -e "$TMP/t1" ] && [[ $l == *"$MARKER"* ]]; then echo "${EPOCHREALTIME/[.,]/}" > "$TMP/t1"; fi
      printf '%s\n' "$l" >> "$TMP/$vmm.out"
    done
  if [ ! -e "$TMP/t1" ] || ! grep -q "^VMM-EXIT 0" "$TMP/$vmm.out"; then
    echo "$vmm: no marker or non-zero exit:" >&2; tail -5 "$TMP/$vmm.out" >&2; return 1
  fi
  [ -f "$TMP/time" ] && rss=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$TMP/time")
  echo "$(( ($(cat "$TMP/t1") - t0) / 1000 )) $rss"
}

: > "$TMP/results"
echo "bench/boot: BOOT_VMMS=\"$VMMS\" RUNS=$RUNS MEM_MB=$MEMMB CPUS=$CPUS"
for vmm in $VMMS; do
  ms=$(to_kvm_run "$vmm") && echo "warm-up: $vmm exec -> first KVM_RUN $ms ms (not counted)"
done
for i in $(seq "$RUNS"); do
  order=$VMMS
  [ $((i % 2)) = 0 ] && order=$(echo "$VMMS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for vmm in $order; do
    ms=$(to_kvm_run "$vmm") || continue
    echo "R $vmm $i exec-to-kvm-run $ms ms" | tee -a "$TMP/results"
  done
  for vmm in $order; do
    r=$(to_init "$vmm") || continue
    echo "$vmm run $i: ${r% *} ms to /init, peak RSS ${r#* } KiB"
    echo "R $vmm $i launch-to-init ${r% *} ms" >> "$TMP/results"
    echo "R $vmm $i peak-rss ${r#* } KiB" >> "$TMP/results"
  done
done
echo
python3 "$ROOT/bench/virtio/summary.py" "$TMP/results" --ref q35
echo "VERSIONS $(qemu-system-x86_64 --version | head -1); $("${JAVA_HOME:-/usr}"/bin/java -version 2>&1 | head -1); L1 kernel $(uname -r)"
