#!/usr/bin/env bash
# Live-migration and snapshot benchmark, run INSIDE the lab's L1 (nested KVM; bench/migrate/run.sh starts it). The
# same guest (the kit's kernel and initramfs, 512 MiB, 1 vCPU, "console=ttyS0 quiet panic=-1", no NIC; its programs
# on a small read-only ext4 virtio disk, as bench/hotplug carries its own) under
#   jvmm   ./jvmm launch --api-socket; migrated with vm.send-migration (what 'jvmm remote send-migration' sends) to
#          a second './jvmm launch --incoming tcp:127.0.0.1:PORT'; saved with vm.snapshot (what 'jvmm remote snapshot'
#          sends), restored with './jvmm launch --restore DIR,resume=on'
#   qemu   qemu-system-x86_64 -M q35 -enable-kvm -cpu host (QEMU 10.0.2), QMP: migrate {"uri": "tcp:127.0.0.1:PORT"}
#          to a second QEMU with -incoming tcp:127.0.0.1:PORT; saved with stop + migrate {"uri": "exec:cat > FILE"},
#          restored with -incoming "exec:cat FILE" and 'cont' once it is loaded (QEMU keeps a guest that was saved
#          paused paused; jvmm's resume=on runs it)
# Cases, each ROUNDS times, jvmm and QEMU interleaved (odd rounds in VMMS order, even rounds reversed):
#   idle      the guest prints MB-READY, then sleeps (an MB-ALIVE line every 2 s, so that the destination can be seen
#             to run the guest)
#   dirty     bench/migrate/dirty.c: mallocs 256 MiB, touches every page, then writes one byte per 4 KiB page at
#             16384 pages/s (64 MiB/s of dirtied pages) and prints the rate it achieved every second
#   snapshot  the guest prints "MB-TICK N" every 100 ms. Saved while it runs (the VM is paused for it), its VMM ended,
#             then restored in a new process. Reported as two cases: snapshot (the save) and restore (the restoring
#             VMM's exec -> the first MB-TICK line it prints)
# Both VMMs migrate with a downtime limit of 300 ms. QEMU runs in its best configuration: downtime-limit 300 and
# max-bandwidth 100 GiB/s (QEMU's default max-bandwidth is 128 MiB/s, a rate limit jvmm does not have: left at its
# default, QEMU could be measured at its limit rather than at its speed), one stream (no multifd: L1 has one vCPU
# and jvmm sends one stream too).
# Figures per run (RUN lines), from each VMM's own report:
#   total_ms      jvmm: total_ms of the answer (connect -> the destination says its VM runs); QEMU: query-migrate
#                 total-time (migrate -> the source has sent everything). snapshot: the request's wall time (jvmm:
#                 vm.snapshot sent -> answered; QEMU: stop sent -> the migration to the file completed). restore:
#                 the VMM's exec -> the guest's first MB-TICK line
#   downtime_ms   jvmm: downtime_ms (source paused -> destination vCPUs started); QEMU: query-migrate downtime (source
#                 stopped -> the source has sent the rest; the destination's load and start are not in it)
#   e2e_ms        the same span for both: jvmm's downtime_ms; for QEMU from its vmstate_downtime_checkpoint trace
#                 events (-trace, -msg timestamp=on: wall-clock stamps), src-downtime-start on the source ->
#                 dst-precopy-bh-vm-started on the destination
#   bytes         jvmm: bytes of the answer (pages, headers and the state); QEMU: ram.transferred. snapshot: jvmm
#                 memory_written_bytes + state_bytes, QEMU the file's size
#   rounds        jvmm: rounds (the full pass, each dirty round, the last one); QEMU: ram.dirty-sync-count
#   wall_ms       the request as seen by the caller (bench/hotplug/call.py for jvmm, bench/migrate/qmp.py for QEMU)
#   rate          dirty: the guest's last MB-RATE (MiB/s) before the migration started
# At the end: SUMMARY (medians of the runs that completed) and RATIO jvmm/qemu lines.
#   inner.sh KERNEL INITRD [ROUNDS=3]     VMMS="jvmm qemu" CASES="idle dirty snapshot" MIG_TIMEOUT=300 (s per migration)
set -uo pipefail
K=$1; INITRD=$2; ROUNDS=${3:-3}
VMMS=${VMMS:-jvmm qemu}; CASES=${CASES:-idle dirty snapshot}; MIG_TIMEOUT=${MIG_TIMEOUT:-300}
DOWNTIME_MS=300
QEMU_BW=$((100 << 30))          # bytes/s: 100 GiB/s, i.e. no throttle (see above)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CALL=(python3 "$ROOT/bench/hotplug/call.py")    # jvmm's control API, timed (used as it is, not copied)
QMP=(python3 "$ROOT/bench/migrate/qmp.py")
[ -n "${EPOCHREALTIME:-}" ] || { echo "inner.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 2; }
W=${JVMM_LAB_SCRATCH:-/var/tmp}/migrate-bench; rm -rf "$W"; mkdir -p "$W/fs"; cd "$W" || exit 2
VMPIDS=(); READERS=()
# ours PID: the process is still there and a child of this shell (so never a PID reused by somebody else's process)
ours() { [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]; }
cleanup() {
  local p
  for p in "${VMPIDS[@]}"; do ours "$p" && kill "$p"; done
  sleep 2
  for p in "${VMPIDS[@]}" "${READERS[@]}"; do ours "$p" && kill -KILL "$p"; done
  wait 2>/dev/null
  cd / && rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
us2ms() { echo $(( ($2 - $1) / 1000 )); }

# The guest's programs, on a read-only disk (/dev/vda in the guest), run by the kit's /init through JVMM_SCRIPT.
gcc -O2 -static -o fs/dirty "$ROOT/bench/migrate/dirty.c" || exit 2
cat > fs/guest.sh <<'G'
case $1 in
  idle) echo MB-READY idle; i=0; while :; do sleep 2; i=$((i + 1)); echo "MB-ALIVE $i"; done ;;
  dirty) exec /mnt/dirty 256 16384 ;;
  tick) echo MB-READY tick; i=0; while :; do i=$((i + 1)); echo "MB-TICK $i"; sleep 0.1; done ;;
