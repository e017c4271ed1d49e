#!/usr/bin/env python3
"""The plugin SDK as a third party uses it (issue 13): install this build
with `meson install --destdir D`, build examples/plugin-skeleton (copied to
a temporary directory) with meson against the installed SDK only (pkg-config
stsctl-plugin found through PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR in
D; no include path into the source or build tree), then run the INSTALLED
stsctl with STSCTL_PLUGIN_PATH naming the skeleton's build directory (and
the installed plugin directory, for the `local` web plugin):

  - `stsctl plugins --json` lists the skeleton (kind dns, ABI of the
    installed header, its file in the skeleton's build directory) and
    neither searches nor lists anything of this build tree's plugins/;
  - `plan` and `apply` of a small inventory publish the _mta-sts and
    _smtp._tls TXT records to the fake REST API
    (tests/fakes/skeleton-dns/fakedns.py): values as the policy says, a
    foreign TXT beside them kept byte for byte, a TLS-RPT value over 255
    octets split into quoted strings, the zone's records read over more
    than one page, two 429 answers with Retry-After ridden out by the
    host's retries; a second apply changes nothing;
  - `stsctl plugins --probe` says ok with the right token and prints the
    provider's own error text with a wrong one.

TAP on stdout. Usage:
  test_sdk_skeleton.py BUILD_ROOT SOURCE_ROOT PREFIX BINDIR LIBDIR INCLUDEDIR
(the last four as meson's options say)
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from tap import done, report

BUILD, ROOT, PREFIX, BINDIR, LIBDIR, INCLUDEDIR = [os.path.abspath(a) if i < 2 else a
                                                   for i, a in enumerate(sys.argv[1:7])]
SKELETON = os.path.join(ROOT, "examples", "plugin-skeleton")
FAKE = os.path.join(ROOT, "tests", "fakes", "skeleton-dns", "fakedns.py")
TOKEN = "skeleton-test-token-7f3a"
DEADLINE = time.monotonic() + 100  # every wait below ends by then


def under(d, rel):
    """rel (absolute, e.g. /usr/local/bin) inside the destdir d."""
    return os.path.join(d, rel.lstrip("/"))


def run(cmd, env=None, cwd=None, timeout=60):
    t = max(1, min(timeout, DEADLINE - time.monotonic()))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=t, env=env, cwd=cwd,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {t:.0f} s: {cmd}"


NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fake_state(port):
    with NO_PROXY.open(f"http://127.0.0.1:{port}/_fake/state", timeout=10) as r:
        return json.load(r)


def start_fake(tmp, seed, throttle):
    pf = os.path.join(tmp, "fake.port")
    log = open(os.path.join(tmp, "fake.log"), "w")
    p = subprocess.Popen([sys.executable, FAKE, "--port-file", pf, "--token", TOKEN,
                          "--seed", seed, "--page-size", "2", "--throttle", str(throttle)],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    for _ in range(300):  # at most 30 s
        if os.path.exists(pf) or p.poll() is not None or time.monotonic() > DEADLINE:
            break
        time.sleep(0.1)
    port = open(pf).read().strip() if os.path.exists(pf) else None
    return p, port


def txt_strings(content):
    """The character-strings of a TXT presentation form (the fake's syntax)."""
    out, i = [], 0
    while i < len(content):
        if content[i] == " ":
            i += 1
            continue
        assert content[i] == '"', content
        i += 1
        s = ""
        while content[i] != '"':
            if content[i] == "\\":
                i += 1
            s += content[i]
            i += 1
        out.append(s)
        i += 1
    return out


def records(state, zone, name, rtype="TXT"):
    return [r for r in state["zones"].get(zone, []) if r["name"] == name and r["type"] == rtype]


tmp = tempfile.mkdtemp(prefix="stsctl-sdk-")
fake = None
try:
    # ---- 1. install this build into D ----
    D = os.path.join(tmp, "destdir")
    rc, out, err = run(["meson", "install", "--no-rebuild", "--quiet", "-C", BUILD,
                        "--destdir", D], timeout=60)
    report(rc == 0, "meson install --destdir", f"rc={rc}\n{out}\n{err}")
    stsctl = under(D, os.path.join(PREFIX, BINDIR, "stsctl"))
    header = under(D, os.path.join(PREFIX, INCLUDEDIR, "stsctl", "plugin.h"))
    pcdir = under(D, os.path.join(PREFIX, LIBDIR, "pkgconfig"))
    report(os.access(stsctl, os.X_OK), "installed: bin/stsctl", stsctl)
    report(os.path.isfile(header), "installed: include/stsctl/plugin.h", header)
    report(os.path.isfile(os.path.join(pcdir, "stsctl-plugin.pc")),
           "installed: stsctl-plugin.pc", pcdir)
    abi = None
    if os.path.isfile(header):
        for line in open(header, encoding="utf-8"):
            if line.startswith("#define STS_PLUGIN_ABI_VERSION"):
                abi = int(line.split()[2].rstrip("u"))
    inst_plugins = under(D, os.path.join(PREFIX, LIBDIR, "stsctl", f"plugins-{abi}"))
    report(os.path.isfile(os.path.join(inst_plugins, "local.so")),
           f"installed: the local plugin in plugins-{abi}", inst_plugins)

    # ---- 2. pkg-config finds the SDK in D only ----
    env = dict(os.environ)
    for k in ("PKG_CONFIG_LIBDIR", "CFLAGS", "CPPFLAGS", "LDFLAGS", "C_INCLUDE_PATH", "CPATH"):
        env.pop(k, None)
    env["PKG_CONFIG_PATH"] = pcdir
    env["PKG_CONFIG_SYSROOT_DIR"] = D
    rc, cflags, err = run(["pkg-config", "--cflags", "stsctl-plugin"], env=env)
    inc = under(D, os.path.join(PREFIX, INCLUDEDIR))
    report(rc == 0 and f"-I{inc}" in cflags.split(),
           "pkg-config --cflags stsctl-plugin: the include directory in D",
           f"rc={rc} cflags={cflags!r} want -I{inc}\n{err}")
    report(ROOT not in cflags and BUILD not in cflags,
           "pkg-config --cflags: nothing of the source or build tree", cflags)

    # ---- 3. build the skeleton out of tree against D ----
    src = os.path.join(tmp, "skeleton")
    bld = os.path.join(tmp, "skeleton-build")
    shutil.copytree(SKELETON, src)
    rc, out, err = run(["meson", "setup", bld, src], env=env, cwd=tmp, timeout=60)
    report(rc == 0, "meson setup of the skeleton", f"rc={rc}\n{out[-3000:]}\n{err[-3000:]}")
    rc, out, err = run(["ninja", "-C", bld, "-j2"], env=env, cwd=tmp, timeout=60)
    report(rc == 0, "ninja: the skeleton builds", f"rc={rc}\n{out[-3000:]}\n{err[-3000:]}")
    so = os.path.join(bld, "skeleton.so")
    report(os.path.isfile(so), "skeleton.so in its build directory", bld)
    cc_json = os.path.join(bld, "compile_commands.json")
    cmds = json.load(open(cc_json)) if os.path.isfile(cc_json) else []
    leaks = [c["command"] for c in cmds if ROOT in c["command"] or BUILD in c["command"]]
    report(cmds and not leaks, "the compile commands name nothing of stsctl's trees",
           "\n".join(leaks) or "no compile_commands.json")
    want_inc = f"-I{inc}"
    report(cmds and all(want_inc in c["command"] for c in cmds),
           "the compile commands take <stsctl/plugin.h> from D", json.dumps(cmds)[:2000])

    # the skeleton leaves retries, waiting, TXT splitting and quoting and name
    # spelling to the host: none of it in its code (comments aside)
    code = re.sub(r"/\*.*?\*/", "", open(os.path.join(SKELETON, "skeleton.c")).read(), flags=re.S)
    own = re.findall(r"\b(?:u?sleep|nanosleep|clock_nanosleep|poll|select|tolower|toupper|"
                     r"strn?casecmp|curl_\w+)\b|Retry-After|\b255\b|'\\?\"'", code)
    report(not own, "skeleton.c has no retry, wait, TXT or name code of its own", str(own))

    # ---- 4. the installed stsctl lists it and not the build tree ----
    penv = dict(os.environ)
    penv.pop("LD_LIBRARY_PATH", None)  # meson test points it at the build tree's plugins/
    for k in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        penv.pop(k, None)  # the fake is on loopback
    penv["STSCTL_PLUGIN_PATH"] = bld + ":" + inst_plugins
    penv["SKEL_TOKEN"] = TOKEN
    penv["SKEL_BAD_TOKEN"] = "not-the-token"
    rc, out, err = run([stsctl, "plugins", "--json"], env=penv, cwd=tmp)
    try:
        listing = json.loads(out)
    except ValueError:
        listing = {}
    report(rc == 0 and listing, "stsctl plugins --json: exit 0",
           f"rc={rc}\nrefused={listing.get('refused')}\n{out[:1500]}\n{err}")
    skel = [p for p in listing.get("plugins", []) if p.get("name") == "skeleton"]
    report(len(skel) == 1 and skel[0].get("kind") == "dns" and skel[0].get("abi") == abi
           and os.path.realpath(skel[0].get("path", "")) == os.path.realpath(so),
           "plugins --json lists the skeleton (dns, the header's ABI, its build directory)",
           json.dumps(listing)[:1500])
    build_plugins = os.path.join(BUILD, "plugins")
    searched = listing.get("search_path", [])
    report(listing and not any(os.path.realpath(d).startswith(os.path.realpath(build_plugins))
                               for d in searched),
           "the installed stsctl does not search the build tree's plugins/",
           f"search_path={searched}")
    listed = [p.get("path", "") for p in listing.get("plugins", []) + listing.get("refused", [])]
    report(listing and not any(os.path.realpath(p).startswith(os.path.realpath(BUILD))
                               for p in listed),
           "no plugin of the build tree is listed (zonefile only in build/plugins is not found)",
           "\n".join(listed))
    # zonefile.so is in the build tree's plugins/ (and in D, which is not in this
    # path); only a stsctl installed on this machine (the compiled-in plugin
    # directory, outside D) could hold one as well
    system_dir = os.path.join(PREFIX, LIBDIR, "stsctl", f"plugins-{abi}")
    rc2, out2, _ = run([stsctl, "plugins", "--json"],
                       env=dict(penv, STSCTL_PLUGIN_PATH=bld), cwd=tmp)
    try:
        found = {p.get("name"): p.get("path", "") for p in json.loads(out2).get("plugins", [])}
    except (ValueError, AttributeError):
        found = None
    zf_ok = (found is not None and "zonefile" not in found) or (
        found and os.path.dirname(found.get("zonefile", "")) == system_dir)
    report(zf_ok and found and "skeleton" in found,
           "with only the skeleton's directory in the path, zonefile of build/plugins is not found",
           f"rc={rc2} found={found}")

    # ---- 5. plan and apply against the fake ----
    seed = os.path.join(tmp, "seed.json")
    foreign = '"google-site-verification=Xq9 \\"quoted\\" part"'
    json.dump({"zones": {
        # five records, three pages of two: the foreign TXT on the last, so a
        # plugin that stopped after page one would not see it and drop it
        "example.com": [
            {"name": "example.com", "type": "MX", "ttl": 600, "content": "10 mx1.example.com."},
            {"name": "mx1.example.com", "type": "A", "ttl": 600, "content": "192.0.2.10"},
            {"name": "www.example.com", "type": "A", "ttl": 600, "content": "192.0.2.11"},
            {"name": "www.example.com", "type": "A", "ttl": 600, "content": "192.0.2.12"},
            {"name": "_mta-sts.example.com", "type": "TXT", "ttl": 600, "content": foreign},
        ],
        "example.org": [],
    }}, open(seed, "w"))
    fake, port = start_fake(tmp, seed, throttle=2)
    foreign_id = None
    if port:
        foreign_id = records(fake_state(port), "example.com", "_mta-sts.example.com")[0]["id"]
    report(port is not None, "the fake REST DNS API listens", open(
        os.path.join(tmp, "fake.log")).read())
    rua = [f"mailto:tls-reports-{i:02d}@reports-{i:02d}.example.com" for i in range(7)]
    inv = {
        "version": 1,
        "defaults": {"dns": "rest", "web": "www", "mode": "testing", "max_age": 604800,
                     "ttl": 300},
        "providers": {
            "rest": {"plugin": "skeleton", "url": f"http://127.0.0.1:{port}/v1",
                     "token": "${env:SKEL_TOKEN}", "per_page": 2},
            "www": {"plugin": "local", "root": "www"},
        },
        "domains": [
            {"name": "example.com", "mx": ["mx1.example.com"], "tlsrpt": {"rua": rua}},
        ],
    }
    inv_path = os.path.join(tmp, "inventory.json")
    json.dump(inv, open(inv_path, "w"), indent=1)
    state_db = os.path.join(tmp, "state", "stsctl.db")
    os.mkdir(os.path.dirname(state_db))

    rc, out, err = run([stsctl, "plan", inv_path, "--state", state_db], env=penv, cwd=tmp)
    report(rc == 0 and "_mta-sts.example.com." in out and "_smtp._tls.example.com." in out,
           "stsctl plan: exit 0, both records planned", f"rc={rc}\n{out}\n{err}")
    rc, out, err = run([stsctl, "apply", inv_path, "--yes", "--state", state_db],
                       env=penv, cwd=tmp)
    applied = rc == 0
    report(applied, "stsctl apply: exit 0", f"rc={rc}\n{out}\n{err}")

    policy_file = os.path.join(tmp, "www", "mta-sts.example.com", ".well-known", "mta-sts.txt")
    policy = open(policy_file, "rb").read() if os.path.exists(policy_file) else b""
    pid = hashlib.sha256(policy).hexdigest()[:32]
    st = fake_state(port) if port else {"zones": {}, "requests": []}
    sts = records(st, "example.com", "_mta-sts.example.com")
    contents = sorted(r["content"] for r in sts)
    report(contents == sorted([foreign, f'"v=STSv1; id={pid};"']),
           "_mta-sts: the policy's id published, the foreign TXT kept byte for byte",
           f"got={contents}\npolicy={policy!r}")
    # an rrset shared with a foreign value keeps its TTL (no TTL fight, sts_plan.c)
    report(applied and len(sts) == 2 and all(r["ttl"] == 600 for r in sts),
           "_mta-sts: the shared rrset keeps the foreign record's TTL", str(sts))
    report(applied and [r["id"] for r in sts if r["content"] == foreign] == [foreign_id],
           "_mta-sts: the foreign record itself untouched (same id)", str(sts))
    tls = records(st, "example.com", "_smtp._tls.example.com")
    want = "v=TLSRPTv1; rua=" + ",".join(rua)
    parts = txt_strings(tls[0]["content"]) if len(tls) == 1 else []
    report(len(want) > 255 and len(parts) >= 2 and "".join(parts) == want
           and all(len(s.encode()) <= 255 for s in parts) and len(parts[0]) == 255,
           "_smtp._tls: one record, its value over 255 octets split into quoted strings",
           f"got={tls}\nwant={want!r} ({len(want)} octets)")
    report(len(tls) == 1 and tls[0]["ttl"] == 300, "_smtp._tls: the inventory's TTL", str(tls))
    reqs = st["requests"]
    report(any(re.search(r"^GET /v1/zones/[^/]+/records\?(.*&)?page=3&", r) for r in reqs),
           "the zone's records were read over all three pages", "\n".join(reqs))
    report(sum(1 for r in reqs if r.endswith(" 429")) == 2
           and not any(r.endswith(" 401") for r in reqs),
           "two 429 answers ridden out by the host's retries, no 401", "\n".join(reqs))
    other = [r for r in st["zones"]["example.com"]
             if r["name"] not in ("_mta-sts.example.com", "_smtp._tls.example.com")]
    report(applied and len(other) == 4, "the zone's other records untouched", str(other))

    # ---- 6. a second apply changes nothing ----
    n_before = len(reqs)
    rc, out, err = run([stsctl, "apply", inv_path, "--yes", "--state", state_db],
                       env=penv, cwd=tmp)
    st2 = fake_state(port) if port else {"zones": {}, "requests": []}
    writes = [r for r in st2["requests"][n_before:] if not r.startswith("GET ")]
    report(rc == 0 and not writes and st2["zones"] == st["zones"],
           "a second apply: exit 0, no write request, the same records",
           f"rc={rc}\n{out}\n{err}\nwrites={writes}")

    # ---- 7. a changed policy and TLS-RPT: both records replaced, the foreign one kept ----
    old_ids = {r["content"]: r["id"] for r in records(st2, "example.com", "_mta-sts.example.com")
               + records(st2, "example.com", "_smtp._tls.example.com")}
    inv["domains"][0].update(mode="enforce", tlsrpt={"rua": ["mailto:tlsrpt@example.com"]})
    json.dump(inv, open(inv_path, "w"), indent=1)
    n_before = len(st2["requests"])
    rc, out, err = run([stsctl, "apply", inv_path, "--yes", "--state", state_db],
                       env=penv, cwd=tmp)
    policy = open(policy_file, "rb").read() if os.path.exists(policy_file) else b""
    pid2 = hashlib.sha256(policy).hexdigest()[:32]
    st4 = fake_state(port) if port else {"zones": {}, "requests": []}
    sts = records(st4, "example.com", "_mta-sts.example.com")
    tls = records(st4, "example.com", "_smtp._tls.example.com")
    report(rc == 0 and b"mode: enforce" in policy and pid2 != pid
           and sorted(r["content"] for r in sts) == sorted([foreign, f'"v=STSv1; id={pid2};"'])
           and [r["content"] for r in tls] == ['"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"'],
           "a changed policy: the new id and TLS-RPT value published, the old ones gone",
           f"rc={rc}\n{out}\n{err}\n_mta-sts={sts}\n_smtp._tls={tls}")
    writes = [r for r in st4["requests"][n_before:] if not r.startswith("GET ")]
    mine = sorted(i for c, i in old_ids.items() if c != foreign)
    report(len(mine) == 2 and sorted(w.split()[1].rsplit("/", 1)[1] for w in writes) == mine
           and all(w.startswith("PUT ") and w.endswith(" 200") for w in writes)
           and sorted(r["id"] for r in sts + tls if r["content"] != foreign) == mine,
           "a changed policy: each new value took over the old value's record in one PUT "
           "(never none or both), the foreign one not written", "\n".join(writes))

    # ---- 8. zone discovery: a domain without "zone" below a listed zone ----
    inv2 = json.loads(json.dumps(inv))
    inv2["domains"] = [{"name": "shop.example.org", "mx": ["mx.example.org"],
                        "tlsrpt": {"rua": ["mailto:tls@example.org"]}}]
    inv2_path = os.path.join(tmp, "inventory-zones.json")
    json.dump(inv2, open(inv2_path, "w"))
    rc, out, err = run([stsctl, "apply", inv2_path, "--yes", "--state",
                        os.path.join(tmp, "state", "zones.db")], env=penv, cwd=tmp)
    st3 = fake_state(port) if port else {"zones": {}}
    names = sorted(r["name"] for r in st3["zones"].get("example.org", []))
    report(rc == 0 and names == ["_mta-sts.shop.example.org", "_smtp._tls.shop.example.org"],
           "zones(): a domain without 'zone' lands in the listed zone example.org",
           f"rc={rc}\n{out}\n{err}\nexample.org: {names}")

    # ---- 9. probe ----
    def probe_json(path):
        rc, out, err = run([stsctl, "plugins", "--probe", path, "--json"], env=penv, cwd=tmp)
        try:
            res = {p["name"]: p for p in json.loads(out).get("providers", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            res = {}
        return rc, res, f"rc={rc}\n{out}\n{err}"

    rc, res, detail = probe_json(inv_path)
    report(rc == 0 and res.get("rest", {}).get("result") == "ok"
           and res.get("rest", {}).get("plugin") == "skeleton",
           "plugins --probe --json: the skeleton's provider ok with the token", detail)
    before = len(fake_state(port)["requests"]) if port else 0
    rc, out, err = run([stsctl, "plugins", "--probe", inv_path], env=penv, cwd=tmp)
    reqs = fake_state(port)["requests"][before:] if port else []
    report(rc == 0 and "rest: ok\n" in out and reqs and all(r.startswith("GET ") for r in reqs),
           "plugins --probe: 'rest: ok', having only read from the API",
           f"rc={rc}\n{out}\n{err}\n{reqs}")
    bad = json.loads(json.dumps(inv))
    bad["providers"]["rest"]["token"] = "${env:SKEL_BAD_TOKEN}"
    bad_path = os.path.join(tmp, "inventory-bad.json")
    json.dump(bad, open(bad_path, "w"))
    rc, out, err = run([stsctl, "plugins", "--probe", bad_path], env=penv, cwd=tmp)
    line = [x for x in out.splitlines() if x.startswith("rest: ")]
    report(rc == 1 and len(line) == 1 and "401" in line[0]
           and "missing or invalid bearer token" in line[0],
           "plugins --probe: a wrong token fails (exit 1) with the provider's own text",
           f"rc={rc}\n{out}\n{err}")
    report("not-the-token" not in out + err and "[secret]" in out,
           "plugins --probe: the token the fake echoes back is shown as [secret], never in clear",
           f"rc={rc}\n{out}\n{err}")
    rc, res, detail = probe_json(bad_path)
    report(rc == 1 and res.get("rest", {}).get("result") == "error"
           and "missing or invalid bearer token" in res.get("rest", {}).get("error", "")
           and "not-the-token" not in json.dumps(res),
           "plugins --probe --json: the provider's text in the JSON, without the token", detail)
except Exception:  # noqa: BLE001 - any crash is one failed check, with its trace
    import traceback
    report(False, "the test ran to its end", traceback.format_exc())
finally:
    if fake is not None:
        fake.terminate()
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
    shutil.rmtree(tmp, ignore_errors=True)
done()
