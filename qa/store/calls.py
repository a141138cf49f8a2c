"""Queries for ingestion: claiming a call, storing an analysis (transcript, measures, scores, findings), reading
it back."""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.records import (
    CallAnalysis,
    CallMeta,
    Segment,
    SpeakerAssignment,
    Transcript,
    Word,
)
from qa.store.models import Call, IngestionEvent, SegmentRow, Speaker, utcnow
from qa.store.reviews import Reconciled, reconcile_findings

#: A call left in "processing" by a worker on another host is taken over after this long.
CLAIM_LEASE = timedelta(minutes=30)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_is_stale(call: Call) -> bool:
    if not call.claimed_by:
        return True
    host, _, pid = call.claimed_by.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True  # the worker that claimed it is gone (killed mid-ingest): resume
        except PermissionError:
            return False
        return int(pid) == os.getpid()
    return utcnow() - call.updated_at > CLAIM_LEASE


def log_event(session: Session, path: str, event: str, message: str | None = None,
              call_id: int | None = None, content_hash: str | None = None) -> None:
    session.add(IngestionEvent(call_id=call_id, path=path, content_hash=content_hash, event=event, message=message))


def find_call_by_hash(session: Session, content_hash: str) -> Call | None:
    return session.scalar(select(Call).where(Call.content_hash == content_hash))


def claim_call(session: Session, content_hash: str, path: str, meta: CallMeta, force: bool) -> tuple[int | None, str]:
    """Create or take over the call row for this content; returns (call_id, "claimed"|"done"|"busy").

    The unique content hash makes this safe between concurrent workers: at most one row per recording.
    """
    call = find_call_by_hash(session, content_hash)
    if call is None:
        call = Call(content_hash=content_hash, path=path, status="processing", claimed_by=worker_id())
        _apply_meta(call, meta)
        session.add(call)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return None, "busy"  # another worker inserted it a moment ago
        return call.id, "claimed"
    if call.status == "done" and not force:
        return call.id, "done"
    if call.status == "processing" and not _claim_is_stale(call):
        return call.id, "busy"
    call.status, call.error, call.path, call.claimed_by = "processing", None, path, worker_id()
    _apply_meta(call, meta)
    session.flush()
    return call.id, "claimed"


def _apply_meta(call: Call, meta: CallMeta) -> None:
    for key, value in asdict(meta).items():
        if value is not None or getattr(call, key, None) is None:
            setattr(call, key, value)


def mark_failed(session: Session, call_id: int, reason: str) -> None:
    call = session.get(Call, call_id)
    if call is not None:
        call.status, call.error, call.claimed_by = "failed", reason, None


def _save_transcript(session: Session, call: Call, transcript: Transcript) -> None:
    """Make the call's speakers and segments match `transcript` (segments updated in place by position)."""
    call.speakers = [Speaker(call_id=call.id, role=sp.role, label=sp.label, method=sp.method,
                             confidence=sp.confidence, reason=sp.reason, voiceprint=sp.voiceprint)
                     for sp in transcript.speakers]
    rows = {r.idx: r for r in session.scalars(select(SegmentRow).where(SegmentRow.call_id == call.id))}
    for i, seg in enumerate(transcript.segments):
        row = rows.pop(i, None)
        if row is None:
            row = SegmentRow(call_id=call.id, idx=i)
            session.add(row)
        row.speaker, row.channel, row.start, row.end = seg.speaker, seg.channel, seg.start, seg.end
        row.text, row.raw_text, row.words = seg.text, seg.raw_text, [asdict(w) for w in seg.words]
        row.avg_logprob, row.no_speech_prob, row.voice = seg.avg_logprob, seg.no_speech_prob, seg.voice
    for row in rows.values():
        session.delete(row)


