"""Run stsctl with its standard error on a pseudo-terminal (script(1)), shared by
the CLI tests of the progress line (test_progress.py, test_progress_ingest.py)."""
import os
import subprocess


def under_pty(stsctl, d, args, timeout=60):
    """stsctl ARGS in directory d, stderr on a pseudo-terminal, stdout to d/out.txt:
    (rc, what the terminal got, stdout)."""
    cmd = " ".join([stsctl] + args) + " >out.txt"
    p = subprocess.run(["script", "-q", "-e", "-c", cmd, "typescript"], cwd=d,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout)
    with open(os.path.join(d, "typescript"), "rb") as f:
        tty = f.read().decode("utf-8", "replace")
    with open(os.path.join(d, "out.txt"), encoding="utf-8") as f:
        out = f.read()
    return p.returncode, tty, out
