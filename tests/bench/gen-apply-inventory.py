#!/usr/bin/env python3
"""Write the inventory of tests/bench/bench-apply.sh (also tests/cli/test_progress.py):
N domains in Z zones on the zonefile ("zones": directory zones/) and local
("www": directory www/) plugins, both relative to the inventory's directory.

Usage: gen-apply-inventory.py N Z OUTFILE
"""
import json
import sys

n, z, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
doms = [{"name": f"d{i}.z{i % z}.bench.test", "zone": f"z{i % z}.bench.test",
         "mx": [f"mx1.z{i % z}.bench.test", f"mx2.z{i % z}.bench.test"]} for i in range(n)]
inv = {"version": 1,
       "defaults": {"dns": "zones", "web": "www", "mode": "testing", "max_age": 604800,
                    "tlsrpt": {"rua": ["mailto:tlsrpt@bench.test"]}},
       "providers": {"zones": {"plugin": "zonefile", "directory": "zones", "create": True},
                     "www": {"plugin": "local", "root": "www"}},
       "domains": doms}
with open(out, "w", encoding="utf-8") as f:
    json.dump(inv, f)
