"""Review queue page: calls at the review threshold (or every processed call), riskiest first, with label chips,
filters and transcript search."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, distinct, func, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qa.access import audit
from qa.access.auth import PermissionDenied, Principal, require
from qa.access.redact import SearchRefused, check_search_term
from qa.speakers.attribution import LOW_CONFIDENCE
from qa.store.models import ACTIVE, Call, FindingRow, Speaker, Verdict
from qa.store.search import call_text_match
from qa.views.common import (
    CHIP_LABELS,
    DONE,
    Filters,
    call_conditions,
    chip_label,
    team_scope,
)

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class QueueCursor:
    """Where the next page starts: the last row of the previous one (keyset pagination)."""

    risk: float | None
    call_id: int


@dataclass
class QueueRow:
    call_id: int
    started_at: datetime | None
    agent_id: str | None
    team: str | None
    language: str | None
    jurisdiction: str | None
    duration: float | None
    risk_score: float | None
    complaint_risk: float | None
    labels: list[str] = field(default_factory=list)
    findings: int = 0
    reviewed: int = 0  # findings with at least one verdict
    attribution: float = 1.0  # how sure the speaker roles are (weakest speaker assignment), 0..1

    @property
    def attribution_uncertain(self) -> bool:
        return self.attribution < LOW_CONFIDENCE


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: QueueCursor | None
    total: int | None  # None when not counted (counting a text search would scan every segment)


def _search_condition(session: Session, term: str, user: Principal) -> ColumnElement[bool]:
    try:
        term = check_search_term(term, user.can("pii"))
    except SearchRefused as exc:
        if exc.reason == "digits":
            # Any digit, written or spoken, could narrow a masked ID/phone/card number call by call.
            raise PermissionDenied(user.role, "pii") from None
        raise
    return call_text_match(session, _to_simplified(term))  # the transcript index of migration 0006


def _to_simplified(text: str) -> str:
    """Transcripts are stored in Simplified Chinese; accept a Traditional search term too."""
    try:
        import opencc

        return opencc.OpenCC("t2s").convert(text)
    except Exception:  # noqa: BLE001 - search still works without conversion
        return text


def review_queue(session: Session, user: Principal, f: Filters = Filters(), cursor: QueueCursor | None = None,
                 page_size: int = 50, count: bool = True) -> QueuePage:
    """Processed calls, riskiest first, `page_size` at a time after `cursor`.

    Keyset pagination on (risk_score DESC NULLS LAST, id DESC) over the (status, risk_score) index:
    every page costs the same at call 100,000 as at call 1.
    """
    require(user, "queue")
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    conds = call_conditions(f) + team_scope(user)
    if f.review == "flagged" and not f.search.strip():  # a text search looks through every processed call
        conds.append(Call.flagged.is_(True))
    if f.search.strip():
        conds.append(_search_condition(session, f.search, user))
    page_conds = list(conds)
    if cursor is not None:
        if cursor.risk is None:
            page_conds.append(and_(Call.risk_score.is_(None), Call.id < cursor.call_id))
        else:
            page_conds.append(or_(tuple_(Call.risk_score, Call.id) < tuple_(cursor.risk, cursor.call_id),
                                  Call.risk_score.is_(None)))
    stmt: Select[Any] = (
        select(Call.id, Call.started_at, Call.agent_id, Call.team, Call.language, Call.jurisdiction, Call.duration,
               Call.risk_score, Call.complaint_risk)
        .where(*page_conds).order_by(Call.risk_score.desc().nulls_last(), Call.id.desc()).limit(page_size + 1)
    )
    raw = session.execute(stmt).all()
    more = len(raw) > page_size
    rows = [QueueRow(*r) for r in raw[:page_size]]
    by_id = {r.call_id: r for r in rows}
    if by_id:
        chip = chip_label().label("chip")
        for cid, lb, n in session.execute(
            select(FindingRow.call_id, chip, func.count()).where(FindingRow.call_id.in_(by_id),
                                                                 FindingRow.status == ACTIVE)
            .group_by(FindingRow.call_id, chip)
        ):
            by_id[cid].labels.append(lb)
            by_id[cid].findings += n
        for cid, n in session.execute(
            select(FindingRow.call_id, func.count(distinct(Verdict.finding_id)))
            .join(Verdict, Verdict.finding_id == FindingRow.id)
            .where(FindingRow.call_id.in_(by_id), FindingRow.status == ACTIVE)
            .group_by(FindingRow.call_id)
        ):
            by_id[cid].reviewed = n
        for cid, conf in session.execute(select(Speaker.call_id, func.min(Speaker.confidence))
                                         .where(Speaker.call_id.in_(by_id)).group_by(Speaker.call_id)):
            by_id[cid].attribution = float(conf) if conf is not None else 1.0
        for r in rows:
            r.labels.sort(key=lambda lb: CHIP_LABELS.index(lb) if lb in CHIP_LABELS else len(CHIP_LABELS))
    total = None
    if count and not f.search.strip():
        total = session.scalar(select(func.count(Call.id)).where(*conds))
    last = rows[-1] if rows else None
    next_cursor = QueueCursor(last.risk_score, last.call_id) if (more and last) else None
    if f.search.strip():
        audit.record(session, user.name, "search", detail={"results": len(rows)})  # never the term itself
    return QueuePage(rows=rows, next_cursor=next_cursor, total=total)


def riskiest_call_id(session: Session, user: Principal) -> int | None:
    require(user, "queue")
    return session.scalar(select(Call.id).where(Call.status == DONE, *team_scope(user))
                          .order_by(Call.risk_score.desc().nulls_last(), Call.id.desc()).limit(1))
