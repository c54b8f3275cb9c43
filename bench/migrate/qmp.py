#!/usr/bin/env python3
"""QEMU's side of the migration benchmark (bench/migrate/inner.sh), over QMP on a unix socket, run inside the lab's L1.

  qmp.py SOCK migrate URI [--stop] [--downtime-ms MS] [--max-bandwidth BYTES_PER_S] [--timeout S]
      Turns on the 'events' capability (QEMU then sends a MIGRATION event at each state change; it changes nothing
      in how QEMU migrates), sets downtime-limit and max-bandwidth, stops the VM first with --stop (a snapshot: the
      VM is saved paused, as jvmm's vm.snapshot saves it), sends migrate {"uri": URI} and waits for the end
      (completed, failed or cancelled): the MIGRATION event, or query-migrate, asked once a second as well in case
      an event is missed. After --timeout seconds (default 300) it sends migrate_cancel and reports "timeout".
      Prints, one per line:
        sent T          seconds since the epoch, just before 'stop' (with --stop) or 'migrate' was sent
        done T          when the end was seen
        status S        completed, failed, cancelled or timeout
        total_ms N      query-migrate's total-time        downtime_ms N   its downtime
        setup_ms N      its setup-time                    bytes N         ram.transferred
        rounds N        ram.dirty-sync-count              normal_pages N  ram.normal
        zero_pages N    ram.duplicate                     mbps N          ram.mbps
        info JSON       query-migrate's whole answer
      (NA for a figure query-migrate did not give.)
  qmp.py SOCK cmd JSON
      One command (capabilities negotiated first); prints "reply JSON".
  qmp.py SOCK resume-incoming [--timeout S]
      A restore's destination (-incoming "exec:cat FILE"): waits until QEMU has loaded the stream (query-status no
      longer "inmigrate"), then sends 'cont'. QEMU leaves a guest that was saved paused paused after the load (the
      stream carries the source's run state), whatever -S says; jvmm's --restore DIR,resume=on runs it. Prints
      "loaded T" and "cont T".

Times come from this one process's clock (CLOCK_REALTIME), as in bench/hotplug/call.py.
"""
import json
import select
import socket
import sys
import time

END = ("completed", "failed", "cancelled")


class QmpError(Exception):
    pass


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        if self.read(30) is None:
            raise QmpError("no QMP greeting on " + path)
        self.execute("qmp_capabilities")

    def read(self, timeout):
        """The next message, or None when none came within timeout seconds."""
        deadline = time.time() + timeout
        while True:
            while b"\n" not in self.buf:
                left = deadline - time.time()
                if left <= 0:
                    return None
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    return None
                data = self.sock.recv(65536)
                if not data:
                    raise QmpError("QMP connection closed")
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                return json.loads(line)

    def execute(self, cmd, args=None, timeout=120):
        msg = {"execute": cmd}
        if args is not None:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        deadline = time.time() + timeout
        while True:
            m = self.read(max(0.0, deadline - time.time()))
            if m is None:
                raise QmpError(cmd + ": no answer within %d s" % timeout)
            if "event" in m:
                self.events.append(m)
            elif "return" in m:
                return m["return"]
            elif "error" in m:
                raise QmpError(cmd + ": " + json.dumps(m["error"]))

    def migration_end(self):
        """The end state named by a MIGRATION event received so far, or None."""
        for ev in self.events:
            if ev.get("event") == "MIGRATION" and ev.get("data", {}).get("status") in END:
                return ev["data"]["status"]
        return None


def migrate(q, uri, stop, downtime_ms, bandwidth, timeout):
    q.execute("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
    q.execute("migrate-set-parameters", {"downtime-limit": downtime_ms, "max-bandwidth": bandwidth})
    sent = time.time()
    if stop:
        q.execute("stop")
    q.execute("migrate", {"uri": uri})
    deadline = sent + timeout
    status = None
    next_poll = time.time() + 1.0
    while status is None:
        status = q.migration_end()
        if status is not None:
            break
        if time.time() >= next_poll:
            s = q.execute("query-migrate").get("status")
            next_poll = time.time() + 1.0
            if s in END:
                status = s
                break
        if time.time() > deadline:
            q.execute("migrate_cancel")
            end = time.time() + 60
            while time.time() < end and q.execute("query-migrate").get("status") not in END:
                time.sleep(0.2)
            status = "timeout"
            break
        m = q.read(min(1.0, max(0.05, next_poll - time.time())))
        if m is not None and "event" in m:
            q.events.append(m)
    done = time.time()
    info = q.execute("query-migrate")
    ram = info.get("ram", {})

    def get(d, k):
        v = d.get(k)
        return "NA" if v is None else str(round(v) if isinstance(v, float) else v)

    print(f"sent {sent:.6f}")
    print(f"done {done:.6f}")
    print("status " + status)
    print("total_ms " + get(info, "total-time"))
    print("downtime_ms " + get(info, "downtime"))
    print("setup_ms " + get(info, "setup-time"))
    print("bytes " + get(ram, "transferred"))
    print("rounds " + get(ram, "dirty-sync-count"))
    print("normal_pages " + get(ram, "normal"))
    print("zero_pages " + get(ram, "duplicate"))
    print("mbps " + get(ram, "mbps"))
    print("info " + json.dumps(info))


def resume_incoming(q, timeout):
    deadline = time.time() + timeout
    while q.execute("query-status").get("status") == "inmigrate":
        if time.time() > deadline:
            print("status timeout")
            return 1
        time.sleep(0.02)
    print("loaded %.6f" % time.time())
    q.execute("cont")
    print("cont %.6f" % time.time())
    return 0


def main(a):
    if len(a) >= 2 and a[1] == "resume-incoming":
        timeout = int(a[3]) if len(a) >= 4 and a[2] == "--timeout" else 600
        for _ in range(3000):  # the socket appears once QEMU has started
            try:
                q = Qmp(a[0])
                break
            except OSError:
                time.sleep(0.02)
        else:
            print("no QMP socket " + a[0])
            return 1
        return resume_incoming(q, timeout)
    if len(a) < 3 or a[1] not in ("migrate", "cmd"):
        print(__doc__, file=sys.stderr)
        return 2
    q = Qmp(a[0])
    if a[1] == "cmd":
        m = json.loads(a[2])
        print("reply " + json.dumps(q.execute(m["execute"], m.get("arguments"))))
        return 0
    opts = {"--downtime-ms": 300, "--max-bandwidth": 100 << 30, "--timeout": 300}
    stop = False
    rest = a[3:]
    i = 0
    while i < len(rest):
        if rest[i] == "--stop":
            stop = True
            i += 1
        elif rest[i] in opts and i + 1 < len(rest):
            opts[rest[i]] = int(rest[i + 1])
            i += 2
        else:
            print("qmp.py: unknown option " + rest[i], file=sys.stderr)
            return 2
    migrate(q, a[2], stop, opts["--downtime-ms"], opts["--max-bandwidth"], opts["--timeout"])
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
