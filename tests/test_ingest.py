"""Ingestion end to end with real speech: bad files are recorded failures, re-runs resume, a kill loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from qa.cli import app
from qa.store.db import session_scope
from qa.store.models import Call, FindingRow, IngestionEvent, SegmentRow
from tests.conftest import REPO, shared_file

pytestmark = pytest.mark.slow
runner = CliRunner()


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1 if pcm.ndim == 1 else pcm.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.T.tobytes() if pcm.ndim > 1 else pcm.tobytes())
    return path


def _speech_variant(path: Path, gain: float) -> Path:
    """A real English clip with a distinct content hash (gain differs)."""
    from qa.audio import decode

    samples = decode(shared_file("speech/librispeech-1995-1837-0001.wav")).mono()
    return _write_wav(path, samples * gain)


@pytest.fixture
def bad_batch(tmp_path: Path) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good_stereo.wav").write_bytes(shared_file("speech/stereo_diarization.wav").read_bytes())
    _speech_variant(folder / "good_mono.wav", 0.9)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "random.wav").write_bytes(np.random.default_rng(0).bytes(30000))
    _write_wav(folder / "half_second_silence.wav", np.zeros(8000))
    _write_wav(folder / "long_silence.wav", np.zeros(16000 * 5))
    from tests.test_audio import _encode

    full = _encode(shared_file("speech/jfk.flac"), tmp_path / "full.mp3")
    (folder / "truncated.mp3").write_bytes(full.read_bytes()[: full.stat().st_size // 4])
    return folder


def test_bad_inputs_are_recorded_failures_and_the_batch_completes(bad_batch: Path, db_url: str) -> None:
    missing = bad_batch / "gone" / "unreadable.wav"
    result = runner.invoke(app, ["ingest", str(bad_batch), str(missing), "--db", db_url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["calls", "--db", db_url, "--json"])
    calls = {c["file"]: c for c in json.loads(result.stdout)}
    assert calls["good_stereo.wav"]["status"] == "done"
    assert calls["good_mono.wav"]["status"] == "done"
    expected_reasons = {
        "empty.wav": "empty file",
        "random.wav": "not a recognised audio file",
        "half_second_silence.wav": "too short",
        "long_silence.wav": "silent recording",
        "truncated.mp3": "truncated",
    }
    for name, reason in expected_reasons.items():
        assert calls[name]["status"] == "failed", name
        assert reason in calls[name]["error"], (name, calls[name]["error"])
    with session_scope(db_url) as s:
        events = {(Path(e.path).name, e.event): e.message for e in s.scalars(select(IngestionEvent))}
    assert "not found" in events[("unreadable.wav", "failed")]

    # The stereo call has both roles, in time order, with word timestamps.
    stereo_id = calls["good_stereo.wav"]["call_id"]
    result = runner.invoke(app, ["transcript", str(stereo_id), "--json", "--db", db_url])
    data = json.loads(result.stdout)
    assert set(data) == {"call_id", "language", "duration", "segments"}
    assert {s["speaker"] for s in data["segments"]} == {"agent", "customer"}
    assert all(s["words"] for s in data["segments"])
    starts = [s["start"] for s in data["segments"]]
    assert starts == sorted(starts)

    # Re-running skips what is done; nothing is duplicated.
    result = runner.invoke(app, ["ingest", str(bad_batch), "--db", db_url])
    assert result.exit_code == 0
    assert "already ingested" in result.output
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Call).where(Call.status == "done")) == 2
        segments_before = s.scalar(select(func.count()).select_from(SegmentRow))
    result = runner.invoke(app, ["ingest", str(bad_batch / "good_stereo.wav"), "--db", db_url, "--force"])
    assert result.exit_code == 0
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(SegmentRow)) == segments_before

    # Re-running detection on stored transcripts replaces findings, and never re-transcribes.
    with session_scope(db_url) as s:
        findings_before = s.scalar(select(func.count()).select_from(FindingRow))
        segment_ids = sorted(s.scalars(select(SegmentRow.id)))
    result = runner.invoke(app, ["detect", "--all", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "call " in result.output and "findings" in result.output
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(FindingRow)) == findings_before
        assert sorted(s.scalars(select(SegmentRow.id))) == segment_ids


def test_usage_errors_exit_2(tmp_path: Path, db_url: str) -> None:
    assert runner.invoke(app, ["ingest", str(tmp_path), "--db", db_url]).exit_code == 2  # no recordings
    (tmp_path / "x.wav").write_bytes(b"")
    bad_manifest = tmp_path / "m.csv"
    bad_manifest.write_text("path\nx.wav\n")
    result = runner.invoke(app, ["ingest", str(tmp_path), "--manifest", str(bad_manifest), "--db", db_url])
    assert result.exit_code == 2
    assert "no 'file' column" in result.output


def test_killed_ingest_resumes_without_duplicates(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    for i in range(3):
        _speech_variant(folder / f"call{i}.wav", 0.5 + 0.1 * i)
    env = {**os.environ, "CALLQA_DB_URL": db_url}
    cmd = [sys.executable, "-m", "qa.cli", "ingest", str(folder)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            time.sleep(0.5)
            with session_scope(db_url) as s:
                if s.scalar(select(func.count()).select_from(Call).where(Call.status == "done")) >= 1:
                    break
        else:
            pytest.fail("the first call never finished")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with session_scope(db_url) as s:
        statuses = [c.status for c in s.scalars(select(Call))]
    assert statuses.count("done") < 3, "killed before the end"

    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    with session_scope(db_url) as s:
        calls = list(s.scalars(select(Call)))
        assert len(calls) == 3
        assert len({c.content_hash for c in calls}) == 3
        assert all(c.status == "done" for c in calls)
        for c in calls:
            idx = [seg.idx for seg in c.segments]
            assert idx == list(range(len(idx))) and idx, "segments complete, none duplicated"


def _count(db_url: str) -> tuple[int, int]:
    with session_scope(db_url) as s:
        return (s.scalar(select(func.count()).select_from(Call)), s.scalar(select(func.count()).select_from(SegmentRow)))


def test_read_only_database_fails_clearly_and_changes_nothing(tmp_path: Path) -> None:
    db_file = tmp_path / "callqa.db"
    url = f"sqlite:///{db_file}"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.wav").write_bytes(shared_file("speech/stereo_diarization.wav").read_bytes())
    assert runner.invoke(app, ["ingest", str(folder / "a.wav"), "--db", url]).exit_code == 0
    before = _count(url)
    _speech_variant(folder / "b.wav", 0.7)
    ro_url = f"sqlite:///file:{db_file}?mode=ro&uri=true"
    result = runner.invoke(app, ["ingest", str(folder), "--db", ro_url])
    assert result.exit_code == 1
    assert "could not be stored" in result.output and "readonly" in result.output.replace("-", "")
    assert _count(url) == before
    with session_scope(url) as s:
        assert s.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_full_disk_fails_clearly_and_resumes(tmp_path: Path) -> None:
    from sqlalchemy import event

    from qa.store.db import get_engine

    url = f"sqlite:///{tmp_path / 'full.db'}"
    engine = get_engine(url)
    pages = engine.connect().exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_conn, _rec) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" is full: no page can be added

    event.listen(engine, "connect", cap)
    engine.dispose()
    folder = tmp_path / "in"
    folder.mkdir()
    from qa.audio import decode

    speech = decode(shared_file("speech/librispeech-1995-1837-0001.wav")).mono()
    _write_wav(folder / "a.wav", np.concatenate([speech] * 2))  # enough words to need new pages
    result = runner.invoke(app, ["ingest", str(folder), "--db", url])
    event.remove(engine, "connect", cap)
    engine.dispose()
    assert result.exit_code in (0, 1)
    assert "full" in result.output
    with session_scope(url) as s:
        assert s.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert s.scalar(select(func.count()).select_from(SegmentRow)) == 0  # no half-stored call
    # Space is back: re-running completes the call.
    assert runner.invoke(app, ["ingest", str(folder), "--db", url]).exit_code == 0
    with session_scope(url) as s:
        assert s.scalar(select(Call.status)) == "done"
