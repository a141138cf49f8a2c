"""Every query the dashboard runs. Pages never touch SQLAlchemy.

Each function takes the signed-in `Principal` and refuses (PermissionDenied) what the role may not
see, so hiding a page is never the only protection. Text goes through `qa.access.redact` for roles without
the "pii" capability. All SQL is built with SQLAlchemy expressions (bound parameters only).
Days are UTC calendar days of `started_at`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, case, distinct, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qa.access import audit
from qa.access.auth import PermissionDenied, Principal, require
from qa.records import LABELS
from qa.access.redact import PII_SPOKEN, mask_pii
from qa.store.search import call_text_match
from qa.store.models import (
    AgentDay,
    Alert,
    AuditEvent,
    Call,
    CoachingNote,
    FindingRow,
    SegmentRow,
    Verdict,
)

VERDICTS: tuple[str, ...] = ("confirm", "dismiss", "escalate")
#: Labels shown as chips and in violation tables; "compliance" groups every compliance/<rule> label.
CHIP_LABELS: tuple[str, ...] = (*LABELS, "compliance")
VIOLATION_LABELS: tuple[str, ...] = ("threat", "harassment", "privacy", "compliance")
RISK_BUCKETS: tuple[int, ...] = tuple(range(0, 100, 10))
DONE = "done"
MAX_PAGE_SIZE = 200


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects. Hashable, so pages can cache on it."""

    date_from: date | None = None
    date_to: date | None = None  # inclusive
    teams: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # queue: calls with any of these labels
    min_risk: float | None = None
    search: str = ""  # transcript text, Chinese or English


@dataclass
class FilterOptions:
    teams: list[str]
    agents: list[str]
    languages: list[str]
    jurisdictions: list[str]
    first_day: date | None
    last_day: date | None


