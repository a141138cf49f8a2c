"""Audit log page: who opened which call, played audio, exported, or changed a verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qa.access.auth import Principal, require
from qa.store.models import AuditEvent
from qa.views.common import day_start
from qa.views.i18n import Bilingual, named


@dataclass
class AuditRow:
    id: int
    at: datetime
    user: str
    action: str
    call_id: int | None
    detail: dict[str, Any] | None  # ids and short enum-like values only (see qa.access.audit)

    @property
    def action_name(self) -> Bilingual:
        return named("action", self.action)

    @classmethod
    def of(cls, e: AuditEvent) -> AuditRow:
        return cls(e.id, e.at, e.user, e.action, e.call_id, e.detail)


@dataclass
class AuditPage:
    rows: list[AuditRow]
    total: int


def audit_log(session: Session, user: Principal, user_name: str | None = None, action: str | None = None,
              call_id: int | None = None, date_from: date | None = None, date_to: date | None = None,
              limit: int = 100, offset: int = 0) -> AuditPage:
    require(user, "audit")
    conds: list[ColumnElement[bool]] = []
    if user_name:
        conds.append(AuditEvent.user == user_name)
    if action:
        conds.append(AuditEvent.action == action)
    if call_id is not None:
        conds.append(AuditEvent.call_id == call_id)
    if date_from:
        conds.append(AuditEvent.at >= day_start(date_from))
    if date_to:
        conds.append(AuditEvent.at < day_start(date_to + timedelta(days=1)))
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conds)) or 0
    rows = [AuditRow.of(e) for e in session.scalars(
        select(AuditEvent).where(*conds).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(max(1, min(limit, 1000))).offset(max(0, offset)))]
    return AuditPage(rows=rows, total=total)


def audit_users(session: Session, user: Principal) -> list[str]:
    require(user, "audit")
    return list(session.scalars(select(AuditEvent.user).distinct().order_by(AuditEvent.user)))


def call_trail(session: Session, call_id: int) -> list[AuditRow]:
    """Every audit event of one call, oldest first (for a case file; the caller checks "export")."""
    return [AuditRow.of(e) for e in session.scalars(select(AuditEvent).where(AuditEvent.call_id == call_id)
                                                    .order_by(AuditEvent.at, AuditEvent.id))]