def save_analysis(session: Session, call_id: int, analysis: CallAnalysis) -> Reconciled:
    """Persist `qa.pipeline.analyze`'s result for a stored call, in the caller's transaction: transcript and
    voice measures, measures and scores, and the findings (reconciled so reviewers' work is kept)."""
    call = session.get(Call, call_id)
    if call is None:
        raise KeyError(call_id)
    _save_transcript(session, call, analysis.transcript)
    if analysis.audio is not None:
        call.duration, call.channels = analysis.audio.duration, analysis.audio.channels
    if analysis.asr_model is not None:
        call.asr_model = analysis.asr_model
    call.language = analysis.transcript.language
    call.measures = analysis.measures
    call.risk_score, call.complaint_risk = analysis.risk, analysis.complaint_risk
    call.score_reasons = analysis.score_reasons
    call.flagged, call.flag_reasons = analysis.flagged, analysis.flag_reasons
    session.flush()
    return reconcile_findings(session, call_id, analysis.findings)


def mark_done(session: Session, call_id: int, seconds: float | None = None) -> None:
    call = session.get(Call, call_id)
    assert call is not None
    call.status, call.error, call.claimed_by = "done", None, None
    if seconds is not None:
        call.processing_seconds = seconds


def call_meta(call: Call) -> CallMeta:
    return CallMeta(
        agent_id=call.agent_id, account_id=call.account_id, callee=call.callee, started_at=call.started_at,
        direction=call.direction, jurisdiction=call.jurisdiction, agent_channel=call.agent_channel, team=call.team,
        timezone=call.timezone,
    )


def load_meta(session: Session, call_id: int) -> CallMeta:
    call = session.get(Call, call_id)
    if call is None:
        raise KeyError(call_id)
    return call_meta(call)


def load_transcript(session: Session, call_id: int) -> Transcript | None:
    call = session.get(Call, call_id)
    if call is None:
        return None
    segments = [
        Segment(speaker=row.speaker, start=row.start, end=row.end, text=row.text,  # type: ignore[arg-type]
                words=[Word(**w) for w in (row.words or [])], raw_text=row.raw_text,
                avg_logprob=row.avg_logprob, no_speech_prob=row.no_speech_prob, channel=row.channel,
                voice=row.voice)
        for row in session.scalars(select(SegmentRow).where(SegmentRow.call_id == call_id).order_by(SegmentRow.idx))
    ]
    speakers = [
        SpeakerAssignment(role=s.role, label=s.label, method=s.method, confidence=s.confidence,  # type: ignore[arg-type]
                          reason=s.reason or "", voiceprint=s.voiceprint)
        for s in call.speakers
    ]
    return Transcript(call.id, call.language or "zh", call.duration or 0.0, segments, speakers)


def list_calls(session: Session, status: str | None = None) -> list[Call]:
    stmt = select(Call).order_by(Call.id)
    if status:
        stmt = stmt.where(Call.status == status)
    return list(session.scalars(stmt))


def done_call_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Call.id).where(Call.status == "done").order_by(Call.id)))


def swap_roles(session: Session, call_id: int, agent_label: str) -> None:
    """Reviewer override: make the speaker with `agent_label` ("cluster 1", "channel 0") the agent."""
    call = session.get(Call, call_id)
    if call is None:
        raise KeyError(call_id)
    labels = {s.label for s in call.speakers}
    if agent_label not in labels:
        raise ValueError(f"call {call_id} has no speaker '{agent_label}' (has: {', '.join(sorted(labels))})")
    current_agent = next((s.label for s in call.speakers if s.role == "agent"), None)
    if current_agent == agent_label:
        return
    for s in call.speakers:
        s.role = "agent" if s.label == agent_label else "customer"
        s.method, s.reason = "override", f"set by a reviewer: {agent_label} is the agent"
        s.confidence = 1.0
        s.voiceprint = None  # the voice wrongly taken for the agent's (`enrol_reviewed_agent` embeds the named one)
    for seg in call.segments:
        seg.speaker = "customer" if seg.speaker == "agent" else "agent"
