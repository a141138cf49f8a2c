"""The bundled sample calls end to end: roles, diarisation, findings with evidence, and risk ordering.

One ingest of a subset of recordings_sample/ (with their manifest) serves every test here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from qa.config import get_settings
from qa.ingest.batch import build_jobs, run_batch
from qa.store.db import session_scope
from qa.store.models import Call
from tests.conftest import REPO

pytestmark = pytest.mark.slow
SAMPLES = REPO / "recordings_sample"
SUBSET = [
    "en_01_clean_minimiranda.ogg", "en_03_threat_insult.mp3", "en_05_self_harm_inbound.ogg",
    "en_06_agent_distress.ogg", "zh_01_clean_reminder.ogg", "zh_03_threat_false_arrest.mp3",
    "zh_05_pii_readout.ogg",
]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:  # type: ignore[type-arg]
    url = f"sqlite:///{tmp_path_factory.mktemp('samples') / 'callqa.db'}"
    jobs = build_jobs([SAMPLES / name for name in SUBSET], SAMPLES / "manifest.csv", get_settings())
    results = run_batch(jobs, url, workers=1)  # in this process: parallel ingest is tested in test_scaleout.py
    assert all(r.status == "done" for r in results), [(r.path, r.reason) for r in results]
    calls: dict[str, dict] = {}  # type: ignore[type-arg]
    with session_scope(url) as s:
        for call in s.scalars(select(Call)):
            calls[Path(call.path).name] = {
                "risk": call.risk_score, "channels": call.channels,
                "speakers": [(sp.label, sp.role, sp.method, sp.reason) for sp in call.speakers],
                "segments": [(seg.speaker, seg.start, seg.end, seg.text) for seg in call.segments],
                "findings": [(f.label, f.subtype, f.speaker, f.start, f.end, f.span, f.score, f.source, f.explanation)
                             for f in call.findings],
            }
    return calls


def _labels() -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["file"]: c for c in json.loads((SAMPLES / "labels.json").read_text(encoding="utf-8"))}


def _speaker_agreement(segments: list[tuple], turns: list[dict]) -> float:  # type: ignore[type-arg]
    """Share of recognised speech time whose speaker matches the scripted turn it overlaps most."""
    agree = total = 0.0
    for speaker, start, end, _text in segments:
        best = max(turns, key=lambda t: min(end, t["end"]) - max(start, t["start"]))
        overlap = min(end, best["end"]) - max(start, best["start"])
        if overlap <= 0:
            continue
        total += end - start
        agree += (end - start) if best["speaker"] == speaker else 0.0
    return agree / total if total else 0.0


def test_stereo_calls_put_each_turn_on_the_right_role(ingested) -> None:  # type: ignore[no-untyped-def]
    labels = _labels()
    for name in ("en_01_clean_minimiranda.ogg", "en_03_threat_insult.mp3", "zh_01_clean_reminder.ogg"):
        call = ingested[name]
        assert call["channels"] == 2
        assert _speaker_agreement(call["segments"], labels[name]["turns"]) >= 0.95, name


def test_mono_call_is_diarised_and_the_agent_identified(ingested) -> None:  # type: ignore[no-untyped-def]
    name = "en_05_self_harm_inbound.ogg"
    call = ingested[name]
    assert {m for _, _, m, _ in call["speakers"]} == {"diarization"}
    agent = [reason for _, role, _, reason in call["speakers"] if role == "agent"]
    assert agent and agent[0], "the choice of agent is explained"
    assert _speaker_agreement(call["segments"], _labels()[name]["turns"]) >= 0.8


def test_findings_carry_their_evidence(ingested) -> None:  # type: ignore[no-untyped-def]
    threats = [f for f in ingested["en_03_threat_insult.mp3"]["findings"] if f[0] == "threat"]
    assert threats, "the scripted threats are found"
    label, subtype, speaker, start, end, span, score, source, explanation = threats[0]
    assert speaker == "agent" and subtype.startswith("threat/")
    assert start is not None and end is not None and end > start
    assert span and explanation and source and 0 < score <= 1
    pii = [f for f in ingested["zh_05_pii_readout.ogg"]["findings"] if f[1] == "privacy/pii_spoken"]
    # the numbers are the agent's; a customer's objection to the read-out is reported with no speaker of its own
    assert any(f[2] == "agent" for f in pii) and {f[2] for f in pii} <= {"agent", None}


def test_scripted_risky_calls_outscore_clean_ones(ingested) -> None:  # type: ignore[no-untyped-def]
    risk = {name: call["risk"] for name, call in ingested.items()}
    for risky in ("en_03_threat_insult.mp3", "zh_03_threat_false_arrest.mp3", "zh_05_pii_readout.ogg"):
        for clean in ("en_01_clean_minimiranda.ogg", "zh_01_clean_reminder.ogg"):
            assert risk[risky] > risk[clean], (risky, risk[risky], clean, risk[clean])


def test_self_harm_is_flagged_for_urgent_handling(ingested) -> None:  # type: ignore[no-untyped-def]
    subtypes = {f[1] for f in ingested["en_05_self_harm_inbound.ogg"]["findings"]}
    assert "threat/self_harm" in subtypes


def test_distressed_agent_shows_stress(ingested) -> None:  # type: ignore[no-untyped-def]
    stress = [f for f in ingested["en_06_agent_distress.ogg"]["findings"] if f[0] == "stress"]
    assert stress and all(f[2] == "agent" for f in stress)
    calm = [f for f in ingested["en_01_clean_minimiranda.ogg"]["findings"] if f[0] == "stress"]
    assert not calm
