#!/usr/bin/env python3
"""core/ is layered by stage (core/README.md): a module includes and calls
only modules of its own stage or below, and no modules form a circle.

Stages are listed, lowest first, as `core_stages` in core/meson.build. A
module is the files sts_<word>*.{c,h} of one stage folder (sts_check.c,
sts_check.h, sts_check_mx.c and sts_check_int.h are module sts_check).
Checks, in TAP:

  1. every source of core/ sits in a stage folder (the public plugin SDK,
     include/stsctl/plugin.h, is outside core/ and included as <...>);
  2. includes: every `#include "..."` of a core file names a header of its
     own stage or a lower one;
  3. calls: every symbol a core object file uses from another core object
     file (nm of libsts.a) is defined at its own stage or a lower one;
  4. no circle among modules, by includes and calls together.

Usage: test_layering.py SOURCE_ROOT [LIBSTS_A]
"""
import os
import re
import subprocess
import sys

from tap import done, report

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def stages_of(root):
    text = open(os.path.join(root, "core", "meson.build")).read()
    m = re.search(r"core_stages\s*=\s*\[([^\]]*)\]", text)
    if not m:
        raise SystemExit("core/meson.build has no core_stages list")
    return re.findall(r"'([a-z0-9_]+)'", m.group(1))


def module(name):
    """sts_check.c, sts_check_mx.c, sts_check_int.h -> sts_check"""
    stem = os.path.splitext(os.path.basename(name))[0]
    return "_".join(stem.split("_")[:2])


def obj_module(path):
    """.../check_sts_check_mx.c.o -> sts_check"""
    m = re.search(r"(sts_[a-z0-9_]+)\.c\.o$", path)
    return module(m.group(1)) if m else None


def scc(graph):
    """Tarjan's strongly connected components, iterative."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    root = sys.argv[1]
    lib = sys.argv[2] if len(sys.argv) > 2 else None
    stages = stages_of(root)
    rank = {s: i for i, s in enumerate(stages)}
    core = os.path.join(root, "core")

    # 1. where every file lives
    stage_of = {}  # module -> stage
    files = {}  # module -> [paths]
    stray = []
    for d, _, names in os.walk(core):
        rel = os.path.relpath(d, core)
        for n in names:
            if not n.endswith((".c", ".h")):
                continue
            top = rel.split(os.sep)[0]
            if top not in rank or rel != top:
                stray.append(os.path.join("core", rel, n))
                continue
            m = module(n)
            if m in stage_of and stage_of[m] != top:
                stray.append(os.path.join("core", rel, n) + " (module also in " + stage_of[m] + ")")
            stage_of[m] = top
            files.setdefault(m, []).append(os.path.join(d, n))
    report(not stray, "every core source sits in one stage folder of core_stages",
           "\n".join("not in a stage folder: " + s for s in sorted(stray)))

    # 2. includes
    graph = {m: set() for m in stage_of}
    bad = []
    for m, paths in sorted(files.items()):
        for path in paths:
            for inc in INCLUDE.findall(open(path, errors="replace").read()):
                if inc == "sts_config.h":
                    continue
                t = module(inc)
                if t not in stage_of:
                    bad.append("%s: includes %s, which is not a core header" %
                               (os.path.relpath(path, root), inc))
                    continue
                if t != m:
                    graph[m].add(t)
                if rank[stage_of[t]] > rank[stage_of[m]]:
                    bad.append("%s (stage %s) includes %s of the later stage %s" %
                               (os.path.relpath(path, root), stage_of[m], inc, stage_of[t]))
    report(not bad, "includes point to the own stage or below (%d modules)" % len(stage_of),
           "\n".join(bad))

    # 3. calls, from the symbols of the built library
    if lib:
        out = subprocess.run(["nm", "-A", "--defined-only", lib], capture_output=True,
                             text=True)
        und = subprocess.run(["nm", "-A", "-u", lib], capture_output=True, text=True)
        ok_nm = out.returncode == 0 and und.returncode == 0
        defined = {}
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[-2] in "TDBRC" and len(parts[-2]) == 1:
                obj = parts[0].rsplit(":", 2)[-2]
                defined[parts[-1]] = obj_module(obj)
        bad = []
        ncalls = 0
        for line in und.stdout.splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            obj = parts[0].rsplit(":", 2)[-2]
            m = obj_module(obj)
            sym = parts[-1]
            t = defined.get(sym)
            if t is None or t == m or m not in stage_of or t not in stage_of:
                continue
            ncalls += 1
            graph[m].add(t)
            if rank[stage_of[t]] > rank[stage_of[m]]:
                bad.append("%s (stage %s) calls %s of %s (the later stage %s)" %
                           (m, stage_of[m], sym, t, stage_of[t]))
        report(ok_nm and ncalls > 0 and not bad,
               "calls between modules go to the own stage or below (%d calls)" % ncalls,
               "nm failed: " + out.stderr + und.stderr if not ok_nm else "\n".join(sorted(set(bad))))

    # 4. circles
    circles = scc(graph)
    report(not circles, "no circle among the modules of core/",
           "\n".join("circle: " + " -> ".join(c) for c in circles))
    return done()


if __name__ == "__main__":
    sys.exit(main())
