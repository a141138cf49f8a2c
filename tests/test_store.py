"""The store: one row per recording whatever the concurrency, transcripts round-trip, reviewer overrides."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from qa.records import (
    AudioInfo,
    CallAnalysis,
    CallExposure,
    CallMeta,
    Finding,
    Segment,
    SpeakerAssignment,
    Transcript,
    Word,
)
from qa.store import calls as store
from qa.store.db import session_scope
from qa.store.models import Call, FindingRow


def _transcript() -> Transcript:
    return Transcript(None, "zh", 12.0, [
        Segment("agent", 0.5, 3.0, "您好，我是恒信金融的客服", [Word(0.5, 1.0, "您好", 0.9)], raw_text="您好，我是恆信金融的客服"),
        Segment("customer", 3.5, 5.0, "我不是他本人", [Word(3.5, 4.0, "我", 0.8)]),
    ], [SpeakerAssignment("agent", "cluster 0", "diarization", 0.8, "greets"),
        SpeakerAssignment("customer", "cluster 1", "diarization", 0.2, "greets")])


def _info() -> AudioInfo:
    return AudioInfo("/x.wav", "ab" * 32, 100, 12.0, 1, 8000, "pcm_s16le")


def _analysis(findings: list[Finding]) -> CallAnalysis:
    return CallAnalysis(transcript=_transcript(), findings=findings, measures={"customer_speech_s": 1.5}, risk=40.0,
                        complaint_risk=0.2, score_reasons=[], exposure=CallExposure(), audio=_info(),
                        asr_model="whisper-base")


def test_concurrent_claims_store_one_call(db_url: str) -> None:
    meta = CallMeta(agent_id="A1", started_at=datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))

    def claim(_: int) -> str:
        with session_scope(db_url) as s:
            return store.claim_call(s, "f" * 64, "/calls/x.wav", meta, force=False)[1]

    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(claim, range(16)))
    assert states.count("claimed") >= 1
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1
        call = s.scalar(select(Call))
        assert call.started_at is not None
        assert call.started_at.astimezone(ZoneInfo("UTC")).hour == 2


def test_transcript_round_trip_and_findings(db_url: str) -> None:
    with session_scope(db_url) as s:
        call_id, state = store.claim_call(s, "a" * 64, "/x.wav", CallMeta(callee="neighbor"), force=False)
        assert state == "claimed" and call_id
        store.save_analysis(s, call_id, _analysis([Finding("privacy", "privacy/third_party_disclosure", "agent",
                                                           0.5, 3.0, "欠款", 0.9, "rule:x", "why")]))
        store.mark_done(s, call_id)
    with session_scope(db_url) as s:
        tr = store.load_transcript(s, call_id)
        assert tr is not None
        assert [seg.text for seg in tr.segments] == ["您好，我是恒信金融的客服", "我不是他本人"]
        assert tr.segments[0].raw_text == "您好，我是恆信金融的客服"
        assert tr.segments[0].words[0] == Word(0.5, 1.0, "您好", 0.9)
        assert store.claim_call(s, "a" * 64, "/x.wav", CallMeta(), force=False)[1] == "done"
        call = s.get(Call, call_id)
        assert (call.asr_model, call.duration, call.risk_score) == ("whisper-base", 12.0, 40.0)
        # A new analysis replaces the findings nobody reviewed.
        store.save_analysis(s, call_id, _analysis([Finding("compliance/calling_hours", "compliance/calling_hours",
                                                           None, None, None, "", 1.0, "cn", "late")]))
    with session_scope(db_url) as s:
        labels = sorted(f.label for f in s.scalars(select(FindingRow)))
        assert labels == ["compliance/calling_hours"]


def test_reviewer_can_swap_the_agent(db_url: str) -> None:
    with session_scope(db_url) as s:
        call_id, _ = store.claim_call(s, "b" * 64, "/y.wav", CallMeta(), force=False)
        store.save_analysis(s, call_id, _analysis([]))
    with session_scope(db_url) as s:
        store.swap_roles(s, call_id, "cluster 1")
    with session_scope(db_url) as s:
        tr = store.load_transcript(s, call_id)
        assert [seg.speaker for seg in tr.segments] == ["customer", "agent"]
        agent = next(sp for sp in tr.speakers if sp.role == "agent")
        assert agent.label == "cluster 1" and agent.method == "override"
