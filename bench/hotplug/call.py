#!/usr/bin/env python3
"""One timed control call for the hotplug benchmark, the same way for both VMMs, run inside the lab's L1.

  call.py http SOCK METHOD PATH [BODY]          jvmm's control API (HTTP/1.1 over a unix socket)
  call.py qmp SOCK JSON [--event NAME ID]       QEMU's QMP (capabilities negotiated first; waits for the reply,
                                                and with --event for that event naming device ID)
  ... [--log FILE PATTERN N]                    then waits for the N-th line of FILE containing PATTERN

Prints "sent T", "done T" (the reply, or the event) and "seen T" (the log line), T in seconds since the epoch, and
the reply on "reply ...". Times come from this one process, so they share a clock with the log poll.
"""
import json
import socket
import sys
import time


def http(sock, method, path, body):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    data = body.encode() if body else b""
    req = (f"{method} /api/v1/{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
    sent = time.time()
    s.sendall(req)
    resp = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    done = time.time()
    head, _, rest = resp.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode()
    return sent, done, status + " " + rest.decode().replace("\n", " ")


def qmp(sock, cmd, event=None, device=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    f = s.makefile("rwb")
    f.readline()  # greeting
    f.write(b'{"execute": "qmp_capabilities"}\n')
    f.flush()
    while "return" not in json.loads(f.readline()):
        pass
    sent = time.time()
    f.write(cmd.encode() + b"\n")
    f.flush()
    reply = None
    done = None
    while True:
        m = json.loads(f.readline())
        if reply is None and ("return" in m or "error" in m):
            reply = m
            done = time.time()
            if event is None or "error" in m:
                break
        elif event and m.get("event") == event and m.get("data", {}).get("device") == device:
            done = time.time()
            break
    return sent, done, json.dumps(reply)


def main(a):
    log = None
    if "--log" in a:
        i = a.index("--log")
        log = (a[i + 1], a[i + 2], int(a[i + 3]))
        a = a[:i] + a[i + 4:]
    if a[0] == "http":
        sent, done, reply = http(a[1], a[2], a[3], a[4] if len(a) > 4 else "")
    else:
        ev = (a[a.index("--event") + 1], a[a.index("--event") + 2]) if "--event" in a else (None, None)
        sent, done, reply = qmp(a[1], a[2], *ev)
    print(f"sent {sent:.3f}")
    print(f"done {done:.3f}")
    print("reply " + reply)
    if log:
        path, pattern, n = log
        deadline = time.time() + 600
        while time.time() < deadline:
            with open(path, errors="replace") as fh:
                if sum(1 for line in fh if pattern in line) >= n:
                    print(f"seen {time.time():.3f}")
                    break
            time.sleep(0.01)
        else:
            print("seen timeout")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
