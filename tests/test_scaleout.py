"""Watch mode and Ray scale-out store every call exactly once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qa.config import get_settings
from qa.ingest.batch import build_jobs
from qa.store.db import session_scope
from qa.store.models import Call
from qa.ingest.watch import FolderWatcher, watch
from tests.conftest import shared_file


def test_watcher_waits_for_complete_files(tmp_path: Path) -> None:
    w = FolderWatcher(tmp_path, settle_s=5)
    rec = tmp_path / "a.wav"
    rec.write_bytes(b"RIFF....")
    (tmp_path / "b.wav.part").write_bytes(b"x")
    (tmp_path / ".c.wav").write_bytes(b"x")
    os.utime(rec, (1000, 1000))
    assert w.scan(now=1001) == ([], 1)  # first sight: still settling
    assert w.scan(now=1003) == ([], 1)  # unchanged for 2 s only
    assert w.scan(now=1007) == ([rec], 0)
    rec.write_bytes(b"RIFF....more")  # grew: wait again
    os.utime(rec, (1010, 1010))
    assert w.scan(now=1011) == ([], 1)
    w.mark_handled(rec)
    assert w.scan(now=1100) == ([], 0)


@pytest.mark.slow
def test_watch_ingests_arrivals_and_survives_restart(tmp_path: Path, db_url: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(shared_file("speech/stereo_diarization.wav"), inbox / "one.wav")
    settings = get_settings()
    assert watch(inbox, db_url, settings, interval=0.1, settle=0.2, once=True) == 1
    shutil.copy(shared_file("speech/jfk.flac"), inbox / "two.flac")
    # A restarted watcher re-sees one.wav (skipped by content hash) and ingests two.flac.
    assert watch(inbox, db_url, settings, interval=0.1, settle=0.2, once=True) == 2
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Call).where(Call.status == "done")) == 2


@pytest.mark.slow
@pytest.mark.cluster
def test_ray_local_cluster_ingests_each_file_once(tmp_path: Path, db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ray = pytest.importorskip("ray")
    import tempfile

    ray_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a local test cluster only
    monkeypatch.setenv("RAY_TMPDIR", ray_dir)
    from qa.ingest.cluster import run_on_ray

    folder = tmp_path / "calls"
    folder.mkdir()
    shutil.copy(shared_file("speech/stereo_diarization.wav"), folder / "a.wav")
    shutil.copy(shared_file("speech/stereo_diarization.wav"), folder / "a_copy.wav")  # same content
    shutil.copy(shared_file("speech/jfk.flac"), folder / "b.flac")
    jobs = build_jobs(sorted(folder.iterdir()), None, get_settings())
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=ray_dir)
    try:
        results = run_on_ray(jobs, db_url, "auto", False, get_settings())
    finally:
        ray.shutdown()
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert sorted(r.status for r in results) == ["done", "done", "skipped"]
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 2


@pytest.mark.slow
def test_soak_parallel_workers_store_every_call_once(shared_data, db_url: str) -> None:  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from soak import soak

    report = soak(count=12, workers=2, db_url=db_url)  # benchmarks/soak.py runs the 300-call version
    assert report["stored"] == report["distinct_hashes"] == 12
    assert report["failed"] >= 1  # every tenth file is corrupt
    assert report["done"] >= 9
    assert report["done_without_segments"] == 0
    assert report["results"]["skipped"] == 0


def test_a_crashing_worker_does_not_fail_the_rest_of_the_batch(tmp_path: Path) -> None:
    from qa.ingest.batch import MAX_CRASHES, FileJob, run_batch
    from qa.records import CallMeta
    from tests.crash_worker import crash_or_succeed

    names = ["a.wav", "crash.wav", "b.wav", "c.wav", "d.wav"]
    jobs = [FileJob(tmp_path / n, CallMeta()) for n in names]
    results = run_batch(jobs, f"sqlite:///{tmp_path / 'x.db'}", workers=2, worker=crash_or_succeed)
    by_name = {Path(r.path).name: r for r in results}
    assert sorted(by_name) == sorted(names)
    assert all(by_name[n].status == "done" for n in names if n != "crash.wav")
    assert by_name["crash.wav"].status == "failed"
    assert f"crashed {MAX_CRASHES} times" in (by_name["crash.wav"].reason or "")


def test_batch_workers_take_the_longest_recordings_first(tmp_path: Path) -> None:
    """A stereo call is two streams to recognise; an unreadable file sorts last (it fails fast when its turn comes)."""
    import numpy as np
    import soundfile as sf

    from qa.ingest.batch import FileJob, longest_first
    from qa.records import CallMeta

    tone = np.sin(np.arange(16000 * 5) / 10).astype(np.float32) * 0.1
    sf.write(tmp_path / "mono_2s.wav", tone[: 2 * 16000], 16000)
    sf.write(tmp_path / "mono_5s.wav", tone, 16000)
    sf.write(tmp_path / "stereo_3s.ogg", np.stack([tone[: 3 * 16000]] * 2, axis=1), 16000)
    (tmp_path / "broken.mp3").write_bytes(b"not audio at all")
    jobs = [FileJob(tmp_path / n, CallMeta()) for n in ("broken.mp3", "mono_2s.wav", "stereo_3s.ogg", "mono_5s.wav")]
    assert [j.path.name for j in longest_first(jobs)] == ["stereo_3s.ogg", "mono_5s.wav", "mono_2s.wav", "broken.mp3"]
