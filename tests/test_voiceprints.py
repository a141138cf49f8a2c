"""Agent voiceprints: which voice of a mono call is the agent, by their voice in other calls (opt-in)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from qa.records import (
    AgentVoiceprint,
    AudioInfo,
    CallAnalysis,
    CallExposure,
    CallMeta,
    Segment,
    SpeakerAssignment,
    Transcript,
)
from qa.speakers.roles import AgentChoice, combine, identify_agent, voice_choice
from qa.store import calls as store
from qa.store.db import session_scope
from qa.store.models import AuditEvent, Call, Speaker
from qa.store.reports import agent_voiceprint, call_history
from tests.conftest import shared_file

SAMPLES = Path(__file__).resolve().parents[1] / "recordings_sample"


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_combining_content_and_voice() -> None:
    coin_toss = AgentChoice(0, 0.5, "no content cue; cluster 0 spoke first")
    voice = AgentChoice(1, 0.93, "cluster 1 sounds like agent A's voiceprint")
    chosen = combine(coin_toss, voice)
    assert chosen.agent_cluster == 1 and chosen.confidence == pytest.approx(0.93, abs=1e-3)
    assert "voiceprint" in chosen.reason and "spoke first" in chosen.reason
    agreeing = combine(AgentChoice(1, 0.8, "greets"), voice)
    assert agreeing.agent_cluster == 1 and agreeing.confidence > 0.98
    strong_content = combine(AgentChoice(0, 0.99, "names the company"), AgentChoice(1, 0.7, "voice"))
    assert strong_content.agent_cluster == 0 and 0.9 < strong_content.confidence < 0.99  # doubt carried
    assert combine(coin_toss, None) is coin_toss


def test_voice_choice_needs_a_voice_that_matches() -> None:
    rng = np.random.default_rng(0)
    agent, customer, stranger = (_unit(rng.normal(size=256)) for _ in range(3))
    near_agent = _unit(agent + 0.2 * _unit(rng.normal(size=256)))
    centroids = np.stack([customer, near_agent]).astype(np.float32)
    vp = AgentVoiceprint("A7", [float(x) for x in agent], 12)
    chosen = voice_choice(centroids, vp)
    assert chosen is not None and chosen.agent_cluster == 1 and chosen.confidence > 0.95
    assert "A7" in chosen.reason and "12 calls" in chosen.reason
    nobody = voice_choice(centroids, AgentVoiceprint("A8", [float(x) for x in stranger], 3))
    assert nobody is not None and nobody.confidence == 0.5 and "no voice matches" in nobody.reason
    assert voice_choice(None, vp) is None and voice_choice(centroids, None) is None


@pytest.mark.slow
def test_voiceprint_finds_the_agent_when_the_customer_opens_a_call_without_cues() -> None:
    """Real voices (AISHELL S0150 as the agent, another woman as the customer) on a telephone line; the customer
    speaks first and nothing said tells the roles apart, so content alone falls back to the wrong speaker. The
    agent's voiceprint, enrolled from her other recordings (not in the mix), finds her."""
    from qa.asr.evaluate_speakers import VOICES, build_mix, load_voice
    from qa.audio import telephone_band
    from qa.speakers.diarize import diarize, voiceprint

    folder = shared_file("speech_more/manifest.tsv").parent
    files = VOICES["aishell-S0150"][1]
    agent = load_voice("aishell-S0150", "female", [folder / f for f in files[:6]])
    customer = load_voice("xuanjie-reader", "female", [folder / f for f in VOICES["xuanjie-reader"][1]])
    other = load_voice("aishell-S0150", "female", [folder / f for f in files[6:]])
    mix = build_mix(agent, customer, seed=0, turns=8, telephone=True, customer_first=True)
    d = diarize(mix.samples)
    assert d.voices == 2 and d.centroids is not None
    # The reference agent's cluster: the one that covers most of her speech.
    cover = [sum(max(0.0, min(b, t.end) - max(a, t.start)) for t in d.turns if t.cluster == c
                 for a, b, s in mix.turns if s == mix.agent) for c in (0, 1)]
    agent_cluster = int(np.argmax(cover))
    assert agent_cluster == 1  # the customer opened

    content = identify_agent({0: ["尚街时尚生活园区"], 1: ["中原地产集团实际成交数据显示"]}, "zh")
    assert content.agent_cluster == 0 and content.confidence == 0.5  # the first-speaker fallback, wrong here
    enrolled = voiceprint(telephone_band(np.concatenate(other.utterances)))
    assert enrolled is not None and enrolled[1] >= 10.0
    chosen = combine(content, voice_choice(d.centroids, AgentVoiceprint("S0150", list(map(float, enrolled[0])), 1)))
    assert chosen.agent_cluster == agent_cluster and chosen.confidence >= 0.9
    assert "voiceprint" in chosen.reason


