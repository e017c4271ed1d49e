#!/usr/bin/env python3
"""A DNS server that is down without saying so: on 127.0.0.1, one port for UDP
and TCP, it reads every datagram and accepts every connection and never
answers. It prints the port, then keeps the counts in COUNTFILE
("udp N tcp M", rewritten on each one) until it is killed.
Usage: hole.py COUNTFILE
"""
import os
import selectors
import socket
import sys

out = sys.argv[1]
for _ in range(50):  # a port free for both protocols
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", t.getsockname()[1]))
        break
    except OSError:
        t.close()
        u.close()
else:
    sys.exit("hole.py: no port free for UDP and TCP")
t.listen(64)
counts = {"udp": 0, "tcp": 0}
held = []  # accepted connections stay open, unanswered


def save():
    with open(out + ".new", "w") as f:
        f.write(f"udp {counts['udp']} tcp {counts['tcp']}\n")
    os.replace(out + ".new", out)


save()
print(t.getsockname()[1], flush=True)
sel = selectors.DefaultSelector()
sel.register(t, selectors.EVENT_READ, "tcp")
sel.register(u, selectors.EVENT_READ, "udp")
while True:
    for key, _ in sel.select():
        if key.data == "tcp":
            c, _ = key.fileobj.accept()
            held.append(c)
        else:
            key.fileobj.recv(65536)
        counts[key.data] += 1
        save()
