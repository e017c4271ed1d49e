#!/usr/bin/env python3
"""stsctl completion (docs/stsctl-completion.md): the bash script is generated
from the command and option tables, so it offers every command, every
option of each command as its --help lists them, files for file options and
the inventory argument, and domains and tenants read from the inventory on
the command line. Driven through bash itself: the script is sourced, then
COMP_WORDS/COMP_CWORD are set as readline would and _stsctl is called.

Usage: test_completion.py STSCTL
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL = sys.argv[1]


def run(*args):
    p = subprocess.run([STSCTL, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


rc, script, err = run("completion", "bash")
report(rc == 0 and err == "" and "complete -F _stsctl stsctl" in script,
       "completion bash prints a script that registers _stsctl", f"exit {rc}, stderr {err!r}")

top = tempfile.mkdtemp(prefix="stsctl-completion.")
path = os.path.join(top, "stsctl.bash")
work = os.path.join(top, "work")
os.makedirs(work)
with open(path, "w", encoding="utf-8") as f:
    f.write(script)
inv = os.path.join(work, "inv.json")
with open(inv, "w", encoding="utf-8") as f:
    json.dump({"version": 1, "tenants": {"acme": {}, "globex": {}},
               "providers": {"z": {"plugin": "zonefile", "directory": "zones"}},
               "domains": [{"name": "alpha.example"}, {"name": "beta.example"},
                           {"name": "bücher.example"}]}, f)
os.makedirs(os.path.join(work, "states"))
open(os.path.join(work, "state-one.db"), "w").close()


def complete(line):
    """What completing the last word of LINE offers (words split on blanks;
    a line ending in a blank completes an empty word)."""
    words = line.split()
    if line.endswith(" "):
        words.append("")
    words[0] = STSCTL
    code = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
            '_stsctl; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", code, "_", path, *words],
                       capture_output=True, text=True, timeout=30, cwd=work)
    return sorted(w for w in p.stdout.split("\n") if w), p.stderr


got, err = complete("stsctl ")
cmds = re.findall(r"^  (\S+)", run("help")[1].split("commands:\n", 1)[-1], re.M)
report(got == sorted(cmds) and err == "", "'stsctl <TAB>': every command of 'stsctl help'", f"{got} vs {cmds} {err}")
got, _ = complete("stsctl pl")
report(got == ["plan", "plugins"], "'stsctl pl<TAB>': plan, plugins", repr(got))
got, _ = complete("stsctl --ver")
report(got == ["--verbose", "--version"], "'stsctl --ver<TAB>': the global options", repr(got))

# every option each command's --help names is offered, and nothing else
for c in cmds:
    usage = run(c, "--help")[1]
    synopsis = usage.split("\n\n", 1)[0]
    # the option list: the names part of each "  -x, --name ARG   text" line
    listed = "\n".join(re.split(r"\s{2,}", l.strip())[0]
                       for l in re.findall(r"^ +(?:-\w, +)?--[a-z].*$", usage, re.M))
    want = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", synopsis + "\n" + listed)) | {"--help"}
    got, _ = complete(f"stsctl {c} --")
    missing = sorted(want - set(got))
    extra = sorted(set(got) - want)
    report(not missing and not extra, f"'stsctl {c} --<TAB>': the options of its --help",
           f"missing {missing}, not in --help {extra}")

got, _ = complete("stsctl apply --y")
report(got == ["--yes"], "'stsctl apply --y<TAB>': --yes", repr(got))
got, _ = complete("stsctl plan in")
report(got == ["inv.json"], "'stsctl plan in<TAB>': the inventory file", repr(got))
got, _ = complete("stsctl plan inv.json --state st")
report(got == ["state-one.db", "states"], "'--state st<TAB>': files", repr(got))
got, _ = complete("stsctl plan inv.json -t ")
report(got == ["alpha.example", "beta.example", "bücher.example"],
       "'stsctl plan INV -t <TAB>': the inventory's domains", repr(got))
got, _ = complete("stsctl apply inv.json --yes --target b")
report(got == ["beta.example", "bücher.example"], "'apply INV --yes --target b<TAB>': domains after a flag",
       repr(got))
got, _ = complete("stsctl check --inventory inv.json al")
report(got == ["alpha.example"], "'check --inventory INV al<TAB>': DOMAIN arguments from --inventory", repr(got))
got, _ = complete("stsctl render inv.json -o out --domain b")
report(got == ["beta.example", "bücher.example"], "'render INV -o DIR --domain b<TAB>': domains", repr(got))
got, _ = complete("stsctl plan -t ")
report(got == [], "'stsctl plan -t <TAB>' with no inventory yet: nothing, no error", repr(got))
got, _ = complete("stsctl plan nosuch.json -t ")
report(got == [], "an inventory that cannot be read: nothing", repr(got))
got, _ = complete("stsctl help ap")
report(got == ["apply"], "'stsctl help ap<TAB>': commands", repr(got))
got, _ = complete("stsctl completion ")
report(got == ["bash", "zsh"], "'stsctl completion <TAB>': bash, zsh", repr(got))

p = subprocess.run(["bash", "--norc", "-c", 'source "$1" && complete -p stsctl', "_", path],
                   capture_output=True, text=True, timeout=30)
report(p.stdout.strip() == "complete -F _stsctl stsctl", "complete -p stsctl", p.stdout + p.stderr)

# --names: what the scripts read; silent on a bad file
report(run("completion", "--names", "tenants", inv)[1] == "acme\nglobex\n", "--names tenants", "")
report(run("completion", "--names", "providers", inv)[1] == "z\n", "--names providers", "")
rc, out, err = run("completion", "--names", "domains", os.path.join(work, "nosuch.json"))
report((rc, out, err) == (0, "", ""), "--names on a missing file: exit 0, no output", f"{rc} {out!r} {err!r}")
rc, out, err = run("completion", "--names", "zones", inv)
report(rc == 2 and "domains, providers or tenants" in err, "--names zones: a usage error", f"{rc} {err!r}")
rc, out, err = run("completion", "fish")
report(rc == 2 and "unknown shell 'fish'" in err, "completion fish: a usage error", f"{rc} {err!r}")
rc, out, err = run("completion", "zsh")
report(rc == 0 and out.startswith("#compdef stsctl\n") and "bashcompinit" in out and script in out,
       "completion zsh: #compdef, bashcompinit, the same function", f"{rc} {err!r}")
done()
