"""Queries for ingestion: claiming a call, storing its transcript and findings, reading them back."""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.records import AudioInfo, CallMeta, Finding, Segment, SpeakerAssignment, Transcript, Word
from qa.store.models import Call, FindingRow, IngestionEvent, SegmentRow, Speaker, utcnow

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


def save_transcript(session: Session, call_id: int, info: AudioInfo, transcript: Transcript,
                    asr_model: str, seconds: float) -> None:
    """Replace the call's speakers and segments with `transcript` (one transaction with the caller's)."""
    call = session.get(Call, call_id)
    assert call is not None
    session.execute(delete(Speaker).where(Speaker.call_id == call_id))
    session.execute(delete(SegmentRow).where(SegmentRow.call_id == call_id))
    for sp in transcript.speakers:
        session.add(Speaker(call_id=call_id, role=sp.role, label=sp.label, method=sp.method,
                            confidence=sp.confidence, reason=sp.reason))
    for i, seg in enumerate(transcript.segments):
        session.add(SegmentRow(
            call_id=call_id, idx=i, speaker=seg.speaker, channel=seg.channel, start=seg.start, end=seg.end,
            text=seg.text, raw_text=seg.raw_text, words=[asdict(w) for w in seg.words],
            avg_logprob=seg.avg_logprob, no_speech_prob=seg.no_speech_prob,
        ))
    call.duration, call.channels, call.language = info.duration, info.channels, transcript.language
    call.asr_model, call.processing_seconds = asr_model, seconds


def mark_done(session: Session, call_id: int, seconds: float | None = None) -> None:
    call = session.get(Call, call_id)
    assert call is not None
    call.status, call.error, call.claimed_by = "done", None, None
    if seconds is not None:
        call.processing_seconds = seconds


def replace_findings(session: Session, call_id: int, findings: list[Finding], keep_prefixes: tuple[str, ...]) -> None:
    """Replace the call's findings, keeping those whose label starts with one of `keep_prefixes`."""
    stmt = delete(FindingRow).where(FindingRow.call_id == call_id)
    if keep_prefixes:
        stmt = stmt.where(~or_(*[FindingRow.label.startswith(p) for p in keep_prefixes]))
    session.execute(stmt)
    for f in findings:
        session.add(FindingRow(
            call_id=call_id, segment_idx=f.segment_index, label=f.label, subtype=f.subtype, speaker=f.speaker,
            start=f.start, end=f.end, span=f.span, score=float(f.score), source=f.source,
            explanation=f.explanation, details=f.details or None,
        ))


def call_meta(call: Call) -> CallMeta:
    return CallMeta(
        agent_id=call.agent_id, account_id=call.account_id, callee=call.callee, started_at=call.started_at,
        direction=call.direction, jurisdiction=call.jurisdiction, agent_channel=call.agent_channel, team=call.team,
        timezone=call.timezone,
    )


def load_transcript(session: Session, call_id: int) -> Transcript | None:
    call = session.get(Call, call_id)
    if call is None:
        return None
    segments = [
        Segment(speaker=row.speaker, start=row.start, end=row.end, text=row.text,  # type: ignore[arg-type]
                words=[Word(**w) for w in (row.words or [])], raw_text=row.raw_text,
                avg_logprob=row.avg_logprob, no_speech_prob=row.no_speech_prob, channel=row.channel)
        for row in session.scalars(select(SegmentRow).where(SegmentRow.call_id == call_id).order_by(SegmentRow.idx))
    ]
    speakers = [
        SpeakerAssignment(role=s.role, label=s.label, method=s.method, confidence=s.confidence,  # type: ignore[arg-type]
                          reason=s.reason or "")
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
    for seg in call.segments:
        seg.speaker = "customer" if seg.speaker == "agent" else "agent"
