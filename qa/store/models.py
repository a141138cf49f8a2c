"""SQLAlchemy 2.0 ORM models: the schema of the callqa store.

Portable across SQLite and PostgreSQL: JSON columns, timezone-aware timestamps stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Dialect,
    TypeDecorator,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
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
    role: Mapped[str] = mapped_column(String(16))  # reviewer | compliance | manager | admin
    password_hash: Mapped[str] = mapped_column(String(256))
    team: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only record of who did what with which call."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))  # sign_in | open_call | play_audio | export | verdict | ...
    call_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
