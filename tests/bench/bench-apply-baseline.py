#!/usr/bin/env python3
"""The bare cost apply is measured against: write the same policy files
atomically (create a temp file, write, fsync, rename), one after the other,
into ROOT/mta-sts.<domain>/.well-known/mta-sts.txt. Prints the wall seconds.
Usage: bench-apply-baseline.py INVENTORY ROOT"""
import json
import os
import sys
import time

inv = json.load(open(sys.argv[1]))
root = sys.argv[2]
d = inv.get("defaults", {})
texts = []
for dom in inv["domains"]:
    mode = dom.get("mode", d.get("mode", "testing"))
    max_age = dom.get("max_age", d.get("max_age", 604800))
    mx = dom.get("mx", d.get("mx", []))
    body = "version: STSv1\r\nmode: %s\r\n%smax_age: %d\r\n" % (
        mode, "".join("mx: %s\r\n" % m for m in mx), max_age)
    texts.append((dom["name"], body.encode()))
t0 = time.monotonic()
for name, body in texts:
    wk = os.path.join(root, "mta-sts." + name, ".well-known")
    os.makedirs(wk, exist_ok=True)
    tmp = os.path.join(wk, ".mta-sts.txt.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    os.write(fd, body)
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, os.path.join(wk, "mta-sts.txt"))
print("%.3f" % (time.monotonic() - t0))
