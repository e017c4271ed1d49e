#!/usr/bin/env python3
"""Check what a benchmark wrote against its inventory and `stsctl render --json`.

    verify-tree.py LAYOUT INVENTORY RENDER_JSON ROOT [SAMPLE]

LAYOUT is `json` (ROOT is `-`: RENDER_JSON is only compared with the
inventory), `render` (ROOT is a `stsctl render -o` tree: mta-sts.<domain>/
.well-known/mta-sts.txt, zones/<zone>.zone, nginx/mta-sts.<domain>.conf) or
`apply` (ROOT holds what the zonefile + local plugins wrote: www/mta-sts.<domain>/
.well-known/mta-sts.txt and zones/<zone>.zone, nothing else).

The expected numbers come from the inventory alone: one policy file (and, for
`render`, one nginx file) per domain, one zone file per distinct zone (a
domain's zone defaults to its own name, in A-labels), and, for `apply`, two
TXT records (_mta-sts and _smtp._tls) per domain. RENDER_JSON must list exactly
the inventory's domains. Then SAMPLE domains (default: all; a fixed,
seeded choice otherwise) are compared with RENDER_JSON: the policy file's bytes
with the policy text, and each of the domain's records, with its id, must be
a line of its zone file. Prints one line of what was checked; exits 1 with the
first differences when anything disagrees.
"""
import json
import os
import random
import sys


def a_label(name):
    name = name.rstrip(".").lower()
    return name if name.isascii() else name.encode("idna").decode()


def count_files(top):
    n = 0
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                else:
                    n += 1
    return n


def zone_lines(path):
    """The records of a zone file (comments and blank lines left out)."""
    with open(path, encoding="utf-8") as f:
        return {l.rstrip("\n") for l in f if l.strip() and not l.startswith(";")}


def main():
    layout, inv_path, json_path, root = sys.argv[1:5]
    sample = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    inv = json.load(open(inv_path, encoding="utf-8"))
    rendered = json.load(open(json_path, encoding="utf-8"))["domains"]
    errors = []

    names = [a_label(d["name"]) for d in inv["domains"]]
    zones = {a_label(d.get("zone") or d["name"]) for d in inv["domains"]}
    if any("hosting" in d for d in inv["domains"]) or "hosting" in inv.get("defaults", {}):
        errors.append("the benchmark inventories host every policy themselves: no 'hosting' expected")
    by_name = {d["domain"].rstrip(".").lower(): d for d in rendered}
    if len(rendered) != len(names) or set(by_name) != set(names):
        errors.append(f"render --json lists {len(rendered)} domains, the inventory {len(names)} "
                      f"({len(set(by_name) ^ set(names))} names differ)")

    n, z = len(names), len(zones)
    want, got, pick = {}, {}, []
    if layout == "json":
        pass
    elif layout == "render":
        want = {"files": 2 * n + z}
        got = {"files": count_files(root)}
        policy = lambda d: os.path.join(root, f"mta-sts.{d}", ".well-known", "mta-sts.txt")
        zdir = os.path.join(root, "zones")
    elif layout == "apply":
        want = {"policy files": n, "zone files": z, "TXT records": 2 * n}
        got = {"policy files": count_files(os.path.join(root, "www")),
               "zone files": count_files(os.path.join(root, "zones"))}
        got["TXT records"] = sum(sum("\tIN\tTXT\t" in l for l in zone_lines(e.path))
                                 for e in os.scandir(os.path.join(root, "zones")))
        policy = lambda d: os.path.join(root, "www", f"mta-sts.{d}", ".well-known", "mta-sts.txt")
        zdir = os.path.join(root, "zones")
    else:
        sys.exit(f"verify-tree: unknown layout '{layout}'")
    for k in want:
        if want[k] != got[k]:
            errors.append(f"{k}: {got[k]:,} written, {want[k]:,} expected from the inventory")

    if layout != "json":
        pick = sorted(names) if not sample or sample >= n else \
            sorted(random.Random(8461).sample(sorted(names), sample))
    cache = {}
    for name in pick:
        d = by_name.get(name)
        if d is None:
            continue
        try:
            text = open(policy(name), "rb").read()
        except OSError as e:
            errors.append(f"{name}: no policy file ({e.strerror})")
            continue
        if text != d["policy"]["text"].encode():
            errors.append(f"{name}: the policy file differs from render --json")
        zf = os.path.join(zdir, d["zone"].rstrip(".") + ".zone")
        if zf not in cache:
            try:
                cache[zf] = zone_lines(zf)
            except OSError as e:
                errors.append(f"{name}: no zone file {zf} ({e.strerror})")
                cache[zf] = set()
        for r in d["records"]:
            line = f'{r["name"]}\t{r["ttl"]}\tIN\t{r["type"]}\t"{r["value"]}"'
            if line not in cache[zf]:
                errors.append(f"{name}: zone file lacks {line!r}")
            if r["name"].startswith("_mta-sts.") and f'id={d["policy"]["id"]};' not in r["value"]:
                errors.append(f"{name}: the _mta-sts record does not carry the policy id")
        if layout == "render":
            conf = os.path.join(root, "nginx", f"mta-sts.{name}.conf")
            try:
                if f"server_name mta-sts.{name};" not in open(conf, encoding="utf-8").read():
                    errors.append(f"{name}: {conf} does not serve mta-sts.{name}")
            except OSError as e:
                errors.append(f"{name}: no nginx file ({e.strerror})")
    if errors:
        print(f"verify-tree: {root}: {len(errors)} problems, first ones:", file=sys.stderr)
        for e in errors[:10]:
            print(f"  {e}", file=sys.stderr)
        sys.exit(1)
    if layout == "json":
        print(f"{n:,} domains, exactly those of the inventory")
        return
    print(", ".join(f"{v:,} {k}" for k, v in got.items()) +
          f" (as expected); {len(pick):,} domains' policies, records and ids match render --json")


if __name__ == "__main__":
    main()
