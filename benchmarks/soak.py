"""Soak run: a few hundred short calls (some corrupt) through parallel workers, then a count check.

Calls are cut from the real speech clips in ../shared/data/speech at different offsets and gains, so every
file has its own content hash; every tenth file is random bytes. At the end every file must be stored exactly
once: done calls with segments, corrupt ones failed with a reason, nothing missing, nothing doubled.

    .venv/bin/python benchmarks/soak.py [--calls 300] [--workers 2] [--db URL] [--json]
    .venv/bin/python benchmarks/soak.py --calls 300 --ray --workers 1 2    # a local Ray cluster of 1, then 2 CPUs

`--ray`: the same files through `qa.ingest.cluster.run_on_ray` on a fresh local Ray cluster started with
`num_cpus=N` (one worker per CPU; RAY_AUTH_MODE=disabled and a temporary Ray folder: a local test cluster only),
once per N in --workers, each into its own database; throughput and the exactly-once check per N.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO.parent / "shared" / "data" / "speech"


def make_calls(folder: Path, count: int, seed: int = 7) -> list[Path]:
    from qa.audio import decode

    clips = [decode(p).mono() for p in sorted(SPEECH.glob("*.wav")) + sorted(SPEECH.glob("*.flac"))]
    if not clips:
        raise SystemExit(f"no speech clips in {SPEECH}")
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"soak_{i:04d}.wav"
        if i % 10 == 9:
            path.write_bytes(rng.bytes(4000))  # a corrupt upload
        else:
            clip = clips[i % len(clips)]
            start = int(rng.integers(0, max(1, len(clip) - 32000)))
            piece = clip[start:start + 32000] * float(rng.uniform(0.4, 1.0))  # 2 s of speech
            pcm = (np.clip(piece, -1, 1) * 32767).astype("<i2")
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
                w.writeframes(pcm.tobytes())
        paths.append(path)
    return paths


def _on_ray(jobs: list, db_url: str, workers: int) -> list:  # type: ignore[type-arg]
    import os
    import shutil

    import ray

    from qa.config import get_settings
    from qa.ingest.cluster import run_on_ray

    ray_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local cluster on this machine only
    os.environ["RAY_TMPDIR"] = ray_dir
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, _temp_dir=ray_dir)
    try:
        return run_on_ray(jobs, db_url, "auto", False, get_settings())
    finally:
        ray.shutdown()
        shutil.rmtree(ray_dir, ignore_errors=True)


def soak(count: int, workers: int, db_url: str | None = None, ray: bool = False) -> dict:  # type: ignore[type-arg]
    from sqlalchemy import func, select

    from qa.config import get_settings
    from qa.ingest.batch import build_jobs, run_batch
    from qa.store.db import session_scope
    from qa.store.models import Call, SegmentRow

    tmp = Path(tempfile.mkdtemp(prefix="callqa-soak-"))
    db_url = db_url or f"sqlite:///{tmp / 'soak.db'}"
    files = make_calls(tmp, count)
    started = time.perf_counter()
    jobs = build_jobs(files, None, get_settings())
    results = _on_ray(jobs, db_url, workers) if ray else run_batch(jobs, db_url, workers=workers)
    wall = time.perf_counter() - started
    with session_scope(db_url) as s:
        stored = s.scalar(select(func.count()).select_from(Call))
        distinct = s.scalar(select(func.count(func.distinct(Call.content_hash))))
        done = s.scalar(select(func.count()).select_from(Call).where(Call.status == "done"))
        failed = s.scalar(select(func.count()).select_from(Call).where(Call.status == "failed"))
        without_segments = s.scalar(
            select(func.count()).select_from(Call).where(
                Call.status == "done", ~select(SegmentRow.id).where(SegmentRow.call_id == Call.id).exists()
            )
        )
    return {"files": count, "workers": workers, "engine": "ray" if ray else "pool", "wall_s": round(wall, 1), "calls_per_hour": round(3600 * count / wall),
            "stored": stored, "distinct_hashes": distinct, "done": done, "failed": failed,
            "done_without_segments": without_segments,
            "results": {k: sum(r.status == k for r in results) for k in ("done", "skipped", "failed")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="worker counts, one run each")
    parser.add_argument("--ray", action="store_true", help="run on a local Ray cluster instead of the process pool")
    parser.add_argument("--db", help="database URL (one run only; default: a new SQLite file per run)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    all_ok = True
    for workers in args.workers:
        report = soak(args.calls, workers, args.db, ray=args.ray)
        ok = report["stored"] == report["distinct_hashes"] == args.calls and report["done_without_segments"] == 0
        all_ok &= ok
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"{args.calls} files, {workers} {report['engine']} workers: {report['wall_s']} s "
                  f"({report['calls_per_hour']} calls/hour); stored {report['stored']} ({report['done']} done, "
                  f"{report['failed']} failed), distinct {report['distinct_hashes']}, done without segments "
                  f"{report['done_without_segments']}: " + ("OK, each file stored exactly once" if ok else "MISMATCH"))
    raise SystemExit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
