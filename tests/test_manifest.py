"""Manifest CSV: metadata per file, bad rows fail only their file, bad manifests are usage errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qa.ingest.manifest import ManifestError, read_manifest


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_every_column(tmp_path: Path) -> None:
    path = _write(tmp_path, (
        "file,agent_id,account_id,callee,started_at,direction,jurisdiction,agent_channel\n"
        "a.ogg,A01,ACC9,Neighbor,2026-11-02T22:30:00+08:00,outbound,CN,right\n"
        "sub/b.wav,,,,,,,\n"
    ))
    entries = read_manifest(path, "Asia/Shanghai")
    a = entries[(tmp_path / "a.ogg").resolve()]
    assert a.error is None
    assert (a.meta.agent_id, a.meta.account_id, a.meta.callee) == ("A01", "ACC9", "neighbor")
    assert a.meta.started_at == datetime(2026, 11, 2, 14, 30, tzinfo=ZoneInfo("UTC"))
    assert (a.meta.direction, a.meta.jurisdiction, a.meta.agent_channel) == ("outbound", "cn", 1)
    b = entries[(tmp_path / "sub/b.wav").resolve()]
    assert b.error is None and b.meta.agent_id is None and b.meta.started_at is None


def test_naive_times_are_site_local(tmp_path: Path) -> None:
    path = _write(tmp_path, "file,started_at\nx.wav,2026-03-08 09:00\n")
    meta = read_manifest(path, "America/New_York")[(tmp_path / "x.wav").resolve()].meta
    assert meta.started_at is not None and meta.started_at.utcoffset().total_seconds() == -4 * 3600  # EDT


def test_bad_values_fail_only_that_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "file,started_at,direction,agent_channel\nx.wav,yesterday,sideways,3\ny.wav,,inbound,0\n")
    entries = read_manifest(path, "Asia/Shanghai")
    error = entries[(tmp_path / "x.wav").resolve()].error
    assert error is not None
    assert "line 2" in error and "started_at" in error and "direction" in error and "agent_channel" in error
    assert entries[(tmp_path / "y.wav").resolve()].error is None


def test_unusable_manifests_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "missing.csv", "UTC")
    with pytest.raises(ManifestError, match="no 'file' column"):
        read_manifest(_write(tmp_path, "path,agent_id\nx.wav,A\n"), "UTC")
    with pytest.raises(ManifestError, match="unknown columns: colour"):
        read_manifest(_write(tmp_path, "file,colour\nx.wav,red\n"), "UTC")


def test_debtor_timezone_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "file,started_at,timezone\nx.wav,2026-07-01 21:30,America/Los_Angeles\ny.wav,,Mars/Base\n")
    entries = read_manifest(path, "Asia/Shanghai")
    x = entries[(tmp_path / "x.wav").resolve()].meta
    assert x.timezone == "America/Los_Angeles" and x.started_at.utcoffset().total_seconds() == -7 * 3600
    assert "not an IANA zone" in (entries[(tmp_path / "y.wav").resolve()].error or "")
