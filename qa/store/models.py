"""SQLAlchemy 2.0 ORM models: the schema of the callqa store.

Portable across SQLite and PostgreSQL: JSON columns, timezone-aware timestamps stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps stored as UTC on every backend (SQLite would silently drop the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: callqa stores timezone-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the file bytes
    path: Mapped[str] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    callee: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None] = mapped_column(index=True)
    direction: Mapped[str | None] = mapped_column(String(16))
    jurisdiction: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))  # debtor's zone, when the manifest gives it
    agent_channel: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|processing|done|failed
    error: Mapped[str | None] = mapped_column(Text)
    asr_model: Mapped[str | None] = mapped_column(String(200))
    processing_seconds: Mapped[float | None] = mapped_column(Float)
    claimed_by: Mapped[str | None] = mapped_column(String(128))  # "host:pid" of the worker processing it
    risk_score: Mapped[float | None] = mapped_column(Float, index=True)  # 0-100
    complaint_risk: Mapped[float | None] = mapped_column(Float)  # 0-1
    score_reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    flagged: Mapped[bool] = mapped_column(default=False, index=True)  # in the review queue (review threshold)
    flag_reasons: Mapped[list[Any] | None] = mapped_column(JSON)  # the findings that flagged it
    measures: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # conversation measures
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    speakers: Mapped[list[Speaker]] = relationship(back_populates="call", cascade="all, delete-orphan")
    segments: Mapped[list[SegmentRow]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="SegmentRow.start"
    )
    findings: Mapped[list[FindingRow]] = relationship(back_populates="call", cascade="all, delete-orphan")

    __table_args__ = (Index("ix_calls_status_risk", "status", "risk_score"),)


class Speaker(Base):
    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # agent | customer
    label: Mapped[str] = mapped_column(String(32))  # "channel 0", "cluster 1"
    method: Mapped[str] = mapped_column(String(16))  # channel | diarization | override
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    reason: Mapped[str | None] = mapped_column(Text)
    # The agent's voice embedding in this call (`agent_voiceprints` on; biometric: removed with the call, and by
    # `callqa forget-voiceprints`). Only ever on the agent's row.
    voiceprint: Mapped[list[float] | None] = mapped_column(JSON(none_as_null=True))

    call: Mapped[Call] = relationship(back_populates="speakers")


class SegmentRow(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)  # position in the merged transcript
    speaker: Mapped[str] = mapped_column(String(16))
    channel: Mapped[int | None] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    raw_text: Mapped[str | None] = mapped_column(Text)
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)
    avg_logprob: Mapped[float | None] = mapped_column(Float)
    no_speech_prob: Mapped[float | None] = mapped_column(Float)
    voice: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # per-turn voice measures

    call: Mapped[Call] = relationship(back_populates="segments")


#: FindingRow.status: "active" findings fired on the latest analysis; "superseded" ones no longer fire but are
#: kept because a reviewer judged or annotated them (shown in history and exports, never counted).
ACTIVE = "active"
SUPERSEDED = "superseded"


class FindingRow(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    segment_idx: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(48), index=True)
    subtype: Mapped[str] = mapped_column(String(64))
    speaker: Mapped[str | None] = mapped_column(String(16))
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)
    span: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(128))
    explanation: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE, server_default=ACTIVE, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    call: Mapped[Call] = relationship(back_populates="findings")
    verdicts: Mapped[list[Verdict]] = relationship(back_populates="finding", cascade="all, delete-orphan")


class IngestionEvent(Base):
    """Append-only log of what ingestion did with each file."""

    __tablename__ = "ingestion_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    path: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))  # started | done | skipped | failed
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Verdict(Base):
    """A reviewer's decision on a finding; doubles as a training label (`callqa export-labels`)."""

    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    user: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))  # confirm | dismiss | escalate
    role: Mapped[str | None] = mapped_column(String(16))  # the author's role then: who may close an escalation
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    finding: Mapped[FindingRow] = relationship(back_populates="verdicts")


class CoachingNote(Base):
    __tablename__ = "coaching_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    author: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentDay(Base):
    """Agent wellbeing index and its inputs for one agent and one day."""

    __tablename__ = "agent_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    wellbeing: Mapped[float] = mapped_column(Float)  # 0-100, higher is better
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("agent_id", "day", name="uq_agent_day"),)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(16))  # info | warning | critical
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    day: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("agent_id", "kind", "day", name="uq_alert_agent_kind_day"),)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # agent | reviewer | compliance | manager | admin
    password_hash: Mapped[str] = mapped_column(String(256))
    team: Mapped[str | None] = mapped_column(String(64))  # first team (kept for older readers)
    teams: Mapped[list[Any] | None] = mapped_column(JSON)  # every team the user belongs to
    agent_id: Mapped[str | None] = mapped_column(String(64))  # role 'agent': the agent id of their calls
    active: Mapped[bool] = mapped_column(default=True)
    #: Raised on password change and deactivation: every session signed in before it ends.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInThrottle(Base):
    """Failed sign-ins per user name (stored as a keyed hash, never the typed name): delay, then a lock."""

    __tablename__ = "sign_in_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    name_hash: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column()
    locked_until: Mapped[datetime | None] = mapped_column()


class AuditHead(Base):
    """The end of the audit hash chain (one row): appenders lock it, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="")


class AuditEvent(Base):
    """Append-only record of who did what with which call."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))  # sign_in | open_call | play_audio | export | verdict | ...
    call_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    session_id: Mapped[str | None] = mapped_column(String(64))  # the dashboard session, or "cli:<user>"
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)  # position in the hash chain
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))  # sha256 over this row's content and prev_hash


# --- QA scorecards and the review, dispute, calibration and coaching workflow ---------------------------


class ScorecardRow(Base):
    """A call scored against a QA form. `auto_items` is what the automatic checks said (replaced on
    re-analysis); `items` and the scores are the effective result with people's changes applied."""

    __tablename__ = "scorecards"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[int] = mapped_column(Integer)
    auto_items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    percent: Mapped[float | None] = mapped_column(Float)
    fatal_failed: Mapped[bool] = mapped_column(default=False)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("call_id", "form_id", name="uq_scorecard_call_form"),)


class ScoreChange(Base):
    """A person's decision on one item (append-only history). Keyed by call, form and item id, never by
    scorecard row, so it survives re-analysis; the latest per item is in force."""

    __tablename__ = "score_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(8))  # pass | fail | na
    previous: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))  # override | dispute
    dispute_id: Mapped[int | None] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreAck(Base):
    """An agent acknowledged their scorecard."""

    __tablename__ = "score_acks"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Dispute(Base):
    """An agent's dispute (申诉) of one item, and the QA lead's decision."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    raised_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | accepted | rejected
    reply: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalibrationSession(Base):
    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    form_id: Mapped[str] = mapped_column(String(64))
    call_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reviewers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalibrationScore(Base):
    """One reviewer's blind result for one item of one call in a calibration session."""

    __tablename__ = "calibration_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("session_id", "call_id", "reviewer", "item_id", name="uq_calibration_score"),)


class CoachingAssignment(Base):
    """Coaching a lead assigned to an agent for a form item, with example calls."""

    __tablename__ = "coaching_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    coaching_key: Mapped[str | None] = mapped_column(String(64))
    call_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    assigned_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="assigned")  # assigned | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
