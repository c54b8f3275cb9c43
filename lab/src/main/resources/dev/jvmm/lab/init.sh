#!/bin/sh
# jvmm lab /init (busybox sh). One init for every kit image: the emulated host (L1) and small test guests (L2).
#
# Inputs come from the kernel command line; words KEY=value without a dot reach /init as environment variables:
#   JVMM_MODE=batch   serve commands from the run share (L1; the host-side LabSession drives it)
#   JVMM_MODE=shell   interactive shell in the host-root chroot on the serial console (jvmm lab shell)
#   JVMM_SCRIPT=<b64> a scenario, base64-encoded shell script, run before powering off (L1: inside the chroot)
#   JVMM_SCENARIO_DEV=vdb  a scenario on a disk: mount it read-only and run its scenario.sh
#   JVMM_RUN=<path>   host path of the run share (9p tag jvmmrun), mounted at the same path inside the chroot
#   JVMM_SCRATCH=<path> where the scratch ext4 disk (/dev/vda) is mounted inside the chroot
# Console lines that start with "JVMM-LAB: " are the lab's own progress markers. The machine always powers off
# at the end (run QEMU with -no-reboot, so that either path below ends QEMU).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp /run
mount -t devpts devpts /dev/pts

up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "JVMM-LAB: $* uptime=$(up)"; }
bye() {
  say "poweroff"
  sync
  poweroff -f
  sleep 2
  reboot -f
}

say "init-start kernel=$(uname -r)"
while read -r m; do
  insmod "$m" 2>/tmp/insmod.err || grep -q "File exists" /tmp/insmod.err \
    || echo "JVMM-LAB: insmod $m failed: $(cat /tmp/insmod.err)"
done < /etc/insmod.list
say "modules-loaded n=$(wc -l < /etc/insmod.list)"

# The ACPI power button (jvmm's vm.shutdown, QEMU's system_powerdown): the kernel's button driver turns it into
# KEY_POWER on an input device; busybox acpid runs /etc/acpi/PWRF/00000080 for it, which powers off cleanly.
if [ -e /sys/bus/acpi/drivers/button ] && ls /dev/input/event* > /dev/null 2>&1; then
  mkdir -p /etc/acpi/PWRF
  printf '#!/bin/sh\necho "JVMM-LAB: power-button uptime=$(cut -d" " -f1 /proc/uptime)" > /dev/console\nsync\npoweroff -f\n' \
    > /etc/acpi/PWRF/00000080
  chmod +x /etc/acpi/PWRF/00000080
  acpid -c /etc/acpi -l /tmp/acpid.log && say "acpid-started"
fi

has_tag() {
  for t in /sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag; do
    [ -f "$t" ] && [ "$(tr -d '\000' < "$t")" = "$1" ] && return 0
  done
  return 1
}

