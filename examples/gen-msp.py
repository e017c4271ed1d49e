#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write examples/msp.json: an MSP inventory (docs/inventory.md) with
tenants, defaults, named provider instances and a few hundred domains.

Deterministic: the same output every run. Usage:
    examples/gen-msp.py > examples/msp.json
    examples/gen-msp.py --domains 100000 > /tmp/big.json   (benchmarks)
"""
import argparse
import json
import sys

WORDS = ["alpine", "harbor", "cedar", "orbit", "meadow", "quartz", "summit", "willow",
         "copper", "falcon", "juniper", "lumen", "maple", "nimbus", "onyx", "prairie"]

TENANTS = {
    # a customer on full enforcement, with a longer max_age
    "acme": {"mode": "enforce", "max_age": 1209600},
    # its own DNS instance and a second report address over HTTPS
    "globex": {"dns": "zones-us",
               "tlsrpt": {"rua": ["mailto:tlsrpt@globex.example",
                                  "https://tlsrpt.globex.example/v1/report"]}},
    # every domain is a subdomain in the customer's parent zone
    "initech": {"zone": "initech.example", "mode": "enforce"},
    # policy hosted by an MTA-STS provider: only CNAMEs are published (RFC 8461 section 8.2)
    "umbrella": {"mode": "enforce",
                 "hosting": {"delegate": {"sts": "_mta-sts.sts-provider.example",
                                          "policy_host": "mta-sts.sts-provider.example"}}},
    # leaving: mode none keeps the mx lines until every cached policy expired
    "retired": {"mode": "none", "max_age": 86400},
}


def domains(n):
    out = []
    # initech: departments in the parent zone initech.example
    for dept in ["hr", "sales", "support", "eng", "legal", "finance"]:
        out.append({"name": f"{dept}.initech.example", "tenant": "initech"})
    # a domain given as a U-label: stored as xn--bcher-shop-9db.example
    out.append({"name": "bücher-shop.example", "tenant": "globex"})
    # a domain of its own zone that overrides mx and mode
    out.append({"name": "mail.example.org", "zone": "example.org", "mode": "enforce",
                "mx": ["mx.example.org", "backup-mx.example.net"]})
    # being removed
    out.append({"name": "old-brand.example", "tenant": "retired", "state": "absent"})
    tenants = ["acme", "globex", "umbrella", "retired", None]
    i = 0
    while len(out) < n:
        word = WORDS[i % len(WORDS)]
        t = tenants[i % len(tenants)]
        d = {"name": f"{word}{i // len(WORDS) + 1}.example"}
        if t:
            d["tenant"] = t
        if i % 7 == 3 and t != "retired":
            d["mode"] = "testing"  # a domain still in testing in an enforcing tenant
        if i % 11 == 5:
            d["mx"] = [f"mx.{d['name']}"]  # the customer runs its own MX
        out.append(d)
        i += 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=300)
    args = ap.parse_args()
    head = {
        "version": 1,
        "defaults": {
            "mx": ["mx1.mailhost.example", "mx2.mailhost.example"],
            "mode": "testing",
            "max_age": 604800,
            "ttl": 3600,
            "tlsrpt": {"rua": ["mailto:tlsrpt@mailhost.example"]},
            "dns": "zones-eu",
            "web": "web",
        },
        "providers": {
            "zones-eu": {"plugin": "zonefile", "directory": "out/msp/zones-eu", "create": True},
            "zones-us": {"plugin": "zonefile", "directory": "out/msp/zones-us", "create": True},
            "web": {"plugin": "local", "root": "out/msp/www"},
        },
        "tenants": TENANTS,
    }
    w = sys.stdout.write
    # readable and diff-friendly: sections indented, one domain per line
    text = json.dumps(head, indent=2, ensure_ascii=False)
    w(text[:-2] + ',\n  "domains": [\n')
    ds = domains(args.domains)
    for k, d in enumerate(ds):
        w("    " + json.dumps(d, ensure_ascii=False) + (",\n" if k + 1 < len(ds) else "\n"))
    w("  ]\n}\n")


if __name__ == "__main__":
    main()
