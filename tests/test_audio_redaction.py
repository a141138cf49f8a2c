"""Audio that respects roles: spoken PII replaced by a tone for roles without the pii right, derived once and
kept, regenerated when findings change; originals audited; `callqa export-audio`."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from qa.access.auth import Principal
from qa.audio import REDACT_MARGIN_S, read_pcm, write_wav
from qa.cli import app
from qa.store.db import session_scope
from qa.store.models import AuditEvent, Call, FindingRow
from qa.views.call import audio_for_playback
from tests.dashboard_seed import PASSWORDS, seed

REVIEWER = Principal("reviewer", "reviewer")
COMPLIANCE = Principal("compliance", "compliance")
RATE = 8000
PII = (5.5, 7.5)  # the seeded privacy/pii_spoken finding


@pytest.fixture
def call_with_voice(db_url, tmp_path, monkeypatch):
    """The seeded risky call with a 15 s stereo recording of noise (every sample distinct from a tone)."""
    monkeypatch.setenv("CALLQA_HOME", str(tmp_path / "home"))
    d = seed(db_url)
    rng = np.random.default_rng(7)
    samples = rng.integers(-8000, 8000, size=(2, 15 * RATE)).astype(np.int16)
    path = write_wav(tmp_path / "rec" / "risky.wav", samples, RATE)
    with session_scope(db_url) as s:
        s.get(Call, d.riskiest).path = str(path)
    return d, path


def _span_mask(n: int, spans: list[tuple[float, float]]) -> np.ndarray:
    inside = np.zeros(n, dtype=bool)
    for a, b in spans:
        inside[max(0, int((a - REDACT_MARGIN_S) * RATE)):int(np.ceil((b + REDACT_MARGIN_S) * RATE))] = True
    return inside


def test_reviewer_hears_every_pii_span_replaced_and_the_rest_unchanged(call_with_voice, db_url):
    d, original_path = call_with_voice
    with session_scope(db_url) as s:
        path = audio_for_playback(s, REVIEWER, d.riskiest)
    assert path != str(original_path)
    original, rate = read_pcm(original_path)
    redacted, rate2 = read_pcm(path)
    assert rate == rate2 == RATE and redacted.shape == original.shape
    inside = _span_mask(original.shape[1], [PII])
    assert np.array_equal(redacted[:, ~inside], original[:, ~inside])  # the rest is untouched, sample for sample
    assert not np.any(redacted[:, inside] == original[:, inside]) or \
        np.mean(redacted[:, inside] == original[:, inside]) < 0.01  # the span is gone
    assert np.array_equal(redacted[0, inside], redacted[1, inside])  # the same tone on both channels
    # derived once, kept with the call, owner-only
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(path).parent.stat().st_mode) == 0o700
    mtime = Path(path).stat().st_mtime_ns
    with session_scope(db_url) as s:
        assert audio_for_playback(s, REVIEWER, d.riskiest) == path
    assert Path(path).stat().st_mtime_ns == mtime


def test_redacted_copy_is_regenerated_when_the_findings_change(call_with_voice, db_url):
    d, original_path = call_with_voice
    with session_scope(db_url) as s:
        first = audio_for_playback(s, REVIEWER, d.riskiest)
        s.add(FindingRow(call_id=d.riskiest, segment_idx=2, label="privacy", subtype="privacy/pii_spoken",
                         speaker="agent", start=11.0, end=12.0, span="x", score=0.9, source="t", explanation="t"))
    with session_scope(db_url) as s:
        second = audio_for_playback(s, REVIEWER, d.riskiest)
    assert second != first and not Path(first).exists()
    original, _ = read_pcm(original_path)
    redacted, _ = read_pcm(second)
    inside = _span_mask(original.shape[1], [PII, (11.0, 12.0)])
    assert np.array_equal(redacted[:, ~inside], original[:, ~inside])
    assert np.mean(redacted[:, inside] == original[:, inside]) < 0.01


def test_compliance_hears_the_original_and_both_plays_are_audited(call_with_voice, db_url):
    d, original_path = call_with_voice
    with session_scope(db_url) as s:
        assert audio_for_playback(s, COMPLIANCE, d.riskiest) == str(original_path)
        audio_for_playback(s, REVIEWER, d.riskiest)
        rows = [(e.user, e.action, e.detail["redacted"]) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.call_id == d.riskiest).order_by(AuditEvent.id))]
    assert rows == [("compliance", "play_original", False), ("reviewer", "play_audio", True)]


def test_export_audio_redacted_for_every_role_original_only_with_pii(call_with_voice, db_url, tmp_path):
    d, original_path = call_with_voice
    runner = CliRunner()
    out = tmp_path / "out" / "r.wav"
    r = runner.invoke(app, ["export-audio", str(d.riskiest), "-o", str(out), "--user", "reviewer", "--password-stdin",
                            "--db", db_url], input=PASSWORDS["reviewer"] + "\n")
    assert r.exit_code == 2 and "--redacted" in r.output and not out.exists()
    r = runner.invoke(app, ["export-audio", str(d.riskiest), "-o", str(out), "--redacted", "--user", "reviewer",
                            "--password-stdin", "--db", db_url], input=PASSWORDS["reviewer"] + "\n")
    assert r.exit_code == 0, r.output
    original, _ = read_pcm(original_path)
    exported, _ = read_pcm(out)
    inside = _span_mask(original.shape[1], [PII])
    assert np.array_equal(exported[:, ~inside], original[:, ~inside]) and not np.array_equal(exported, original)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    full = tmp_path / "out" / "c.wav"
    r = runner.invoke(app, ["export-audio", str(d.riskiest), "-o", str(full), "--user", "compliance",
                            "--password-stdin", "--db", db_url], input=PASSWORDS["compliance"] + "\n")
    assert r.exit_code == 0 and full.read_bytes() == original_path.read_bytes()
    with session_scope(db_url) as s:
        rows = [(e.user, e.action, (e.detail or {}).get("redacted")) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(("export_audio", "denied"))).order_by(AuditEvent.id))]
    assert rows == [("reviewer", "denied", None), ("reviewer", "export_audio", True),
                    ("compliance", "export_audio", False)]
