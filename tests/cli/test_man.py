#!/usr/bin/env python3
"""The man pages and what `meson install` puts beside stsctl (issue 16).

Pages (built from docs/ by pandoc and docs/man.lua): stsctl(1), one
stsctl-CMD(1) per docs/stsctl-CMD.md, stsctl-inventory(5) and
stsctl-plugin(7), and no other. Each renders with
`MANWIDTH=80 man --warnings -l PAGE` without a warning, except a table
wider than the line, only for the tables listed in WIDE_TABLES, and a table
text block that does not fit on one page, only for the tables listed in
LONG_TABLES (each listed table must still warn); each has
a NAME line lexgrog(1) (whatis, apropos) can read, and no link target left
as a docs/ file name where a page exists.

Then `meson install --destdir` of this build puts, under the prefix: the
man pages in MANDIR/manN; the bash and zsh completion scripts (the built
stsctl's `completion bash|zsh`) in DATADIR/bash-completion/completions/stsctl
and DATADIR/zsh/vendor-completions/_stsctl; the units of `watch` (Type=notify),
`receive` (Type=exec) and `serve` (Type=notify, allowed to bind ports
80 and 443) in lib/systemd/system, running the installed stsctl as the
user stsctl in /var/lib/stsctl, which `systemd-analyze verify` accepts;
lib/sysusers.d/stsctl.conf and lib/tmpfiles.d/stsctl.conf; docs/*.md,
docs/plugins/*.md (in plugins/) and examples/ in DATADIR/doc/stsctl.

TAP on stdout. Usage:
  test_man.py STSCTL BUILD_ROOT SOURCE_ROOT PREFIX BINDIR DATADIR MANDIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL, BUILD, ROOT = [os.path.abspath(a) for a in sys.argv[1:4]]
PREFIX, BINDIR, DATADIR, MANDIR = sys.argv[4:8]
DOCS = os.path.join(ROOT, "docs")

# Tables allowed to be wider than 80 columns (tbl's "table wider than line
# width", troff's "can't break line" in one of their cells): (page, the
# table's header row, " #N" for the N-th table of that header in the page).
# docs/man.lua fits every other table; these have words (JSON keys, URL
# patterns) longer than the column they are in.
WIDE_TABLES = {
    ("stsctl-inventory.5", "key | type | default | "),  # a domain's keys: rollout's keys
    ("stsctl-inventory.5", "key | range | default | "),  # reports.https: max_body_memory
}

# Tables with a text block (T{ ... T}) that troff cannot keep on one page
# ("warning: page N: table text block will not fit on one page", which
# names no line: long_tables() finds the table): (page, table) as above.
# Where a block falls relative to a page break depends on the text above
# it, so an edit of a page may add or remove one: list it here then (the
# page still renders whole; debian/stsctl.lintian-overrides accepts the
# same message in the package).
LONG_TABLES = {
    ("stsctl-serve.1", "code | meaning"),  # the exit codes: 1's cell is a long paragraph
    ("stsctl-inventory.5", "key | type |  #3"),  # the third key/type table: long descriptions
}
LONG_WARNING = "table text block will not fit on one page"


def run(cmd, env=None, timeout=60):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def expected_pages():
    pages = {"stsctl.1": "stsctl.md", "stsctl-inventory.5": "inventory.md",
             "stsctl-plugin.7": "plugin-abi.md"}
    for f in sorted(os.listdir(DOCS)):
        if f.startswith("stsctl-") and f.endswith(".md"):
            pages[f[:-3] + ".1"] = f
    return pages


def clean(roff):
    """Roff text as read: no font changes, escapes as their characters."""
    roff = re.sub(r"\\f(\[[A-Z]*\]|[A-Z])", "", roff)
    roff = roff.replace("\\-", "-").replace("\\[dq]", '"').replace("\\[aq]", "'")
    return re.sub(r"\\\[.*?\]|\\.", "", roff).strip()


def tables(roff_lines):
    """[(first line, last line, name)] of each table (1-based lines); the name
    is the header row, 'a | b | c', with ' #N' for the N-th table of that
    header in the page (N > 1)."""
    out, seen, i = [], {}, 0
    while i < len(roff_lines):
        if not roff_lines[i].startswith(".TS"):
            i += 1
            continue
        start = i
        while i < len(roff_lines) and not roff_lines[i].rstrip().endswith("."):
            i += 1  # options; the format line ends with "."
        i += 1
        head = []
        while i < len(roff_lines) and roff_lines[i] not in ("_", ".TE"):
            head.append(roff_lines[i])
            i += 1
        cells = [clean(c.replace("T{", "").replace("T}", "").replace("\n", " "))
                 for c in "\n".join(head).split("@")]
        name = " | ".join(c.replace("\n", " ").strip() for c in cells)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f" #{seen[name]}"
        while i < len(roff_lines) and not roff_lines[i].startswith(".TE"):
            i += 1
        out.append((start + 1, i + 1, name))
    return out


def table_at(roff_lines, lineno):
    """The name of the table around line lineno (tbl says "around")."""
    best = None
    for first, last, name in tables(roff_lines):
        if first - 2 <= lineno <= last + 2:
            best = name
    return best


def long_tables(path, roff_lines, env):
    """The table of each LONG_WARNING in the page, in order: the page again
    with a `.tm` marker before each table; troff writes the markers and its
    warnings to stderr in the order it formats them."""
    names = [t[2] for t in tables(roff_lines)]
    out, k = [], 0
    for line in roff_lines:
        if line.startswith(".TS"):
            out.append(f".tm stsctl-table {k}")
            k += 1
        out.append(line)
    with tempfile.TemporaryDirectory(prefix="stsctl-man-") as tmp:
        marked = os.path.join(tmp, os.path.basename(path))
        with open(marked, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
        _, _, err = run(["man", "--warnings", "-l", marked], env=env)
    found, cur = [], None
    for line in err.splitlines():
        m = re.fullmatch(r"stsctl-table (\d+)", line.strip())
        if m:
            cur = names[int(m.group(1))]
        elif LONG_WARNING in line:
            found.append(cur)
    return found


def check_page(path, name):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    rc, out, err = run(["man", "--warnings", "-l", path], env=env)
    report(rc == 0 and out.strip() != "", f"{name}: man -l renders it", f"rc={rc}\n{err}")
    with open(path, encoding="utf-8") as f:
        roff = f.read().splitlines()
    # tbl: "warning: file '<standard input>', around line N:" + "  table wider than line
    # width"; troff, in a cell of such a table's narrow column (a diversion 3tbdROW,COL):
    # "troff: <standard input>:N: warning [... div '3tbd1,2' ...]: can't break line"
    bad, wide, long, located = [], set(), set(), []
    lines = err.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.search(r"warning: file '[^']*', around line (\d+):$", line)
        if LONG_WARNING in line:
            i += 1
            n_long = sum(LONG_WARNING in x for x in lines[:i])
            located = long_tables(path, roff, env) if n_long == 1 else located
            t = located[n_long - 1] if n_long <= len(located) else None
            if (name, t) in LONG_TABLES:
                long.add(t)
                continue
            bad.append(f"{line}  [table {t!r}: list ({name!r}, {t!r}) in LONG_TABLES"
                       " if the page cannot do without it]")
            continue
        if m and i + 1 < len(lines) and "table wider than line width" in lines[i + 1]:
            i += 1
        else:
            m = re.search(r":(\d+): warning \[[^]]*div '3tbd[\d,]+'[^]]*\]: "
                          r"(can't break line|cannot adjust line)$", line)
        i += 1
        if m:
            t = table_at(roff, int(m.group(1)))
            if (name, t) in WIDE_TABLES:
                wide.add(t)
                continue
            bad.append(f"{line}  [table {t!r}: list ({name!r}, {t!r}) in WIDE_TABLES"
                       " if it cannot be narrower]")
        else:
            bad.append(line)
    report(not bad, f"{name}: no warnings from man --warnings", "\n".join(bad))
    stale = {t for (p, t) in WIDE_TABLES if p == name} - wide
    report(not stale, f"{name}: every table listed in WIDE_TABLES is still too wide",
           "\n".join(f"({name!r}, {t!r}) no longer warns: drop it" for t in sorted(stale)))
    stale = {t for (p, t) in LONG_TABLES if p == name} - long
    report(not stale, f"{name}: every table listed in LONG_TABLES still has a block"
           " that does not fit on one page",
           "\n".join(f"({name!r}, {t!r}) no longer warns: drop it" for t in sorted(stale)))
    rc, out, err = run(["lexgrog", path])
    base = name.rsplit(".", 1)[0]
    report(rc == 0 and f"{base} - " in out.replace("\\-", "-"),
           f"{name}: lexgrog reads its NAME line", out + err)
    prose, code = [], False  # the code blocks (the SYNOPSIS is --help) may name files
    for line in roff:
        code = (code or line == ".nf") and line != ".fi"
        if not code:
            prose.append(line)
    left = re.findall(r"(?<![\w/-])(?:docs/)?(?:stsctl(?:-[a-z]+)?|inventory|plugin-abi)\.md\b",
                      "\n".join(prose))
    report(not left, f"{name}: links to other pages are man references",
           "still named as files: " + ", ".join(sorted(set(left))))


def under(d, rel):
    return os.path.join(d, PREFIX.lstrip("/"), rel)


def check_install(pages):
    tmp = tempfile.mkdtemp(prefix="stsctl-man-")
    try:
        D = os.path.join(tmp, "d")
        rc, out, err = run(["meson", "install", "--no-rebuild", "--quiet", "-C", BUILD,
                            "--destdir", D], timeout=90)
        if not report(rc == 0, "meson install --destdir", f"rc={rc}\n{out}\n{err}"):
            return
        for p in sorted(pages):
            sec = p.rsplit(".", 1)[1]
            f = under(D, os.path.join(MANDIR, "man" + sec, p))
            report(os.path.isfile(f), f"installed: {MANDIR}/man{sec}/{p}", f)
        for shell, rel in (("bash", os.path.join(DATADIR, "bash-completion", "completions",
                                                 "stsctl")),
                           ("zsh", os.path.join(DATADIR, "zsh", "vendor-completions",
                                                "_stsctl"))):
            f = under(D, rel)
            rc, want, err = run([STSCTL, "completion", shell])
            got = open(f).read() if os.path.isfile(f) else None
            report(rc == 0 and got == want, f"installed: {rel} is `stsctl completion {shell}`",
                   f"{f}: {'missing' if got is None else 'differs'}")
        bindir = os.path.join(PREFIX, BINDIR)
        for unit, kind in (("stsctl-watch.service", "notify"),
                           ("stsctl-receive.service", "exec"),
                           ("stsctl-serve.service", "notify")):
            f = under(D, os.path.join("lib", "systemd", "system", unit))
            text = open(f).read() if os.path.isfile(f) else ""
            keys = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
            cmd = unit.split("-")[1].split(".")[0]
            want = {"Type": kind, "User": "stsctl", "Group": "stsctl", "StateDirectory": "stsctl",
                    "StateDirectoryMode": "0700", "WorkingDirectory": "/var/lib/stsctl",
                    "ProtectSystem": "strict", "NoNewPrivileges": "yes", "ProtectHome": "yes",
                    "PrivateTmp": "yes"}
            wrong = [f"{k}={keys.get(k)!r}, want {v!r}" for k, v in want.items()
                     if keys.get(k) != v]
            if not keys.get("ExecStart", "").startswith(f"{bindir}/stsctl {cmd} "):
                wrong.append(f"ExecStart={keys.get('ExecStart')!r}, want {bindir}/stsctl {cmd} ...")
            if "/etc/stsctl/inventory.json" not in keys.get("ExecStart", "") or \
                    "--state /var/lib/stsctl/stsctl.db" not in keys.get("ExecStart", ""):
                wrong.append("ExecStart: not /etc/stsctl/inventory.json and"
                             " --state /var/lib/stsctl/stsctl.db")
            if unit == "stsctl-serve.service":  # ports 80 and 443 as the unprivileged user
                for k in ("AmbientCapabilities", "CapabilityBoundingSet"):
                    if keys.get(k) != "CAP_NET_BIND_SERVICE":
                        wrong.append(f"{k}={keys.get(k)!r}, want 'CAP_NET_BIND_SERVICE'")
            if "@" in text:
                wrong.append("an @VARIABLE@ left unconfigured")
            report(text and not wrong, f"installed: lib/systemd/system/{unit}",
                   f + "\n" + "\n".join(wrong))
        # systemd's own check, ExecStart pointed at the built stsctl (the
        # installed one is not at its path outside the destdir)
        analyze = shutil.which("systemd-analyze")
        if analyze:
            units = []
            for unit in ("stsctl-watch.service", "stsctl-receive.service",
                         "stsctl-serve.service"):
                f = under(D, os.path.join("lib", "systemd", "system", unit))
                units.append(os.path.join(tmp, unit))
                with open(f) as src, open(units[-1], "w") as dst:
                    dst.write(src.read().replace(f"{bindir}/stsctl ", f"{STSCTL} "))
            rc, out, err = run([analyze, "verify", "--man=no", *units])
            report(rc == 0 and not err.strip(), "systemd-analyze verify accepts the three units",
                   f"rc={rc}\n{out}{err}")
        else:
            report(True, "systemd-analyze verify accepts the three units # SKIP no systemd-analyze")
        f = under(D, "lib/sysusers.d/stsctl.conf")
        text = open(f).read() if os.path.isfile(f) else ""
        report(re.search(r"^u\s+stsctl\s+-\s+\".*\"\s+/var/lib/stsctl\s*$", text, re.M),
               "installed: lib/sysusers.d/stsctl.conf makes the system user stsctl", f + text)
        f = under(D, "lib/tmpfiles.d/stsctl.conf")
        text = open(f).read() if os.path.isfile(f) else ""
        report(re.search(r"^d\s+/var/lib/stsctl\s+0700\s+stsctl\s+stsctl\s", text, re.M),
               "installed: lib/tmpfiles.d/stsctl.conf makes /var/lib/stsctl 0700 stsctl",
               f + text)
        docdir = os.path.join(DATADIR, "doc", "stsctl")
        missing = [f for f in os.listdir(DOCS) if f.endswith(".md")
                   and not os.path.isfile(under(D, os.path.join(docdir, f)))]
        missing += ["plugins/" + f for f in os.listdir(os.path.join(DOCS, "plugins"))
                    if f.endswith(".md")
                    and not os.path.isfile(under(D, os.path.join(docdir, "plugins", f)))]
        for f in ("quickstart.json", "single-domain.json", "msp.json",
                  "plugin-skeleton/skeleton.c", "plugin-skeleton/meson.build"):
            if not os.path.isfile(under(D, os.path.join(docdir, "examples", f))):
                missing.append("examples/" + f)
        report(not missing,
               f"installed: docs/*.md, docs/plugins/*.md and examples/ in {docdir}",
               "missing: " + ", ".join(missing))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


pages = expected_pages()
built = {f for f in os.listdir(os.path.join(BUILD, "docs")) if re.fullmatch(r"[\w-]+\.[157]", f)}
report(built == set(pages), "one page per doc: stsctl(1), stsctl-CMD(1), stsctl-inventory(5),"
       " stsctl-plugin(7)", f"missing: {sorted(set(pages) - built)}\n"
       f"unexpected: {sorted(built - set(pages))}")
for p in sorted(built & set(pages)):
    check_page(os.path.join(BUILD, "docs", p), p)
check_install(pages)
done()
