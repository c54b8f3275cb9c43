#!/usr/bin/env bash
# Boot-time benchmark, run INSIDE the lab's L1 (it needs a working /dev/kvm; bench/boot/run.sh starts it):
# launch -> the guest /init's first marker line, for jvmm, QEMU -M q35 and QEMU -M microvm (PVH vmlinux, ACPI on),
# with the same kernel build, initramfs, memory, vCPUs and command line. Every run ends with the guest's poweroff.
# Prints one line per run and SUMMARY lines (medians; peak RSS from /usr/bin/time -v).
#   inner.sh KERNEL_BZIMAGE VMLINUX INITRD [RUNS=5] [MEM_MB=512] [CPUS=1]
set -uo pipefail
K=$1; VMLINUX=$2; INITRD=$3; RUNS=${4:-5}; MEMMB=${5:-512}; CPUS=${6:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MARKER="JVMM-LAB: "
CMDLINE="console=ttyS0 quiet panic=-1"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

# One run: the VMM's output goes through a read loop that stamps the first marker line (no polling, which would
# steal the single L1 CPU from the VMM being measured). Prints "ms rss_kib".
run_one() {
  local name=$1; shift
  rm -f "$TMP/t1" "$TMP/$name.out"
  local t0; t0=$(date +%s%N)
  { timeout 300 /usr/bin/time -v -o "$TMP/$name.time" "$@" </dev/null 2>&1; echo "VMM-EXIT $?"; } |
    while IFS= read -r l; do
      if [ ! -e "$TMP/t1" ] && [[ $l == *"$MARKER"* ]]; then date +%s%N > "$TMP/t1"; fi
      printf '%s\n' "$l" >> "$TMP/$name.out"
    done
  if [ ! -e "$TMP/t1" ] || ! grep -q "^VMM-EXIT 0" "$TMP/$name.out"; then
    echo "$name: no marker or non-zero exit:" >&2; tail -5 "$TMP/$name.out" >&2; return 1
  fi
  echo "$(( ($(cat "$TMP/t1") - t0) / 1000000 )) $(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$TMP/$name.time")"
}

Q="qemu-system-x86_64 -enable-kvm -cpu host -m $MEMMB -smp $CPUS -display none -vga none -nodefaults -no-reboot -serial stdio"
for i in $(seq "$RUNS"); do
  # Interleaved (jvmm, q35, microvm, jvmm, ...) so that a slow spell of the host hits every VMM alike.
  for vmm in jvmm q35 microvm; do
    case $vmm in
      jvmm) r=$(run_one jvmm "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" --memory "${MEMMB}M" --cpus "$CPUS" --cmdline "$CMDLINE") ;;
      q35) r=$(run_one q35 $Q -M q35 -kernel "$K" -initrd "$INITRD" -append "$CMDLINE") ;;
      microvm) r=$(run_one microvm $Q -M microvm,acpi=on -kernel "$VMLINUX" -initrd "$INITRD" -append "$CMDLINE") ;;
    esac || continue
    echo "$vmm run $i: ${r% *} ms to /init, peak RSS ${r#* } KiB"
    echo "$r" >> "$TMP/$vmm.res"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "NA"; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
echo "SUMMARY vmm runs median_ms median_peak_rss_kib"
for vmm in jvmm q35 microvm; do
  [ -f "$TMP/$vmm.res" ] || { echo "SUMMARY $vmm 0 NA NA"; continue; }
  echo "SUMMARY $vmm $(wc -l < "$TMP/$vmm.res") $(cut -d' ' -f1 "$TMP/$vmm.res" | median) $(cut -d' ' -f2 "$TMP/$vmm.res" | median)"
done
# Ratios of the medians against QEMU q35 (the target: jvmm <= q35 on time).
q=$(cut -d' ' -f1 "$TMP/q35.res" 2>/dev/null | median)
for vmm in jvmm microvm; do
  m=$(cut -d' ' -f1 "$TMP/$vmm.res" 2>/dev/null | median)
  if [ -n "$m" ] && [ "$m" != NA ] && [ -n "$q" ] && [ "$q" != NA ]; then
    echo "RATIO $vmm/q35 time $(awk -v a="$m" -v b="$q" 'BEGIN {printf "%.3f", a / b}')"
  else
    echo "RATIO $vmm/q35 time NA"
  fi
done
echo "VERSIONS $(qemu-system-x86_64 --version | head -1); $("${JAVA_HOME:-/usr}"/bin/java -version 2>&1 | head -1); L1 kernel $(uname -r)"
