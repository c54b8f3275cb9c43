#!/usr/bin/env bash
# Boot-time benchmark, run INSIDE the lab's L1 (it needs a working /dev/kvm): launch -> the guest /init marker
# for jvmm, QEMU -M q35 and QEMU -M microvm (PVH vmlinux, ACPI on), same kernel, initramfs, memory, vCPUs and
# cmdline. Prints one line per run and a summary (medians, ratios, peak RSS from /usr/bin/time -v).
#   inner.sh KERNEL_BZIMAGE VMLINUX INITRD [RUNS=5] [MEM=512M] [CPUS=1]
set -euo pipefail
K=$1; VMLINUX=$2; INITRD=$3; RUNS=${4:-5}; MEM=${5:-512M}; CPUS=${6:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MARKER=${MARKER:-JVMM-LAB: }
CMDLINE="console=ttyS0 quiet panic=-1"
MEMMB=$(( ${MEM%M} ))
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

run_one() { # name, command...  -> prints "ms rss_kb"
  local name=$1; shift
  local out=$TMP/$name.out
  local t0; t0=$(date +%s%N)
  /usr/bin/time -v -o "$TMP/$name.time" "$@" >"$out" 2>&1 </dev/null &
  local pid=$! t1=""
  while kill -0 $pid 2>/dev/null; do
    if [ -z "$t1" ] && grep -q "$MARKER" "$out" 2>/dev/null; then t1=$(date +%s%N); fi
    sleep 0.01
  done
  wait $pid || true
  [ -n "$t1" ] || { grep -q "$MARKER" "$out" && t1=$(date +%s%N); } || { echo "$name: no marker" >&2; tail -5 "$out" >&2; return 1; }
  echo "$(( (t1 - t0) / 1000000 )) $(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$TMP/$name.time")"
}

declare -A CMD
CMD[jvmm]="$ROOT/jvmm launch --kernel $K --initrd $INITRD --memory $MEM --cpus $CPUS --cmdline \"$CMDLINE\""
CMD[q35]="qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m $MEMMB -smp $CPUS -nographic -no-reboot -nodefaults -serial stdio -kernel $K -initrd $INITRD -append \"$CMDLINE\""
CMD[microvm]="qemu-system-x86_64 -M microvm,acpi=on -enable-kvm -cpu host -m $MEMMB -smp $CPUS -nographic -no-reboot -nodefaults -serial stdio -kernel $VMLINUX -initrd $INITRD -append \"$CMDLINE\""

for vmm in jvmm q35 microvm; do
  : > "$TMP/$vmm.res"
  for i in $(seq "$RUNS"); do
    r=$(eval run_one "$vmm" ${CMD[$vmm]}) || continue
    echo "$vmm run $i: ${r% *} ms, peak RSS ${r#* } KiB"
    echo "$r" >> "$TMP/$vmm.res"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "NA"; else print a[int((NR+1)/2)]}'; }
echo "SUMMARY vmm median_ms median_rss_kib"
for vmm in jvmm q35 microvm; do
  echo "SUMMARY $vmm $(cut -d' ' -f1 "$TMP/$vmm.res" | median) $(cut -d' ' -f2 "$TMP/$vmm.res" | median)"
done
