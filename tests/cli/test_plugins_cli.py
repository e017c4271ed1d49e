#!/usr/bin/env python3
"""stsctl plugins with plugin ABI 2 (docs/stsctl-plugins.md, docs/plugin-abi.md):
a plugin of ABI 1 is refused naming both versions; capabilities in --json; the
build tree's plugin directory is searched only by the build tree's own stsctl
(a copy elsewhere does not); --probe INVENTORY prints ok or the provider's own
error per instance, --json too, with the documented exit codes; a domain
without "zone" lands in the longest zone the provider lists. TAP on stdout.
Usage: test_plugins_cli.py STSCTL BUILD_ROOT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL, BUILD = sys.argv[1], sys.argv[2]
PLUGINS = os.path.join(BUILD, "plugins")
TESTING = os.path.join(BUILD, "tests", "plugins")


def run(*args, exe=STSCTL, env=None, cwd=None):
    e = dict(os.environ)
    e.pop("STSCTL_PLUGIN_PATH", None)
    e.update(env or {})
    p = subprocess.run([exe, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, text=True, timeout=60, env=e, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


# ---- a v1 plugin is refused, naming both versions ----
rc, out, err = run("plugins", "--json", env={"STSCTL_PLUGIN_PATH": TESTING})
doc = json.loads(out) if out.startswith("{") else {}
abi1 = [r for r in doc.get("refused", []) if r["name"] == "abi1"]
report(rc == 1, "plugins: exit 1 when a file is refused", f"rc={rc} {err}")
report(abi1 and abi1[0]["reason"] == "plugin ABI 1, this stsctl needs ABI 2; rebuild the "
       "plugin against stsctl-plugin 2", "the v1 plugin is refused with both versions",
       repr(abi1))
rc, out, err = run("plugins", env={"STSCTL_PLUGIN_PATH": TESTING})
report("abi1.so: plugin ABI 1, this stsctl needs ABI 2" in out,
       "text output names the file and both versions", out)

# ---- capabilities ----
plugins = {p["name"]: p for p in doc.get("plugins", [])}
want = {"powerdns": ["http", "credentials", "batch"], "zonefile": ["batch"], "local": [],
        "rfc2136": ["credentials", "batch"]}
bad = {n: plugins.get(n, {}).get("capabilities") for n, c in want.items()
       if plugins.get(n, {}).get("capabilities") != c}
report(not bad, "--json lists each plugin's capabilities", repr(bad))
report(plugins.get("zonefile", {}).get("ops") == {"zones": True, "probe": True},
       "--json says which optional ops a plugin has", repr(plugins.get("zonefile")))

# ---- search path: the build tree only for the build tree's stsctl ----
rc, out, _ = run("plugins", "--json")
path = json.loads(out)["search_path"]
report(path[0] == PLUGINS, "the build tree's stsctl searches build/plugins first", repr(path))
with tempfile.TemporaryDirectory() as tmp:
    copy = os.path.join(tmp, "stsctl")
    shutil.copy2(STSCTL, copy)
    rc, out, _ = run("plugins", "--json", exe=copy)
    path = json.loads(out)["search_path"] if out.startswith("{") else ["?"]
    report(PLUGINS not in path and not any(p.startswith(BUILD) for p in path),
           "a stsctl elsewhere (an installed one) never searches the build tree", repr(path))
    rc, out, _ = run("plugins", "--json", exe=copy, env={"STSCTL_PLUGIN_PATH": PLUGINS})
    path = json.loads(out)["search_path"] if out.startswith("{") else ["?"]
    report(path[0] == PLUGINS, "... unless STSCTL_PLUGIN_PATH names it", repr(path))

# ---- --probe ----
with tempfile.TemporaryDirectory() as tmp:
    os.mkdir(os.path.join(tmp, "zones"))
    with open(os.path.join(tmp, "zones", "example.com.zone"), "w") as f:
        f.write("; the parent zone\n")
    inv = {
        "version": 1,
        "defaults": {"dns": "zones", "web": "webroot", "mode": "testing", "max_age": 604800,
                     "tlsrpt": {"rua": ["mailto:tlsrpt@example.com"]}},
        "providers": {
            "zones": {"plugin": "zonefile", "directory": "zones"},
            "webroot": {"plugin": "local", "root": "missing/www"},
        },
        "domains": [{"name": "mail.example.com", "mx": ["mx1.example.com"]}],
    }
    ip = os.path.join(tmp, "inv.json")
    with open(ip, "w") as f:
        json.dump(inv, f)
    rc, out, err = run("plugins", "--probe", ip)
    lines = out.splitlines()
    report(rc == 1, "--probe: exit 1 when a probe fails", f"rc={rc} {err}")
    report("zones: ok" in lines, "--probe: ok for a provider that passes", out)
    report(any(l.startswith("webroot: directory '") and "missing/www' is not writable" in l
               for l in lines), "--probe: the provider's own error text", out)
    rc, out, err = run("plugins", "--probe", ip, "--json")
    doc = json.loads(out) if out.startswith("{") else {}
    res = {p["name"]: (p["result"], p["error"]) for p in doc.get("providers", [])}
    report(rc == 1 and res.get("zones") == ("ok", None) and res.get("webroot", ("",))[0] == "error"
           and "not writable" in (res["webroot"][1] or ""), "--probe --json", out + err)
    os.makedirs(os.path.join(tmp, "missing", "www"))
    rc, out, err = run("plugins", "--probe", ip)
    report(rc == 0 and out == "zones: ok\nwebroot: ok\n", "--probe: exit 0 when all pass",
           f"rc={rc} {out!r} {err}")
    inv["providers"]["zones"]["nonsense"] = 1
    with open(ip, "w") as f:
        json.dump(inv, f)
    rc, out, err = run("plugins", "--probe", ip)
    report(rc == 1 and "zones: " in out and "unknown setting 'nonsense'" in out,
           "--probe: a provider whose settings are wrong fails with why", f"rc={rc} {out} {err}")
    rc, out, err = run("plugins", "--probe", os.path.join(tmp, "nonexistent.json"))
    report(rc == 2, "--probe: an inventory that cannot be read is exit 2", f"rc={rc} {err}")

    # ---- a domain without "zone": the longest zone the provider lists ----
    del inv["providers"]["zones"]["nonsense"]
    with open(ip, "w") as f:
        json.dump(inv, f)
    rc, out, err = run("apply", ip, "--yes", "--state", os.path.join(tmp, "state.db"))
    with open(os.path.join(tmp, "zones", "example.com.zone")) as f:
        zone = f.read()
    report(rc == 0 and "_mta-sts.mail.example.com.\t3600\tIN\tTXT" in zone
           and not os.path.exists(os.path.join(tmp, "zones", "mail.example.com.zone")),
           "no \"zone\": the records go to the listed parent zone example.com",
           f"rc={rc} {err}\n{zone}")

done()
