#!/usr/bin/env python3
"""Global behaviour of the stsctl command line and its documented exit codes
(docs/exit-codes.md): --version, help, unknown commands and options, failed
writes to standard output, error message style. TAP on stdout.
Usage: test_global_cli.py STSCTL VERSION
"""
import json
import re
import subprocess
import sys

from tap import done, report

STSCTL, VERSION = sys.argv[1], sys.argv[2]
EXIT_OK, EXIT_USAGE = 0, 2


def run(*args, stdout=subprocess.PIPE):
    p = subprocess.run([STSCTL, *args], stdout=stdout, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, text=True, timeout=30)
    return p.returncode, p.stdout or "", p.stderr


def expect(name, args, rc, out=None, err=None, out_re=None, err_re=None):
    """Run stsctl ARGS; compare the exit code, and stdout/stderr exactly or by regex."""
    got_rc, got_out, got_err = run(*args)
    why = []
    if got_rc != rc:
        why.append(f"exit {got_rc}, want {rc}")
    if out is not None and got_out != out:
        why.append(f"stdout {got_out!r}, want {out!r}")
    if err is not None and got_err != err:
        why.append(f"stderr {got_err!r}, want {err!r}")
    if out_re is not None and not re.search(out_re, got_out, re.M):
        why.append(f"stdout {got_out!r} does not match {out_re!r}")
    if err_re is not None and not re.search(err_re, got_err, re.M):
        why.append(f"stderr {got_err!r} does not match {err_re!r}")
    report(not why, name, "\n".join(why))
    return got_out, got_err


def error_style(name, err):
    """'stsctl: error: ' + lowercase first letter, no trailing period."""
    lines = [l for l in err.splitlines() if l.startswith("stsctl: error: ")]
    bad = [l for l in lines if not re.match(r"stsctl: error: [^A-Z]", l) or l.endswith(".")]
    report(bool(lines) and not bad, f"{name}: error message style",
           "no 'stsctl: error:' line" if not lines else "\n".join(bad))


# --version
# first line "stsctl VERSION" (scripts read it), then the plugin ABI and the
# libraries it runs with (issue 16: version and provenance)
VERSION_RE = (r"^stsctl " + re.escape(VERSION) + r"(-\d+-g[0-9a-f]+)?(-dirty)?\nplugin ABI 2\n"
              r"libcurl \d+\.\d+\S*\nOpenSSL \d+\.\d+\S*\njansson \d+\.\d+\S*\n"
              r"SQLite \d+\.\d+\S*\nlibssh2 (\d+\.\d+\S*|\(not built in\))\n$")
expect("--version prints the version, ABI and libraries", ["--version"], EXIT_OK, out_re=VERSION_RE, err="")
expect("-V prints the same", ["-V"], EXIT_OK, out_re=VERSION_RE, err="")
vj, _ = expect("--version --json", ["--version", "--json"], EXIT_OK, out_re=r"^\{", err="")
try:
    doc = json.loads(vj)
    ok = (doc["version"].startswith(VERSION) and doc["plugin_abi"] == 2
          and sorted(doc["libraries"]) == sorted(["libcurl", "OpenSSL", "jansson", "SQLite", "libssh2"])
          and vj.splitlines()[0] == "{")
    report(ok and run("--version")[1].splitlines()[0] == "stsctl " + doc["version"],
           "--version --json: version, plugin_abi, libraries; the same version as the text", vj)
except (ValueError, KeyError) as e:
    report(False, "--version --json: version, plugin_abi, libraries", f"{e}: {vj!r}")
expect("--version with another argument exits 2", ["--version", "x"], EXIT_USAGE, out="",
       err="stsctl: error: --version takes no argument but --json\n"
           "usage: stsctl --version [--json]\n")

# help and the command list
help_out, _ = expect("help lists the commands", ["help"], EXIT_OK, out_re=r"^commands:\n  \S", err="")
cmds = re.findall(r"^  (\S+)", help_out.split("commands:\n", 1)[-1], re.M)
report("help" in cmds and len(cmds) >= 2, "help lists itself and other commands", repr(cmds))
expect("--help equals help", ["--help"], EXIT_OK, out=help_out, err="")
expect("-h equals help", ["-h"], EXIT_OK, out=help_out, err="")
expect("help names the exit code doc", ["help"], EXIT_OK, out_re=r"docs/exit-codes\.md")
for c in cmds:
    _, usage, _ = run(c, "--help")
    report(usage.strip() != "" and usage.splitlines()[0].startswith(f"stsctl {c}"),
           f"'{c} --help' starts with its synopsis 'stsctl {c}'", repr(usage[:200]))
    expect(f"help {c} equals '{c} --help'", ["help", c], EXIT_OK, out=usage, err="")
    expect(f"'{c} -h' equals '{c} --help'", [c, "-h"], EXIT_OK, out=usage, err="")

# usage errors: exit 2, nothing on stdout
_, err = expect("no command is a usage error", [], EXIT_USAGE, out="", err_re=r"^commands:")
_, err = expect("unknown command exits 2", ["no-such-command"], EXIT_USAGE, out="",
                err_re=r"^stsctl: error: unknown command 'no-such-command'$")
error_style("unknown command", err)
expect("unknown global option exits 2", ["--no-such-option"], EXIT_USAGE, out="",
       err_re=r"usage: stsctl")
_, err = expect("help of an unknown command exits 2", ["help", "no-such-command"], EXIT_USAGE,
                out="", err_re=r"^stsctl: error: unknown command 'no-such-command'$")
error_style("help of an unknown command", err)
expect("help with two arguments exits 2", ["help", "lint", "render"], EXIT_USAGE, out="",
       err_re=r"^stsctl: error: ")

# a failed write to standard output is an error (STYLE.md convention 16)
with open("/dev/full", "w") as full:
    for args in (["--version"], ["help"], ["--help"], ["help", "help"], ["help", "--help"]):
        rc, _, err = run(*args, stdout=full)
        report(rc != 0 and "cannot write to standard output" in err,
               f"'stsctl {' '.join(args)} >/dev/full' fails", f"exit {rc}, stderr {err!r}")
    rc, _, err = run("--version", stdout=full)
    report(rc == EXIT_USAGE, "a failed write exits 2 (I/O error)", f"exit {rc}")

done()
