"""Peak memory of `callqa ingest --workers N`: the whole process tree, RSS and PSS (shared pages split fairly).

    python benchmarks/worker_memory.py recordings_sample/zh_01_clean_reminder.ogg recordings_sample/en_01_clean_minimiranda.ogg \\
        --workers 1 2

Each N runs `callqa ingest FILES --workers N --force` into its own temporary SQLite database in a fresh process, and
every 0.2 s sums RSS and PSS (/proc/<pid>/smaps_rollup, Linux) over the ingest process and its descendants. PSS is
the figure that adds up: models forked from the parent count once across the workers, RSS counts them per process.
Reported per N: peak tree PSS, peak tree RSS, wall seconds and CPU seconds (user + sys of the tree, from
RUSAGE_CHILDREN, so other load on a shared machine does not inflate it).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _mem_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def measure(files: list[str], workers: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="callqa-mem-"))
    callqa = shutil.which("callqa") or str(Path(sys.executable).with_name("callqa"))
    cmd = [callqa, "ingest", *files, "--workers", str(workers), "--force", "--db", f"sqlite:///{tmp / 'm.db'}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    while proc.poll() is None:
        pids = _tree(proc.pid)
        mems = [_mem_kb(p) for p in pids]
        peak_rss = max(peak_rss, sum(m[0] for m in mems))
        peak_pss = max(peak_pss, sum(m[1] for m in mems))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    err = proc.stderr.read() if proc.stderr else ""
    shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"ingest exited {proc.returncode}: {err[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"workers": workers, "peak_pss_mb": peak_pss / 1024, "peak_rss_mb": peak_rss / 1024, "wall_s": wall,
            "cpu_s": cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="recordings to ingest (the same ones for every N)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    args = ap.parse_args()
    print(f"{'workers':>7} {'peak PSS MB':>12} {'peak RSS MB':>12} {'wall s':>8} {'CPU s':>8}")
    for n in args.workers:
        r = measure(args.files, n)
        print(f"{n:>7} {r['peak_pss_mb']:>12.0f} {r['peak_rss_mb']:>12.0f} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f}")


if __name__ == "__main__":
    main()