esac
G
truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img || exit 2
cmdline() { # guest.sh's case
  echo "console=ttyS0 quiet panic=-1 JVMM_SCRIPT=$(printf '%s' "mount -o ro -t ext4 /dev/vda /mnt && sh /mnt/guest.sh $1" | base64 -w0)"
}
ip link set lo up                 # L1 comes up without loopback; the migrations run on 127.0.0.1
: > "$W/results"

# start_vm NAME PATTERN CMD...: runs CMD (stdout and stderr) into a FIFO; a read loop appends each line to NAME.log
# and stamps the first line containing PATTERN into NAME.t (µs since the epoch), with no polling that would take
# L1's one CPU from the VMMs. Sets VMPID (the VMM: the launcher execs java, QEMU is itself) and T0 (µs, just
# before the fork).
start_vm() {
  local name=$1 pat=$2
  shift 2
  rm -f "$W/$name.fifo" "$W/$name.t"; : > "$W/$name.log"
  mkfifo "$W/$name.fifo"
  (
    stamped=
    while IFS= read -r l || [ -n "$l" ]; do
      l=${l%$'\r'}
      if [ -z "$stamped" ] && [[ $l == *"$pat"* ]]; then
        now_us > "$W/$name.t.tmp" && mv "$W/$name.t.tmp" "$W/$name.t"; stamped=1
      fi
      printf '%s\n' "$l" >> "$W/$name.log"
    done < "$W/$name.fifo"
  ) &
  READERS+=($!)
  T0=$(now_us)
  "$@" > "$W/$name.fifo" 2>&1 < /dev/null &
  VMPID=$!
  VMPIDS+=("$VMPID")
}
forget() { # PID: no longer in VMPIDS (it has ended and been waited for)
  local p keep=()
  for p in "${VMPIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  VMPIDS=("${keep[@]}")
}
# reap PID SECONDS: waits for a VMM to end by itself (a migrated jvmm source), SIGKILL after SECONDS.
reap() {
  local end=$((SECONDS + $2))
  [ -n "$1" ] || return 0
  while ours "$1" && [ $SECONDS -lt $end ]; do sleep 0.2; done
  ours "$1" && { echo "  pid $1 still runs after $2 s: SIGKILL"; kill -KILL "$1"; }
  wait "$1" 2>/dev/null
  forget "$1"
  return 0
}
# stop_vm PID: SIGTERM (both VMMs end cleanly on it), SIGKILL after 30 s.
stop_vm() {
  [ -n "$1" ] || return 0
  ours "$1" && kill "$1"
  reap "$1" 30
}
stop_all() { # ends every VMM of the run that is still there; its reader then reads the end of its FIFO and ends
  local p end
  for p in "${VMPIDS[@]}"; do stop_vm "$p"; done
  end=$((SECONDS + 10))
  for p in "${READERS[@]}"; do
    while ours "$p" && [ $SECONDS -lt $end ]; do sleep 0.2; done
    ours "$p" && kill -KILL "$p"
    wait "$p" 2>/dev/null
  done
  VMPIDS=(); READERS=()
  rm -f "$W"/*.fifo "$W"/*.sock
}
waitchildren() { # PID SECONDS: until the process has no child left (QEMU's 'cat' of an exec: migration)
  local end=$((SECONDS + $2))
  while pgrep -P "$1" > /dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
}
# The waits below give up after SECONDS, or as soon as the VMM (PID, when given) has ended.
gone() { # PID LOG
  [ -n "$1" ] && ! ours "$1" || return 1
  echo "  the VMM (pid $1) ended; the tail of its log:"; tail -15 "$2" | sed 's/^/    /'
}
waitlog() { # PATTERN FILE SECONDS [PID]
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do grep -q "$1" "$2" && return 0; gone "${4:-}" "$2" && return 1; sleep 0.5; done
  echo "  timeout: no '$1' in $2 after $3 s; its tail:"; tail -15 "$2" | sed 's/^/    /'; return 1
}
waitfile() { # FILE SECONDS [PID LOG] (a socket, a stamp)
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do [ -e "$1" ] && return 0; gone "${3:-}" "${4:-}" && return 1; sleep 0.2; done
  echo "  timeout: no $1 after $2 s"; return 1
}
listening() { # PORT: someone listens on it (IPv4 or IPv6); the listener is not connected to, which would use it up
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}
waitlisten() { # PORT SECONDS [PID LOG]
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do listening "$1" && return 0; gone "${3:-}" "${4:-}" && return 1; sleep 0.2; done
  echo "  timeout: nothing listens on port $1 after $2 s"; return 1
}
field() { local v; v=$(grep "^$1 " "$2" | head -1 | cut -d' ' -f2); echo "${v:-NA}"; }
span_ms() { # FILE: ms from its "sent" to its "done" line (the helpers' one clock), or NA
  local a b; a=$(field sent "$1"); b=$(field 'done' "$1")
  if [ "$a" = NA ] || [ "$b" = NA ]; then echo NA; else awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; fi
}
jnum() { # KEY FILE: a number from the JSON answer on call.py's "reply" line
  local v; v=$(grep '^reply ' "$2" | grep -o "\"$1\": *[0-9]*" | head -1 | grep -o '[0-9]*$'); echo "${v:-NA}"
}
lastrate() { local v; v=$(grep -o 'MB-RATE [0-9.]*' "$1" | tail -1 | cut -d' ' -f2); echo "${v:-NA}"; }
tick() { # first|last FILE: the MB-TICK count
  local v
  if [ "$1" = first ]; then v=$(grep -o 'MB-TICK [0-9]*' "$2" | head -1); else v=$(grep -o 'MB-TICK [0-9]*' "$2" | tail -1); fi
  echo "${v#MB-TICK }"
}
trace_at() { # CHECKPOINT FILE: µs since the epoch of QEMU's vmstate_downtime_checkpoint CHECKPOINT trace line, or empty
  # "TID@SECONDS.MICROSECONDS:vmstate_downtime_checkpoint NAME" (possibly after console text with no newline yet)
  sed -n "s/.*@\([0-9]\{9,\}\)\.\([0-9]\{6\}\):vmstate_downtime_checkpoint $1\( .*\)*$/\1\2/p" "$2" | head -1
}
# record VMM CASE ROUND STATUS TOTAL DOWNTIME BYTES ROUNDS E2E WALL RATE [EXTRA...]
record() {
  local vmm=$1 case=$2 r=$3; shift 3
  echo "$vmm $case $r $1 $2 $3 $4 $5 $6 $7 $8" >> "$W/results"
  echo "RUN $vmm $case round $r: status=$1 total_ms=$2 downtime_ms=$3 bytes=$4 rounds=$5 e2e_ms=$6 wall_ms=$7 rate=$8${9:+ ${*:9}}"
}

JVMM_VM=(--memory 512M --cpus 1 --disk "path=$W/tools.img,readonly=on")
qemu_args() { # the VM, the same on both sides of a migration; -trace/-msg: the downtime checkpoints, stamped
  QA=(qemu-system-x86_64 -M q35 -enable-kvm -cpu host -m 512 -smp 1 -display none -vga none -nodefaults -no-reboot
      -serial stdio -msg timestamp=on -trace vmstate_downtime_checkpoint -kernel "$K" -initrd "$INITRD"
      -append "$(cmdline "$1")" -drive "file=$W/tools.img,if=virtio,format=raw,readonly=on")
}
settle() { # CASE PID: after MB-READY, let the guest run steadily before measuring
  if [ "$1" = dirty ]; then waitlog MB-RATE "$W/src.log" 120 "$2" || return 1; fi
  sleep 3
}

# live VMM CASE ROUND PORT: one live migration over TCP on loopback.
live() {
  local vmm=$1 case=$2 r=$3 port=$4 mark rate total down bytes rounds e2e wall status a b
  if [ "$case" = idle ]; then mark=MB-ALIVE; else mark=MB-RATE; fi
  if [ "$vmm" = jvmm ]; then
    start_vm src MB-READY "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" "${JVMM_VM[@]}" \
      --cmdline "$(cmdline "$case")" --api-socket "$W/src.sock"
    local SRC=$VMPID
    waitlog MB-READY "$W/src.log" 900 "$SRC" && waitfile "$W/src.sock" 120 "$SRC" "$W/src.log" && settle "$case" "$SRC" ||
      return 1
    start_vm dst "$mark" "$ROOT/jvmm" launch --incoming "tcp:127.0.0.1:$port" --api-socket "$W/dst.sock"
    local DST=$VMPID
    waitlisten "$port" 300 "$DST" "$W/dst.log" || return 1
    rate=$(lastrate "$W/src.log"); [ "$case" = dirty ] || rate=NA
    timeout $((MIG_TIMEOUT + 240)) "${CALL[@]}" http "$W/src.sock" PUT vm.send-migration \
      "{\"destination\":\"tcp:127.0.0.1:$port\",\"downtime_ms\":$DOWNTIME_MS,\"timeout_s\":$MIG_TIMEOUT}" > "$W/c.out"
    if grep -q '^reply HTTP/1.1 200' "$W/c.out"; then status=ok; else status=failed; fi
    total=$(jnum total_ms "$W/c.out"); down=$(jnum downtime_ms "$W/c.out"); bytes=$(jnum bytes "$W/c.out")
    rounds=$(jnum rounds "$W/c.out"); e2e=$down
    wall=$(span_ms "$W/c.out")
    [ "$status" = ok ] || echo "  jvmm send-migration: $(grep '^reply' "$W/c.out" | cut -c1-300)"
    if [ "$status" = ok ]; then reap "$SRC" 60; else stop_vm "$SRC"; fi
    # where the downtime went, step by step, on each side
    grep -h -o 'migration switch-over: .*' "$W/src.log" | sed 's/^/  jvmm src: /'
    grep -h -o 'incoming migration: warmed up.*\|migration from [^ ]*: rehearsed.*\|incoming migration: the VM is built.*\|incoming migration complete: .*' \
      "$W/dst.log" | sed 's/^/  jvmm dst: /'
  else
    qemu_args "$case"
    start_vm src MB-READY "${QA[@]}" -qmp "unix:$W/src.sock,server=on,wait=off"
    local SRC=$VMPID
    waitlog MB-READY "$W/src.log" 900 "$SRC" && waitfile "$W/src.sock" 120 "$SRC" "$W/src.log" && settle "$case" "$SRC" ||
      return 1
    start_vm dst "$mark" "${QA[@]}" -qmp "unix:$W/dst.sock,server=on,wait=off" -incoming "tcp:127.0.0.1:$port"
    local DST=$VMPID
    waitlisten "$port" 300 "$DST" "$W/dst.log" || return 1
    rate=$(lastrate "$W/src.log"); [ "$case" = dirty ] || rate=NA
    timeout $((MIG_TIMEOUT + 240)) "${QMP[@]}" "$W/src.sock" migrate "tcp:127.0.0.1:$port" --downtime-ms $DOWNTIME_MS \
      --max-bandwidth $QEMU_BW --timeout "$MIG_TIMEOUT" > "$W/c.out"
    if [ "$(field status "$W/c.out")" = completed ]; then status=ok; else status=$(field status "$W/c.out"); fi
    total=$(field total_ms "$W/c.out"); down=$(field downtime_ms "$W/c.out"); bytes=$(field bytes "$W/c.out")
    rounds=$(field rounds "$W/c.out")
    wall=$(span_ms "$W/c.out")
    [ "$status" = ok ] || echo "  qemu migrate: $(grep '^info' "$W/c.out" | cut -c1-300)"
    stop_vm "$SRC"                 # QEMU's source stays, stopped (postmigrate)
  fi
  if [ "$status" = ok ]; then        # the guest runs on at the destination: a new line of it there
    waitfile "$W/dst.t" 120 "$DST" "$W/dst.log" || status=no-guest-output
  fi
  if [ "$vmm" = qemu ]; then
    a=$(trace_at src-downtime-start "$W/src.log"); b=$(trace_at dst-precopy-bh-vm-started "$W/dst.log")
    if [ -n "$a" ] && [ -n "$b" ]; then e2e=$(us2ms "$a" "$b"); else e2e=NA; fi
  fi
  stop_vm "$DST"
  [ "$status" = ok ] || { total=NA; down=NA; e2e=NA; }
  record "$vmm" "$case" "$r" "$status" "$total" "$down" "$bytes" "$rounds" "$e2e" "$wall" "$rate"
}

# snapshot VMM ROUND: save while the guest ticks, end the VMM, restore in a new one.
snapshot() {
  local vmm=$1 r=$2 status total bytes rounds=NA vms a b before after restore
  rm -rf "$W/snap" "$W/qemu.snap"
  if [ "$vmm" = jvmm ]; then
    start_vm src MB-READY "$ROOT/jvmm" launch --kernel "$K" --initrd "$INITRD" "${JVMM_VM[@]}" \
      --cmdline "$(cmdline tick)" --api-socket "$W/src.sock"
    local SRC=$VMPID
    waitlog MB-TICK "$W/src.log" 900 "$SRC" && waitfile "$W/src.sock" 120 "$SRC" "$W/src.log" && settle tick "$SRC" ||
      return 1
    timeout 900 "${CALL[@]}" http "$W/src.sock" PUT vm.snapshot "{\"destination\":\"$W/snap\",\"resume\":false}" > "$W/c.out"
    if grep -q '^reply HTTP/1.1 200' "$W/c.out"; then status=ok; else status=failed; fi
    a=$(jnum memory_written_bytes "$W/c.out"); b=$(jnum state_bytes "$W/c.out")
    if [ "$a" != NA ] && [ "$b" != NA ]; then bytes=$((a + b)); else bytes=NA; fi
    vms=$(jnum ms "$W/c.out")
    [ "$status" = ok ] || echo "  jvmm snapshot: $(grep '^reply' "$W/c.out" | cut -c1-300)"
  else
    qemu_args tick
    start_vm src MB-READY "${QA[@]}" -qmp "unix:$W/src.sock,server=on,wait=off"
    local SRC=$VMPID
    waitlog MB-TICK "$W/src.log" 900 "$SRC" && waitfile "$W/src.sock" 120 "$SRC" "$W/src.log" && settle tick "$SRC" ||
      return 1
    # stop first: the VM is saved paused, as jvmm's vm.snapshot saves it (nothing is dirtied while it is written)
    timeout 900 "${QMP[@]}" "$W/src.sock" migrate "exec:cat > $W/qemu.snap" --stop --downtime-ms $DOWNTIME_MS \
      --max-bandwidth $QEMU_BW --timeout 600 > "$W/c.out"
    if [ "$(field status "$W/c.out")" = completed ]; then status=ok; else status=$(field status "$W/c.out"); fi
    bytes=$(stat -c %s "$W/qemu.snap" 2>/dev/null || echo NA); rounds=$(field rounds "$W/c.out")
    vms=$(field total_ms "$W/c.out")
    waitchildren "$SRC" 60         # 'cat' has written the last of the stream
    [ "$status" = ok ] || echo "  qemu migrate to file: $(grep '^info' "$W/c.out" | cut -c1-300)"
  fi
  total=$(span_ms "$W/c.out")
  before=$(tick last "$W/src.log")
  stop_vm "$SRC"
  [ "$status" = ok ] || { record "$vmm" snapshot "$r" "$status" NA NA NA NA NA NA NA; return 0; }
  record "$vmm" snapshot "$r" ok "$total" NA "$bytes" "$rounds" NA "$total" NA "vmm_ms=$vms" \
    "on_disk=$(du -sB1 "$W/snap" "$W/qemu.snap" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')"
  sync
  if [ "$vmm" = jvmm ]; then
    start_vm dst MB-TICK "$ROOT/jvmm" launch --restore "$W/snap,resume=on"
  else
    # QEMU keeps a guest saved paused paused after the load (the stream carries the source's run state), whatever
    # -S says: qmp.py waits for the load and sends 'cont', which is what jvmm's resume=on does
    start_vm dst MB-TICK "${QA[@]}" -incoming "exec:cat $W/qemu.snap" -qmp "unix:$W/dst.sock,server=on,wait=off"
    timeout 700 "${QMP[@]}" "$W/dst.sock" resume-incoming --timeout 600 > "$W/resume.out" 2>&1 &
  fi
  local DST=$VMPID
  if waitfile "$W/dst.t" 600 "$DST" "$W/dst.log"; then
    restore=$(us2ms "$T0" "$(cat "$W/dst.t")"); after=$(tick first "$W/dst.log")
    record "$vmm" restore "$r" ok "$restore" NA NA NA NA NA NA "tick_before=$before" "tick_after=$after"
  else
    tail -15 "$W/dst.log" | sed 's/^/    /'
    record "$vmm" restore "$r" failed NA NA NA NA NA NA NA
  fi
  stop_vm "$DST"
}

echo "bench: $(date -u +%FT%TZ) L1 $(uname -r), $(qemu-system-x86_64 --version | head -1), $ROUNDS round(s), cases: $CASES"
n=0
for r in $(seq "$ROUNDS"); do
  order=$VMMS
  [ $((r % 2)) = 0 ] && order=$(echo "$VMMS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for c in $CASES; do
    for v in $order; do
      n=$((n + 1))
      case $c in
        idle|dirty) live "$v" "$c" "$r" $((4700 + n)) ;;
        snapshot) snapshot "$v" "$r" ;;
        *) echo "inner.sh: unknown case $c" >&2; exit 2 ;;
      esac || { echo "  $v $c round $r did not get to the measurement"; record "$v" "$c" "$r" failed NA NA NA NA NA NA NA; }
      stop_all
    done
  done
done

median() { # of the numbers on stdin; NA for none
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "NA"; exit } if (NR % 2) { print a[(NR + 1) / 2]; exit }
                                     m = (a[NR / 2] + a[NR / 2 + 1]) / 2; if (m == int(m)) printf "%d\n", m; else printf "%.1f\n", m }'
}
col() { # VMM CASE COLUMN: that column of the completed runs, NA left out
  awk -v v="$1" -v c="$2" -v k="$3" '$1 == v && $2 == c && $4 == "ok" && $k != "NA" { print $k }' "$W/results"
}
ratio() { if [ "$1" = NA ] || [ "$2" = NA ] || [ "$2" = 0 ]; then echo NA; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; fi; }
ALLCASES=$(awk '{ print $2 }' "$W/results" | awk '!s[$1]++')
echo "SUMMARY vmm case median_total_ms median_downtime_ms median_bytes median_rounds median_e2e_downtime_ms median_guest_rate_mib_s ok_runs"
for c in $ALLCASES; do
  for v in $VMMS; do
    echo "SUMMARY $v $c $(col "$v" "$c" 5 | median) $(col "$v" "$c" 6 | median) $(col "$v" "$c" 7 | median)" \
      "$(col "$v" "$c" 8 | median) $(col "$v" "$c" 9 | median) $(col "$v" "$c" 11 | median)" \
      "$(col "$v" "$c" 4 | wc -l)/$(awk -v v="$v" -v c="$c" '$1 == v && $2 == c' "$W/results" | wc -l)"
  done
done
for c in $ALLCASES; do
  echo "RATIO jvmm/qemu $c total $(ratio "$(col jvmm "$c" 5 | median)" "$(col qemu "$c" 5 | median)")" \
    "downtime $(ratio "$(col jvmm "$c" 6 | median)" "$(col qemu "$c" 6 | median)")" \
    "bytes $(ratio "$(col jvmm "$c" 7 | median)" "$(col qemu "$c" 7 | median)")" \
    "e2e_downtime $(ratio "$(col jvmm "$c" 9 | median)" "$(col qemu "$c" 9 | median)")"
done
echo "VERSIONS $(qemu-system-x86_64 --version | head -1); $("${JAVA_HOME:-/usr}"/bin/java -version 2>&1 | head -1); L1 kernel $(uname -r)"
