#!/usr/bin/env python3
"""Write docs/plugins/<name>.md for each plugin from its settings schema,
as `stsctl plugins --json` reports it (the schema the loader checks), so
the docs cannot drift from the code: tests/cli/test_plugin_docs.py runs this
into a temporary directory and fails on any difference.
Usage: gen.py STSCTL OUTDIR   (the build's stsctl, which searches its build
tree's plugins first; `meson compile -C BUILD plugin-docs` runs it on docs/plugins)
"""
import json
import os
import subprocess
import sys


def cell(s):
    """a table cell: | escaped, no line breaks"""
    return str(s).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def code(s):
    """a code span that holds s (backticks inside taken care of)"""
    s = str(s)
    fence = "``" if "`" in s else "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def allowed(s):
    """range, choices or pattern: what the loader accepts beyond the type"""
    parts = []
    if "range" in s:
        parts.append(f"{s['range'][0]} to {s['range'][1]}")
    if s.get("choices"):
        parts.append("one of " + ", ".join(code(c) for c in s["choices"]))
    if s.get("pattern"):
        hint = s.get("pattern_hint")
        parts.append(f"matches {code(s['pattern'])}" + (f" ({hint})" if hint else ""))
    return "; ".join(parts) or "-"


def page(p):
    name, kind = p["name"], p["kind"]
    lines = [
        f"# Plugin {name}",
        "",
        "<!-- Generated from the plugin's settings schema by docs/plugins/gen.py"
        " (`meson compile -C BUILD plugin-docs`); do not edit:"
        " tests/cli/test_plugin_docs.py fails on any difference. -->",
        "",
        f"{p.get('description') or name}.",
        "",
        f"A {kind} provider: an instance in the inventory's `providers` section"
        f" with `\"plugin\": \"{name}\"`"
        " ([inventory.md](../inventory.md#providers)). ABI version"
        f" {p['abi']}; capabilities: {', '.join(p.get('capabilities') or []) or 'none'}.",
        "",
        "## Settings",
        "",
    ]
    settings = p.get("settings") or []
    if not settings:
        lines += ["This plugin takes no settings.", ""]
    else:
        lines += ["| setting | type | required | default | allowed | secret | description |",
                  "|---|---|---|---|---|---|---|"]
        for s in settings:
            d = s.get("default")
            lines.append("| " + " | ".join([
                cell(code(s["key"])), cell(s["type"]),
                "yes" if s.get("required") else "no",
                cell(code(d)) if d is not None else "-",
                cell(allowed(s)),
                "yes" if s["type"] == "secret" else "no",
                cell(s.get("description") or ""),
            ]) + " |")
        lines.append("")
        types = {s["type"] for s in settings}
        if "secret" in types:
            lines += ["A secret setting takes a reference, `${env:NAME}` or `${file:PATH}`,"
                      " never the value in clear ([inventory.md](../inventory.md#secrets)).",
                      ""]
        if "path" in types:
            lines += ["A path is relative to the directory of the inventory file.", ""]
    if kind == "web":
        lines += [
            "Every web provider instance also takes the host's own keys `address`,"
            " `cname` and `verify`, read by plan and apply rather than by the plugin"
            " ([inventory.md](../inventory.md#the-policy-hosts-records-address-and-cname)).",
            "",
        ]
    lines += ["Every instance may also say `\"insecure_http\": true`"
              " ([inventory.md](../inventory.md#providers)).", ""]
    return "\n".join(lines)


def main():
    stsctl, out = sys.argv[1], sys.argv[2]
    env = dict(os.environ)
    env.pop("STSCTL_PLUGIN_PATH", None)  # the build tree's plugins, nothing else
    r = subprocess.run([stsctl, "plugins", "--json"], capture_output=True, text=True,
                       env=env, timeout=60)
    doc = json.loads(r.stdout)
    os.makedirs(out, exist_ok=True)
    for p in sorted(doc["plugins"], key=lambda p: p["name"]):
        if p.get("shadowed") or "settings" not in p:
            continue
        with open(os.path.join(out, p["name"] + ".md"), "w", encoding="utf-8") as f:
            f.write(page(p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
