#!/usr/bin/env python3
"""Turns `strace -x -e trace=sendmsg,recvmsg,sendto,recvfrom -e write=all -e read=all` output (stdin) into a
netlink fixture: one line per datagram, '> hex' sent by the program, '< hex' received from the kernel.
Peeked reads (MSG_PEEK) are dropped: the same bytes come again in the real read."""
import re, sys
out, cur, direction, peek = [], None, None, False
for line in sys.stdin:
    m = re.match(r'^(sendmsg|recvmsg|sendto|recvfrom)\(', line)
    if m:
        if cur is not None:
            out.append((direction, cur))
        direction = '>' if m.group(1).startswith('send') else '<'
        peek = 'MSG_PEEK' in line.split('}, ')[-1] if direction == '<' else False
        cur = None if peek else ''
        continue
    h = re.match(r'^ \| [0-9a-f]{5}  ', line)
    if h and cur is not None:
        # hex area: 16 columns of 'xx ' with an extra space after the 8th, then the ASCII column
        cur += ''.join(t for t in line[h.end():h.end() + 49].split() if re.fullmatch(r'[0-9a-f]{2}', t))
if cur is not None:
    out.append((direction, cur))
for d, hx in out:
    if hx:
        print(d, hx)