def _info(sha: str) -> AudioInfo:
    return AudioInfo(f"/{sha[:4]}.wav", sha, 100, 12.0, 1, 8000, "pcm_s16le")


def _analysis(sha: str, agent_print: list[float] | None) -> CallAnalysis:
    tr = Transcript(None, "zh", 12.0, [Segment("agent", 0.5, 3.0, "您好"), Segment("customer", 3.5, 5.0, "喂")],
                    [SpeakerAssignment("agent", "cluster 0", "diarization", 0.95, "greets", agent_print),
                     SpeakerAssignment("customer", "cluster 1", "diarization", 0.95, "greets")])
    return CallAnalysis(transcript=tr, findings=[], measures={}, risk=0.0, complaint_risk=0.0, score_reasons=[],
                        exposure=CallExposure(), audio=_info(sha), asr_model="whisper-base")


def _store_call(url: str, sha: str, agent_id: str, hour: int, agent_print: list[float] | None) -> int:
    meta = CallMeta(agent_id=agent_id, started_at=datetime(2026, 11, 2, hour, tzinfo=ZoneInfo("Asia/Shanghai")))
    with session_scope(url) as s:
        call_id, _ = store.claim_call(s, sha, f"/{sha[:4]}.wav", meta, force=False)
        store.save_analysis(s, call_id, _analysis(sha, agent_print))
        store.mark_done(s, call_id)
    return call_id


def test_voiceprints_are_stored_averaged_over_other_calls_and_forgotten(db_url: str) -> None:
    from qa.cli import app

    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    first = _store_call(db_url, "a" * 64, "A1", 9, a)
    second = _store_call(db_url, "b" * 64, "A1", 10, b)
    third = _store_call(db_url, "c" * 64, "A1", 11, None)
    _store_call(db_url, "d" * 64, "A2", 12, [0.0, 0.0, 1.0])
    with session_scope(db_url) as s:
        # Stored with the transcript, and kept when a re-analysis saves the loaded transcript again.
        tr = store.load_transcript(s, first)
        assert tr is not None and tr.speakers[0].voiceprint == a and tr.speakers[1].voiceprint is None
        vp = agent_voiceprint(s, "A1", third)
        assert vp is not None and vp.calls == 2
        assert vp.embedding == pytest.approx([2 ** -0.5, 2 ** -0.5, 0.0])
        # The call being analysed is left out of its own agent's voiceprint.
        history = call_history(s, first, 10, voiceprint=True)
        assert history.agent_voiceprint is not None and history.agent_voiceprint.embedding == pytest.approx(b)
        assert call_history(s, first, 10).agent_voiceprint is None  # re-analysis (no transcription) reads none
        assert agent_voiceprint(s, "A3") is None
        # A reviewer who says the other voice is the agent removes the print of the wrong voice.
        store.swap_roles(s, second, "cluster 1")
    with session_scope(db_url) as s:
        assert all(sp.voiceprint is None for sp in s.scalars(select(Speaker).where(Speaker.call_id == second)))
        vp = agent_voiceprint(s, "A1")
        assert vp is not None and vp.calls == 1 and vp.embedding == pytest.approx(a)

    listed = CliRunner().invoke(app, ["voiceprints", "--json", "--db", db_url])
    assert listed.exit_code == 0 and json.loads(listed.output) == [{"agent": "A1", "calls": 1},
                                                                   {"agent": "A2", "calls": 1}]
    result = CliRunner().invoke(app, ["forget-voiceprints", "--agent", "A1", "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"agent": "A1", "calls": 1}
    with session_scope(db_url) as s:
        assert agent_voiceprint(s, "A1") is None
        assert agent_voiceprint(s, "A2") is not None  # another agent's print stays
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "forget_voiceprints"))
        assert event is not None and event.detail == {"agent": "A1", "calls": 1}
        assert s.scalar(select(Call).where(Call.id == first)) is not None  # the calls themselves stay