ROOT=
if has_tag hostroot; then
  mkdir -p /host
  # The host's / read-only; cache=loose and a large msize keep a JVM start at about 2 s.
  if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host; then
    mount -t proc proc /host/proc
    mount -t sysfs sysfs /host/sys
    mount -t devtmpfs devtmpfs /host/dev
    mkdir -p /host/dev/pts /host/dev/shm
    mount -t devpts devpts /host/dev/pts
    mount -t tmpfs tmpfs /host/dev/shm
    # /tmp must be writable, but a checkout under the host's /tmp (a CI clone) must stay reachable at its path: keep
    # the host's /tmp entries visible (read-only, bind mounts) on top of a fresh tmpfs. The JVM's own perf-data
    # directory is left out so that a JVM in L1 can create its own.
    mkdir -p /hosttmp
    mount -o bind /host/tmp /hosttmp
    mount -t tmpfs -o mode=1777 tmpfs /host/tmp
    for e in /hosttmp/* /hosttmp/.[!.]*; do
      [ -e "$e" ] || continue
      n=${e#/hosttmp/}
      case "$n" in hsperfdata_*) continue ;; esac
      if [ -d "$e" ]; then mkdir -p "/host/tmp/$n"; else : > "/host/tmp/$n"; fi
      mount -o bind "$e" "/host/tmp/$n" 2>/dev/null || rm -rf "/host/tmp/$n"
    done
    mount -t tmpfs -o mode=755 tmpfs /host/run
    [ -d /host/sys/kernel/debug ] && mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
    ROOT=/host
    say "hostroot-mounted"
  else
    say "hostroot-mount-failed"
  fi
fi

if [ -n "$ROOT" ] && [ -n "$JVMM_SCRATCH" ] && [ -b /dev/vda ]; then
  # Scratch ext4 (virtio-blk on a host file): writable, and unlike tmpfs it accepts O_DIRECT.
  mount -t ext4 /dev/vda "$ROOT$JVMM_SCRATCH" && chmod 1777 "$ROOT$JVMM_SCRATCH" && say "scratch-mounted"
fi

SHARE=
if [ -n "$ROOT" ] && [ -n "$JVMM_RUN" ] && has_tag jvmmrun; then
  # Read-write, no caching: the host and L1 both watch files in it.
  if mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none jvmmrun "$ROOT$JVMM_RUN"; then
    SHARE=$ROOT$JVMM_RUN
    say "run-share-mounted"
  fi
fi

run_script() {   # $1 = script file as seen by init
  if [ -n "$ROOT" ]; then
    cp "$1" "$ROOT/tmp/jvmm-scenario.sh"
    chroot "$ROOT" /bin/sh /tmp/jvmm-scenario.sh
  else
    sh "$1"
  fi
}

if [ -n "$JVMM_SCRIPT" ]; then
  echo "$JVMM_SCRIPT" | base64 -d > /tmp/scenario.sh
  say "scenario-start source=cmdline"
  run_script /tmp/scenario.sh
  say "scenario-exit rc=$?"
fi

if [ -n "$JVMM_SCENARIO_DEV" ]; then
  mkdir -p /scenario
  if mount -o ro "/dev/$JVMM_SCENARIO_DEV" /scenario; then
    say "scenario-start source=$JVMM_SCENARIO_DEV"
    run_script /scenario/scenario.sh
    say "scenario-exit rc=$?"
    umount /scenario
  else
    say "scenario-disk-mount-failed dev=$JVMM_SCENARIO_DEV"
  fi
fi

serve() {
  # Command protocol (host side: dev.jvmm.lab.LabSession). The host writes cmd/N.sh (atomically, by rename);
  # we run it in the chroot as its own session, output to out/N.out, then write out/N.rc last.
  # cmd/N.kill asks us to kill that command's process group; cmd/quit ends the loop.
  say "ready"
  up > "$SHARE/ready"
  n=0
  while :; do
    if [ -f "$SHARE/cmd/$n.sh" ]; then
      setsid sh -c 'chroot "$0" /bin/sh "$1" > "$2" 2>&1 < /dev/null; echo $? > "$3.tmp"; mv "$3.tmp" "$3"' \
        "$ROOT" "$JVMM_RUN/cmd/$n.sh" "$SHARE/out/$n.out" "$SHARE/out/$n.rc" &
      pid=$!
      while [ ! -f "$SHARE/out/$n.rc" ]; do
        if [ -f "$SHARE/cmd/$n.kill" ]; then
          kill -KILL -"$pid" 2>/dev/null
          sleep 0.2
          # atomically, like the normal path: the host reads the file as soon as it exists
          [ -f "$SHARE/out/$n.rc" ] || { echo 137 > "$SHARE/out/$n.rc.killed"; mv "$SHARE/out/$n.rc.killed" "$SHARE/out/$n.rc"; }
          break
        fi
        sleep 0.1
      done
      wait "$pid" 2>/dev/null
      n=$((n + 1))
    elif [ -f "$SHARE/cmd/quit" ]; then
      break
    else
      sleep 0.1
    fi
  done
}

case "$JVMM_MODE" in
  batch)
    if [ -n "$SHARE" ]; then serve; else say "batch-unavailable (no hostroot or run share)"; fi
    ;;
  shell)
    say "shell"
    echo "jvmm lab shell: the host's / is at / (read-only; tmpfs on /tmp (the host's /tmp entries bound read-only on it) and /run; scratch disk at ${JVMM_SCRATCH:-none})."
    echo "Leave with 'exit' (powers L1 off) or Ctrl-A X (kills QEMU)."
    if [ -n "$ROOT" ]; then
      setsid cttyhack chroot "$ROOT" /bin/sh -c 'cd /; export PS1="jvmm-lab-L1# " HOME=/root; exec /bin/bash --norc -i 2>/dev/null || exec /bin/sh -i'
    else
      setsid cttyhack sh -i
    fi
    ;;
esac
bye
