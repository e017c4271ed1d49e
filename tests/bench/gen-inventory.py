#!/usr/bin/env python3
"""Write an inventory of N domains for the benchmark (docs/performance.md).

Usage: gen-inventory.py N OUTFILE

Shaped like an MSP's: every domain is its own zone with one or two MX
patterns; modes cycle none/testing/enforce; one domain in ten overrides
max_age and one in five its TLS-RPT address; one in a hundred is an IDN
(U-label) name. Deterministic: the same N gives the same file.
"""
import json
import sys

n, out = int(sys.argv[1]), sys.argv[2]
modes = ["enforce", "testing", "none"]
domains = []
for i in range(n):
    name = f"d{i:06d}.customer{i // 100:04d}.example"
    if i % 100 == 42:
        name = f"bücher{i:06d}.example"
    d = {"name": name, "mx": [f"mx1.{name}"] if i % 2 else [f"mail.{name}", "*.mx.provider.example"]}
    if i % 3:
        d["mode"] = modes[i % 3]
    if i % 10 == 7:
        d["max_age"] = 1209600
    if i % 5 == 3:
        d["tlsrpt"] = {"rua": [f"mailto:tls-reports@{name}"]}
    domains.append(d)

inventory = {
    "version": 1,
    "defaults": {
        "mode": "enforce",
        "max_age": 604800,
        "ttl": 3600,
        "tlsrpt": {"rua": ["mailto:tlsrpt@reports.provider.example"]},
    },
    "domains": domains,
}
with open(out, "w", encoding="utf-8") as f:
    json.dump(inventory, f, ensure_ascii=False, indent=1)
    f.write("\n")