@pytest.mark.slow
def test_sample_agent_enrolled_from_a_stereo_call_is_recognised_in_a_mono_call(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """EN-A01's stereo call stores their voice; their mono call is then matched against it, and a reviewer who
    names a voice as the agent enrols that voice. Off by default: the same stereo call stores nothing."""
    from qa.cli import app
    from qa.config import get_settings
    from qa.ingest.batch import build_jobs, run_batch

    files = [SAMPLES / "en_01_clean_minimiranda.ogg", SAMPLES / "en_05_self_harm_inbound.ogg"]
    url = f"sqlite:///{tmp_path / 'on.db'}"
    monkeypatch.setenv("CALLQA_AGENT_VOICEPRINTS", "1")
    get_settings.cache_clear()
    try:
        for f in files:  # one after the other: the mono call reads the stereo call's print
            results = run_batch(build_jobs([f], SAMPLES / "manifest.csv", get_settings()), url, workers=1)
            assert results[0].status == "done", results[0].reason
        with session_scope(url) as s:
            rows = {Path(c.path).name: c for c in s.scalars(select(Call))}
            stereo = {sp.role: sp for sp in rows[files[0].name].speakers}
            assert stereo["agent"].voiceprint is not None and len(stereo["agent"].voiceprint) == 256
            assert stereo["customer"].voiceprint is None  # a customer's voice is never kept
            mono_id = rows[files[1].name].id
            mono = {sp.role: sp for sp in rows[files[1].name].speakers}
            assert "cluster 0 sounds like agent EN-A01's voiceprint (1 calls)" in mono["agent"].reason, \
                mono["agent"].reason
            assert "role confidence 0.99" in mono["agent"].reason  # the agent answers this inbound call
            agent_print = np.asarray(stereo["agent"].voiceprint)
        # A reviewer's choice of agent enrols the voice they named: the other voice first, then back.
        runner = CliRunner()
        for label in ("cluster 1", "cluster 0"):
            result = runner.invoke(app, ["set-agent", str(mono_id), label, "--db", url])
            assert result.exit_code == 0 and "voiceprint" in result.output, result.output
            with session_scope(url) as s:
                named = s.scalar(select(Speaker).where(Speaker.call_id == mono_id, Speaker.role == "agent"))
                assert named.label == label and named.voiceprint is not None
                similarity = float(np.asarray(named.voiceprint) @ agent_print)
                assert (similarity > 0.9) == (label == "cluster 0"), (label, similarity)
    finally:
        monkeypatch.delenv("CALLQA_AGENT_VOICEPRINTS")
        get_settings.cache_clear()

    off = f"sqlite:///{tmp_path / 'off.db'}"
    assert run_batch(build_jobs(files[:1], SAMPLES / "manifest.csv", get_settings()), off, workers=1)[0].status \
        == "done"
    with session_scope(off) as s:
        assert all(sp.voiceprint is None for sp in s.scalars(select(Speaker)))


def test_enrolment_uses_only_speech_nobody_else_overlaps() -> None:
    from qa.asr.evaluate_speakers import _only

    turns = [(0.0, 4.0, "A"), (3.0, 5.0, "B"), (6.0, 8.0, "A"), (6.5, 7.0, "B")]
    assert _only(turns, "A") == [(0.0, 3.0), (6.0, 6.5), (7.0, 8.0)]
    assert _only(turns, "B") == [(4.0, 5.0)]


@pytest.mark.slow
def test_voiceprint_finds_each_speaker_of_one_real_meeting_excerpt_in_the_other() -> None:
    """The two AMI excerpts share both speakers: a voiceprint enrolled from one excerpt picks the same person's
    diarised voice in the other (four trials, real far-field speech)."""
    from qa.asr.evaluate_speakers import real_recordings, voiceprint_trials

    folder = shared_file("speech_more/diar_en_ami_dev00.wav").parent
    shared_file("speech_more/diar_en_ami_dev01.rttm")
    ami = [r for r in real_recordings(folder) if "ami" in r.name]
    trials = voiceprint_trials(ami)
    assert len(trials) == 4
    assert all(t["right"] for t in trials), trials