def _utc(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _call_conditions(f: Filters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Call.status == DONE]
    if f.date_from:
        conds.append(Call.started_at >= _utc(f.date_from))
    if f.date_to:
        conds.append(Call.started_at < _utc(f.date_to + timedelta(days=1)))
    if f.teams:
        conds.append(Call.team.in_(f.teams))
    if f.agents:
        conds.append(Call.agent_id.in_(f.agents))
    if f.languages:
        conds.append(Call.language.in_(f.languages))
    if f.jurisdictions:
        conds.append(Call.jurisdiction.in_(f.jurisdictions))
    if f.min_risk is not None:
        conds.append(Call.risk_score >= f.min_risk)
    if f.labels:
        conds.append(exists().where(FindingRow.call_id == Call.id, _label_in(f.labels)))
    return conds


def _label_in(labels: tuple[str, ...]) -> ColumnElement[bool]:
    exact = [lb for lb in labels if lb != "compliance"]
    parts: list[ColumnElement[bool]] = []
    if exact:
        parts.append(FindingRow.label.in_(exact))
    if "compliance" in labels:
        parts.append(FindingRow.label.like("compliance%"))
    return or_(*parts)


def _chip_label() -> ColumnElement[str]:
    return case((FindingRow.label.like("compliance%"), "compliance"), else_=FindingRow.label)


def _as_day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def filter_options(session: Session, user: Principal) -> FilterOptions:
    require(user, "overview")

    def distinct_values(col: Any) -> list[str]:
        return [v for v in session.scalars(select(col).where(col.is_not(None)).distinct().order_by(col))]

    first, last = session.execute(select(func.min(Call.started_at), func.max(Call.started_at))).one()
    return FilterOptions(
        teams=distinct_values(Call.team), agents=distinct_values(Call.agent_id),
        languages=distinct_values(Call.language), jurisdictions=distinct_values(Call.jurisdiction),
        first_day=_as_day(first), last_day=_as_day(last),
    )


# ---------------------------------------------------------------- overview


@dataclass
class Overview:
    processed: int
    flagged: int
    avg_risk: float | None
    label_calls: dict[str, int]  # chip label -> calls with it
    risk_histogram: dict[int, int]  # bucket start (0, 10, ... 90) -> calls
    trend: list[dict[str, Any]]  # {"day", "calls", "flagged", "avg_risk"}
    top_rules: list[dict[str, Any]]  # {"source", "subtype", "label", "findings", "calls"}
    failed: int = 0


def overview(session: Session, user: Principal, f: Filters = Filters()) -> Overview:
    """Headline figures for the calls matching `f` (text search and label filters do not apply)."""
    require(user, "overview")
    f = Filters(f.date_from, f.date_to, f.teams, f.agents, f.languages, f.jurisdictions)
    conds = _call_conditions(f)
    processed, avg_risk = session.execute(select(func.count(Call.id), func.avg(Call.risk_score)).where(*conds)).one()
    flagged_ids = select(FindingRow.call_id).distinct().subquery()
    flagged = session.scalar(select(func.count()).select_from(Call).join(flagged_ids, flagged_ids.c.call_id == Call.id)
                             .where(*conds)) or 0
    failed_conds = [c for c in conds[1:]] + [Call.status == "failed"]
    failed = session.scalar(select(func.count(Call.id)).where(*failed_conds)) or 0

    chip = _chip_label().label("chip")
    label_rows = session.execute(
        select(chip, func.count(distinct(FindingRow.call_id))).join(Call, Call.id == FindingRow.call_id)
        .where(*conds).group_by(chip)
    ).all()

    bucket = case(*[(Call.risk_score < b + 10, b) for b in RISK_BUCKETS[:-1]], else_=RISK_BUCKETS[-1]).label("b")
    hist = {b: 0 for b in RISK_BUCKETS}
    for b, n in session.execute(select(bucket, func.count()).where(*conds, Call.risk_score.is_not(None)).group_by(bucket)):
        hist[int(b)] = n

    day = func.date(Call.started_at).label("day")
    is_flagged = case((flagged_ids.c.call_id.is_not(None), 1), else_=0)
    trend_rows = session.execute(
        select(day, func.count(Call.id), func.sum(is_flagged), func.avg(Call.risk_score))
        .select_from(Call).outerjoin(flagged_ids, flagged_ids.c.call_id == Call.id)
        .where(*conds, Call.started_at.is_not(None)).group_by(day).order_by(day)
    ).all()
    trend = [{"day": _as_day(d), "calls": n, "flagged": int(fl or 0), "avg_risk": float(r) if r is not None else None}
             for d, n, fl, r in trend_rows]

    rule_rows = session.execute(
        select(FindingRow.source, FindingRow.subtype, FindingRow.label, func.count(FindingRow.id),
               func.count(distinct(FindingRow.call_id)))
        .join(Call, Call.id == FindingRow.call_id).where(*conds)
        .group_by(FindingRow.source, FindingRow.subtype, FindingRow.label)
        .order_by(func.count(FindingRow.id).desc()).limit(10)
    ).all()
    return Overview(
        processed=processed or 0, flagged=flagged, avg_risk=float(avg_risk) if avg_risk is not None else None,
        label_calls={lb: n for lb, n in label_rows}, risk_histogram=hist, trend=trend,
        top_rules=[{"source": s, "subtype": st, "label": lb, "findings": n, "calls": c}
                   for s, st, lb, n, c in rule_rows],
        failed=failed,
    )


# ---------------------------------------------------------------- review queue


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


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: QueueCursor | None
    total: int | None  # None when not counted (counting a text search would scan every segment)


_DIGITS = re.compile(r"[0-9０-９零〇一二两三四五六七八九幺]")


def _search_condition(session: Session, term: str, user: Principal) -> ColumnElement[bool]:
    if len(_DIGITS.findall(term)) >= 4 and not user.can("pii"):
        # Searching for numbers would reveal masked ID/phone/card numbers call by call.
        raise PermissionDenied(user.role, "pii")
    term = _to_simplified(term.strip())
    return call_text_match(session, term)


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
    conds = _call_conditions(f)
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
        chip = _chip_label().label("chip")
        for cid, lb, n in session.execute(
            select(FindingRow.call_id, chip, func.count()).where(FindingRow.call_id.in_(by_id))
            .group_by(FindingRow.call_id, chip)
        ):
            by_id[cid].labels.append(lb)
            by_id[cid].findings += n
        for cid, n in session.execute(
            select(FindingRow.call_id, func.count(distinct(Verdict.finding_id)))
            .join(Verdict, Verdict.finding_id == FindingRow.id).where(FindingRow.call_id.in_(by_id))
            .group_by(FindingRow.call_id)
        ):
            by_id[cid].reviewed = n
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


# ---------------------------------------------------------------- call detail


@dataclass
class VerdictView:
    id: int
    user: str
    verdict: str
    note: str | None
    at: datetime


@dataclass
class FindingView:
    id: int
    label: str
    subtype: str
    speaker: str | None
    start: float | None
    end: float | None
    span: str
    score: float
    source: str
    explanation: str
    segment_idx: int | None
    verdicts: list[VerdictView] = field(default_factory=list)

    @property
    def chip(self) -> str:
        return "compliance" if self.label.startswith("compliance") else self.label

    @property
    def latest(self) -> str | None:
        return self.verdicts[-1].verdict if self.verdicts else None


@dataclass
class SegmentView:
    idx: int
    speaker: str
    start: float
    end: float
    text: str
    voice: dict[str, Any] | None


@dataclass
class NoteView:
    id: int
    call_id: int
    agent_id: str | None
    author: str
    note: str
    at: datetime


@dataclass
class CallDetail:
    call_id: int
    started_at: datetime | None
    agent_id: str | None
    team: str | None
    account_id: str | None
    callee: str | None
    direction: str | None
    language: str | None
    jurisdiction: str | None
    duration: float | None
    status: str
    risk_score: float | None
    complaint_risk: float | None
    score_reasons: list[Any]
    measures: dict[str, Any]
    audio_available: bool
    masked: bool
    segments: list[SegmentView]
    findings: list[FindingView]
    notes: list[NoteView]


class NotFound(LookupError):
    pass


def _get_call(session: Session, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"call {call_id} does not exist")
    return call


def _masker(user: Principal, pii_spans: list[str]):  # type: ignore[no-untyped-def]
    if user.can("pii"):
        return lambda text: text
    return lambda text: mask_pii(text, pii_spans) if isinstance(text, str) else text


def _mask_json(value: Any, mask: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_mask_json(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _mask_json(v, mask) for k, v in value.items()}
    return value


def call_detail(session: Session, user: Principal, call_id: int) -> CallDetail:
    """One call with transcript, findings, verdicts and notes; PII masked unless the role needs it."""
    require(user, "call")
    call = _get_call(session, call_id)
    findings = list(session.scalars(
        select(FindingRow).where(FindingRow.call_id == call_id).order_by(FindingRow.start, FindingRow.id)))
    pii_spans = [fr.span for fr in findings if fr.subtype == PII_SPOKEN]
    mask = _masker(user, pii_spans)
    verdicts: dict[int, list[VerdictView]] = defaultdict(list)
    if findings:
        for v in session.scalars(select(Verdict).where(Verdict.finding_id.in_([fr.id for fr in findings]))
                                 .order_by(Verdict.at, Verdict.id)):
            verdicts[v.finding_id].append(VerdictView(v.id, v.user, v.verdict, mask(v.note), v.at))
    segments = [SegmentView(s.idx, s.speaker, s.start, s.end, mask(s.text), s.voice)
                for s in session.scalars(select(SegmentRow).where(SegmentRow.call_id == call_id)
                                         .order_by(SegmentRow.start, SegmentRow.idx))]
    return CallDetail(
        call_id=call.id, started_at=call.started_at, agent_id=call.agent_id, team=call.team,
        account_id=mask(call.account_id), callee=call.callee, direction=call.direction, language=call.language,
        jurisdiction=call.jurisdiction, duration=call.duration, status=call.status, risk_score=call.risk_score,
        complaint_risk=call.complaint_risk, score_reasons=_mask_json(call.score_reasons or [], mask),
        measures=call.measures or {}, audio_available=bool(call.path) and Path(call.path).is_file(),
        masked=not user.can("pii"), segments=segments,
        findings=[FindingView(fr.id, fr.label, fr.subtype, fr.speaker, fr.start, fr.end, mask(fr.span), fr.score,
                              fr.source, mask(fr.explanation), fr.segment_idx, verdicts.get(fr.id, []))
                  for fr in findings],
        notes=[NoteView(n.id, n.call_id, n.agent_id, n.author, mask(n.note), n.at)
               for n in session.scalars(select(CoachingNote).where(CoachingNote.call_id == call_id)
                                        .order_by(CoachingNote.at))],
    )


def record_open_call(session: Session, user: Principal, call_id: int) -> None:
    require(user, "call")
    _get_call(session, call_id)
    audit.record(session, user.name, "open_call", call_id)


def riskiest_call_id(session: Session, user: Principal) -> int | None:
    require(user, "queue")
    return session.scalar(select(Call.id).where(Call.status == DONE)
                          .order_by(Call.risk_score.desc().nulls_last(), Call.id.desc()).limit(1))


def audio_for_playback(session: Session, user: Principal, call_id: int, start: float | None = None,
                       finding_id: int | None = None) -> str | None:
    """The recording's path for the player, audited as play_audio; None when the file is gone."""
    require(user, "play_audio")
    call = _get_call(session, call_id)
    audit.record(session, user.name, "play_audio", call_id,
                 {"start": round(start, 2) if start is not None else None, "finding_id": finding_id})
    return call.path if call.path and Path(call.path).is_file() else None


def save_verdict(session: Session, user: Principal, finding_id: int, verdict: str, note: str | None = None) -> int:
    """Store a verdict (a new row each time: the history is kept) and audit it; returns its id."""
    require(user, "verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    finding = session.get(FindingRow, finding_id)
    if finding is None:
        raise NotFound(f"finding {finding_id} does not exist")
    row = Verdict(finding_id=finding_id, user=user.name, verdict=verdict, note=(note or "").strip() or None)
    session.add(row)
    session.flush()
    audit.record(session, user.name, "verdict", finding.call_id,
                 {"finding_id": finding_id, "verdict": verdict, "label": finding.label, "verdict_id": row.id})
    return row.id


def add_coaching_note(session: Session, user: Principal, call_id: int, note: str) -> int:
    require(user, "coaching")
    note = note.strip()
    if not note:
        raise ValueError("the coaching note is empty")
    call = _get_call(session, call_id)
    row = CoachingNote(call_id=call_id, agent_id=call.agent_id, author=user.name, note=note)
    session.add(row)
    session.flush()
    audit.record(session, user.name, "coaching_note", call_id, {"note_id": row.id})
    return row.id


# ---------------------------------------------------------------- compliance


@dataclass
class ComplianceView:
    open_cases: list[dict[str, Any]]  # calls with findings whose latest verdict is "escalate"
    escalations: list[dict[str, Any]]  # those findings
    by_rule: list[dict[str, Any]]  # {"label", "subtype", "source", "findings", "confirmed", "calls"}
    by_agent: list[dict[str, Any]]  # {"agent_id", "label", "findings"}


def _latest_verdict_subquery():  # type: ignore[no-untyped-def]
    last = select(Verdict.finding_id, func.max(Verdict.id).label("vid")).group_by(Verdict.finding_id).subquery()
    return (select(Verdict.finding_id, Verdict.verdict, Verdict.user, Verdict.at)
            .join(last, last.c.vid == Verdict.id).subquery())


def compliance_view(session: Session, user: Principal, f: Filters = Filters()) -> ComplianceView:
    """Open cases, escalations and violation tables; dismissed findings are not counted as violations."""
    require(user, "compliance")
    conds = _call_conditions(Filters(f.date_from, f.date_to, f.teams, f.agents, f.languages, f.jurisdictions))
    lv = _latest_verdict_subquery()
    esc = session.execute(
        select(FindingRow.id, FindingRow.call_id, FindingRow.label, FindingRow.subtype, FindingRow.score,
               Call.agent_id, Call.started_at, lv.c.user, lv.c.at)
        .join(Call, Call.id == FindingRow.call_id).join(lv, lv.c.finding_id == FindingRow.id)
        .where(*conds, lv.c.verdict == "escalate").order_by(lv.c.at.desc()).limit(500)
    ).all()
    escalations = [{"finding_id": r[0], "call_id": r[1], "label": r[2], "subtype": r[3], "score": r[4],
                    "agent_id": r[5], "started_at": r[6], "escalated_by": r[7], "escalated_at": r[8]} for r in esc]
    cases: dict[int, dict[str, Any]] = {}
    for e in escalations:
        case_row = cases.setdefault(e["call_id"], {"call_id": e["call_id"], "agent_id": e["agent_id"],
                                                   "started_at": e["started_at"], "escalated": 0,
                                                   "labels": set(), "last_escalated_at": e["escalated_at"]})
        case_row["escalated"] += 1
        case_row["labels"].add(e["label"])
    open_cases = [{**c, "labels": sorted(c["labels"])} for c in cases.values()]

    chip = _chip_label().label("chip")
    not_dismissed = or_(lv.c.verdict.is_(None), lv.c.verdict != "dismiss")
    viol = [_label_in(VIOLATION_LABELS), not_dismissed]
    confirmed = func.sum(case((lv.c.verdict == "confirm", 1), else_=0))
    by_rule = [
        {"label": r[0], "subtype": r[1], "source": r[2], "findings": r[3], "confirmed": int(r[4] or 0), "calls": r[5]}
        for r in session.execute(
            select(chip, FindingRow.subtype, FindingRow.source, func.count(FindingRow.id), confirmed,
                   func.count(distinct(FindingRow.call_id)))
            .join(Call, Call.id == FindingRow.call_id).outerjoin(lv, lv.c.finding_id == FindingRow.id)
            .where(*conds, *viol).group_by(chip, FindingRow.subtype, FindingRow.source)
            .order_by(func.count(FindingRow.id).desc()).limit(200)
        )
    ]
    by_agent = [
        {"agent_id": r[0] or "?", "label": r[1], "findings": r[2]}
        for r in session.execute(
            select(Call.agent_id, chip, func.count(FindingRow.id))
            .join(Call, Call.id == FindingRow.call_id).outerjoin(lv, lv.c.finding_id == FindingRow.id)
            .where(*conds, *viol).group_by(Call.agent_id, chip).order_by(func.count(FindingRow.id).desc()).limit(1000)
        )
    ]
    return ComplianceView(open_cases=open_cases, escalations=escalations, by_rule=by_rule, by_agent=by_agent)


# ---------------------------------------------------------------- case export


@dataclass
class AuditRow:
    id: int
    at: datetime
    user: str
    action: str
    call_id: int | None
    detail: dict[str, Any] | None


@dataclass
class CaseFile:
    detail: CallDetail
    audit: list[AuditRow]
    exported_by: str
    exported_at: datetime
    masked: bool


def case_file(session: Session, user: Principal, call_id: int) -> CaseFile:
    """Everything a case export holds, audited as "export"; masked for roles without "pii"."""
    require(user, "export")
    detail = call_detail(session, user, call_id)
    audit.record(session, user.name, "export", call_id, {"format": "case"})
    trail = [AuditRow(e.id, e.at, e.user, e.action, e.call_id, e.detail)
             for e in session.scalars(select(AuditEvent).where(AuditEvent.call_id == call_id)
                                      .order_by(AuditEvent.at, AuditEvent.id))]
    return CaseFile(detail=detail, audit=trail, exported_by=user.name, exported_at=datetime.now(UTC),
                    masked=detail.masked)


# ---------------------------------------------------------------- wellbeing


@dataclass
class WellbeingView:
    agents: list[str]
    agent_team: dict[str, str | None]
    days: list[dict[str, Any]]  # {"agent_id", "team", "day", "calls", "wellbeing", **numeric metrics}
    abuse: list[dict[str, Any]]  # {"agent_id", "day", "abusive_findings", "calls"}
    stress: list[dict[str, Any]]  # {"agent_id", "day", "stress_findings", "calls", "rate", "baseline"}
    alerts: list[dict[str, Any]]
    notes: list[NoteView]


def _agent_scope(session: Session, user: Principal, f: Filters) -> dict[str, str | None]:
    """Agents the user may see -> their team (from their latest call). A manager with a team sees that team."""
    stmt = select(Call.agent_id, Call.team, func.max(Call.started_at)).where(Call.agent_id.is_not(None)) \
        .group_by(Call.agent_id, Call.team)
    latest: dict[str, tuple[Any, str | None]] = {}
    for agent, team, at in session.execute(stmt):
        if agent not in latest or (at is not None and (latest[agent][0] is None or at > latest[agent][0])):
            latest[agent] = (at, team)
    for agent in session.scalars(select(AgentDay.agent_id).distinct()):
        latest.setdefault(agent, (None, None))
    scope = {a: t for a, (_, t) in latest.items()}
    if user.role == "manager" and user.team:
        scope = {a: t for a, t in scope.items() if t == user.team}
    if f.teams:
        scope = {a: t for a, t in scope.items() if t in f.teams}
    if f.agents:
        scope = {a: t for a, t in scope.items() if a in f.agents}
    return dict(sorted(scope.items()))


def wellbeing_view(session: Session, user: Principal, f: Filters = Filters()) -> WellbeingView:
    require(user, "wellbeing")
    scope = _agent_scope(session, user, f)
    agents = list(scope)
    mask = _masker(user, [])
    if not agents:
        return WellbeingView([], {}, [], [], [], [], [])
    day_conds = [AgentDay.agent_id.in_(agents)]
    if f.date_from:
        day_conds.append(AgentDay.day >= f.date_from)
    if f.date_to:
        day_conds.append(AgentDay.day <= f.date_to)
    days = []
    for row in session.scalars(select(AgentDay).where(*day_conds).order_by(AgentDay.day, AgentDay.agent_id)):
        metrics = {k: v for k, v in (row.metrics or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        days.append({**metrics, "agent_id": row.agent_id, "team": scope.get(row.agent_id), "day": row.day,
                     "calls": row.calls, "wellbeing": row.wellbeing})

    call_conds = _call_conditions(Filters(f.date_from, f.date_to)) + [Call.agent_id.in_(agents),
                                                                       Call.started_at.is_not(None)]
    day = func.date(Call.started_at).label("day")
    calls_per_day = {(a, _as_day(d)): n for a, d, n in session.execute(
        select(Call.agent_id, day, func.count(Call.id)).where(*call_conds).group_by(Call.agent_id, day))}

    def per_day(*finding_conds: ColumnElement[bool]) -> dict[tuple[str, date | None], int]:
        return {(a, _as_day(d)): n for a, d, n in session.execute(
            select(Call.agent_id, day, func.count(FindingRow.id)).join(FindingRow, FindingRow.call_id == Call.id)
            .where(*call_conds, *finding_conds).group_by(Call.agent_id, day))}

    abusive = per_day(FindingRow.speaker == "customer", FindingRow.label.in_(("harassment", "threat")))
    stressed = per_day(FindingRow.speaker == "agent", FindingRow.label == "stress")
    abuse = [{"agent_id": a, "day": d, "abusive_findings": abusive.get((a, d), 0), "calls": n}
             for (a, d), n in sorted(calls_per_day.items(), key=lambda kv: (kv[0][1] or date.min, kv[0][0]))]
    stress = [{"agent_id": a, "day": d, "stress_findings": stressed.get((a, d), 0), "calls": n,
               "rate": stressed.get((a, d), 0) / n if n else 0.0}
              for (a, d), n in sorted(calls_per_day.items(), key=lambda kv: (kv[0][1] or date.min, kv[0][0]))]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in stress:
        totals[s["agent_id"]][0] += s["stress_findings"]
        totals[s["agent_id"]][1] += s["calls"]
    for s in stress:
        found, calls = totals[s["agent_id"]]
        s["baseline"] = found / calls if calls else 0.0

    alert_conds = [Alert.agent_id.in_(agents)]
    if f.date_from:
        alert_conds.append(or_(Alert.day.is_(None), Alert.day >= f.date_from))
    if f.date_to:
        alert_conds.append(or_(Alert.day.is_(None), Alert.day <= f.date_to))
    alerts = [{"id": a.id, "agent_id": a.agent_id, "day": a.day, "kind": a.kind, "severity": a.severity,
               "status": a.status, "message": mask(a.message), "evidence": _mask_json(a.evidence or {}, mask)}
              for a in session.scalars(select(Alert).where(*alert_conds).order_by(Alert.created_at.desc()).limit(500))]
    notes = [NoteView(n.id, n.call_id, n.agent_id, n.author, mask(n.note), n.at)
             for n in session.scalars(select(CoachingNote).where(CoachingNote.agent_id.in_(agents))
                                      .order_by(CoachingNote.at.desc()).limit(500))]
    return WellbeingView(agents=agents, agent_team=scope, days=days, abuse=abuse, stress=stress, alerts=alerts,
                         notes=notes)


# ---------------------------------------------------------------- audit log


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
        conds.append(AuditEvent.at >= _utc(date_from))
    if date_to:
        conds.append(AuditEvent.at < _utc(date_to + timedelta(days=1)))
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conds)) or 0
    rows = [AuditRow(e.id, e.at, e.user, e.action, e.call_id, e.detail) for e in session.scalars(
        select(AuditEvent).where(*conds).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(max(1, min(limit, 1000))).offset(max(0, offset)))]
    return AuditPage(rows=rows, total=total)


def audit_users(session: Session, user: Principal) -> list[str]:
    require(user, "audit")
    return list(session.scalars(select(AuditEvent.user).distinct().order_by(AuditEvent.user)))


# ---------------------------------------------------------------- training labels (CLI, not role-scoped)


def iter_training_labels(session: Session, mask: bool = False, batch: int = 1000):  # type: ignore[no-untyped-def]
    """Latest verdict per finding as a training label: the utterance text, speaker, label and verdict.

    Used by `callqa export-labels` (an operator command with database access, so not role-scoped).
    """
    lv = _latest_verdict_subquery()
    seg = SegmentRow
    stmt = (
        select(FindingRow.id, FindingRow.call_id, FindingRow.label, FindingRow.subtype, FindingRow.speaker,
               FindingRow.span, FindingRow.source, FindingRow.score, FindingRow.start, FindingRow.end,
               FindingRow.segment_idx, lv.c.verdict, lv.c.user, lv.c.at, Call.language, seg.text)
        .join(lv, lv.c.finding_id == FindingRow.id).join(Call, Call.id == FindingRow.call_id)
        .outerjoin(seg, and_(seg.call_id == FindingRow.call_id, seg.idx == FindingRow.segment_idx))
        .order_by(FindingRow.id)
    )
    for r in session.execute(stmt.execution_options(yield_per=batch)):
        (fid, cid, label, subtype, speaker, span, source, score, start, end, sidx, verdict, vuser, vat,
         language, text) = r
        spans = [span] if subtype == PII_SPOKEN else []
        text = text if text is not None else span
        yield {
            "text": mask_pii(text, spans) if mask else text,
            "span": mask_pii(span, spans) if mask else span,
            "speaker": speaker, "label": label, "subtype": subtype, "verdict": verdict,
            "finding_id": fid, "call_id": cid, "language": language, "source": source, "score": score,
            "start": start, "end": end, "reviewer": vuser, "at": vat.isoformat() if vat else None,
        }
