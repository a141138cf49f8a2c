"""What the scorecard, dispute, calibration, coaching and QA-report pages show, and the actions on them.

Every function checks the role (`qa.access.auth`) and scopes calls server-side: an `agent` sees only calls
carrying their agent id, a manager with a team only that team's calls. Every change is audited.
QA leads (who decide disputes and run calibration) are the compliance and admin roles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.access import audit
from qa.access.auth import PermissionDenied, Principal, require
from qa.access.redact import PII_SPOKEN
from qa.assess.forms import RESULTS, Form, coaching_library, load_forms
from qa.config import get_settings
from qa.store import scorecards as store
from qa.store.models import ACTIVE, Call, FindingRow, ScorecardRow, User
from qa.views.common import (  # one 'not found' for every page (the dashboard shows it)
    Mask,
    NotFound,
    get_call,
    masker,
)


class NotAllowed(ValueError):
    """The action is not possible now (window closed, already decided, ...); the message says why."""


# --- scope -----------------------------------------------------------------------------------------------


def _scope(user: Principal) -> dict[str, Any]:
    """Filters every scorecard query gets for this user."""
    if user.role == "agent":
        return {"agent_id": user.agent_id or "\x00no-agent"}  # an agent without a link sees nothing
    if user.role == "manager" and user.team:
        return {"team": user.team}
    return {}


def _visible_call(session: Session, user: Principal, call_id: int) -> Call:
    """The call if this user may see it (the one scope check, `qa.views.common.get_call`), else NotFound."""
    return get_call(session, call_id, user)


def _forms() -> dict[str, Form]:
    return load_forms(get_settings().forms_dir)


def _masker(session: Session, user: Principal, call_id: int) -> Mask:
    """The call page's masking (`common.masker`) over every spoken-PII span of the call, superseded included:
    a number once found stays masked."""
    spans = list(session.scalars(select(FindingRow.span).where(FindingRow.call_id == call_id,
                                                               FindingRow.subtype == PII_SPOKEN)))
    return masker(user, spans)


# --- scorecards ------------------------------------------------------------------------------------------


@dataclass
class EvidenceView:
    start: float | None
    end: float | None
    speaker: str | None
    text: str


@dataclass
class ItemView:
    id: str
    section: str
    text: str
    text_en: str
    result: str
    auto: bool
    confidence: float
    rule: str
    weight: float
    fatal: bool
    evidence: list[EvidenceView]
    auto_result: str | None
    changed_by: str | None
    change_reason: str | None
    coaching: dict[str, Any] | None  # the coaching-library entry for a failed item


@dataclass
class ChangeView:
    item_id: str
    previous: str | None
    result: str
    kind: str
    user: str
    reason: str
    at: datetime


@dataclass
class DisputeView:
    id: int
    call_id: int
    agent_id: str | None
    item_id: str
    reason: str
    status: str
    reply: str | None
    raised_by: str
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


@dataclass
class ScorecardView:
    call_id: int
    agent_id: str | None
    team: str | None
    started_at: datetime | None
    form: str
    form_name: str
    form_name_en: str
    form_version: int
    score: float
    max_score: float
    percent: float | None
    fatal_failed: bool
    scored_at: datetime
    items: list[ItemView]
    history: list[ChangeView]
    disputes: list[DisputeView]
    acknowledged_by: list[str]
    window_ends: datetime  # an agent may acknowledge or dispute until then


@dataclass
class ScorecardRowView:
    call_id: int
    agent_id: str | None
    team: str | None
    started_at: datetime | None
    form: str
    score: float
    max_score: float
    percent: float | None
    fatal_failed: bool
    failed_items: list[str]


def _dispute_view(d: Any) -> DisputeView:
    return DisputeView(d.id, d.call_id, d.agent_id, d.item_id, d.reason, d.status, d.reply, d.raised_by,
                       d.decided_by, d.created_at, d.decided_at)


def _window_ends(row: ScorecardRow) -> datetime:
    return row.scored_at + timedelta(days=get_settings().dispute_window_days)


def _row(session: Session, user: Principal, call_id: int, form_id: str | None = None) -> tuple[Call, ScorecardRow]:
    call = _visible_call(session, user, call_id)
    row = store.scorecard_row(session, call_id, form_id)
    if row is None:
        raise NotFound(f"call {call_id} has no scorecard")
    return call, row


def scorecard(session: Session, user: Principal, call_id: int, form_id: str | None = None,
              record_open: bool = True) -> ScorecardView:
    """One call's scorecard with evidence (PII masked unless the role needs it), history and disputes.
    `record_open=False` when only the form's items are needed (calibration), so the audit log is not flooded."""
    require(user, "scorecards")
    call, row = _row(session, user, call_id, form_id)
    mask = _masker(session, user, call_id)
    form = _forms().get(row.form_id)
    library = coaching_library()
    items = []
    for d in row.items:
        item = form.item(d["id"]) if form else None
        key = d.get("coaching") or (item.coaching if item else None)
        items.append(ItemView(
            id=d["id"], section=d["section"], text=d.get("text", ""), text_en=d.get("text_en", ""), result=d["result"],
            auto=d["auto"], confidence=d["confidence"], rule=d.get("rule", ""), weight=d.get("weight", 0.0),
            fatal=d.get("fatal", False),
            evidence=[EvidenceView(e.get("start"), e.get("end"), e.get("speaker"), mask(e.get("text", "")))
                      for e in d.get("evidence", [])],
            auto_result=d.get("auto_result"), changed_by=d.get("changed_by"), change_reason=d.get("change_reason"),
            coaching={"key": key, **library[key]} if d["result"] == "fail" and key in library else None))
    if record_open:
        audit.record(session, user.name, "open_scorecard", call_id, {"form": row.form_id})
    return ScorecardView(
        call_id=call.id, agent_id=call.agent_id, team=call.team, started_at=call.started_at, form=row.form_id,
        form_name=form.name if form else row.form_id, form_name_en=form.name_en if form else row.form_id,
        form_version=row.form_version, score=row.score, max_score=row.max_score, percent=row.percent,
        fatal_failed=row.fatal_failed, scored_at=row.scored_at, items=items,
        history=[ChangeView(c.item_id, c.previous, c.result, c.kind, c.user, c.reason, c.at)
                 for c in store.changes(session, call_id, row.form_id)],
        disputes=[_dispute_view(d) for d in store.disputes(session, call_id=call_id)],
        acknowledged_by=[a.user for a in store.acks(session, call_id, row.form_id)],
        window_ends=_window_ends(row))


def scorecard_list(session: Session, user: Principal, agent_id: str | None = None, team: str | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> list[ScorecardRowView]:
    """Scored calls the user may see, newest first."""
    require(user, "scorecards")
    scope = _scope(user)
    filters: dict[str, Any] = {"agent_id": agent_id, "team": team, "start": start, "end": end}
    filters.update(scope)  # the role's scope always wins over what was asked
    return [ScorecardRowView(c.id, c.agent_id, c.team, c.started_at, r.form_id, r.score, r.max_score, r.percent,
                             r.fatal_failed, [i["id"] for i in r.items if i["result"] == "fail"])
            for r, c in store.list_scorecards(session, **filters)]


def _check_result(result: str) -> None:
    if result not in RESULTS:
        raise ValueError(f"result must be one of {', '.join(RESULTS)}")


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required / 必须填写理由")
    return reason


def override_item(session: Session, user: Principal, call_id: int, item_id: str, result: str, reason: str,
                  form_id: str | None = None) -> ScorecardView:
    """A reviewer sets an item's result with a reason; the score is recomputed and the change kept."""
    require(user, "override")
    _check_result(result)
    _, row = _row(session, user, call_id, form_id)
    store.add_change(session, row, item_id, result, user.name, _reason(reason), "override")
    audit.record(session, user.name, "score_override", call_id,
                 {"form": row.form_id, "item": item_id, "result": result, "score": row.score})
    return scorecard(session, user, call_id, row.form_id)


def _agent_window(user: Principal, row: ScorecardRow) -> None:
    if datetime.now(UTC) > _window_ends(row):
        raise NotAllowed(f"the {get_settings().dispute_window_days:g}-day window to acknowledge or dispute ended "
                         f"on {_window_ends(row):%Y-%m-%d %H:%M} UTC / 确认或申诉期限已过")


def acknowledge(session: Session, user: Principal, call_id: int) -> None:
    """The agent confirms they have seen their scorecard."""
    require(user, "dispute")
    _, row = _row(session, user, call_id)
    _agent_window(user, row)
    store.add_ack(session, call_id, row.form_id, user.name)
    audit.record(session, user.name, "score_ack", call_id, {"form": row.form_id, "score": row.score})


def dispute_item(session: Session, user: Principal, call_id: int, item_id: str, reason: str) -> DisputeView:
    """The agent disputes (申诉) one item of their own scorecard within the window."""
    require(user, "dispute")
    call, row = _row(session, user, call_id)
    _agent_window(user, row)
    if not any(i["id"] == item_id for i in row.items):
        raise NotFound(f"form {row.form_id} has no item {item_id}")
    if any(d.item_id == item_id and d.status == "open" for d in store.disputes(session, call_id=call_id)):
        raise NotAllowed("this item already has an open dispute / 该项已有待处理的申诉")
    d = store.add_dispute(session, call_id, row.form_id, item_id, call.agent_id, user.name, _reason(reason))
    audit.record(session, user.name, "dispute", call_id, {"dispute_id": d.id, "form": row.form_id, "item": item_id})
    return _dispute_view(d)


def dispute_queue(session: Session, user: Principal, status: str | None = "open") -> list[DisputeView]:
    """Disputes for QA leads; an agent sees their own."""
    if user.role == "agent":
        require(user, "dispute")
        return [_dispute_view(d) for d in store.disputes(session, status, agent_id=_scope(user)["agent_id"])]
    require(user, "dispute_decide")
    return [_dispute_view(d) for d in store.disputes(session, status)]


def decide_dispute(session: Session, user: Principal, dispute_id: int, accept: bool, reply: str) -> DisputeView:
    """Accept (the item is overturned: pass<->fail, the score recomputed) or reject, with a reply."""
    require(user, "dispute_decide")
    from qa.store.models import Dispute

    d = session.get(Dispute, dispute_id)
    if d is None:
        raise NotFound(f"dispute {dispute_id} does not exist")
    if d.status != "open":
        raise NotAllowed(f"dispute {dispute_id} was already {d.status}")
    reply = _reason(reply)
    row = store.scorecard_row(session, d.call_id, d.form_id)
    if row is None:
        raise NotFound(f"call {d.call_id} has no scorecard")
    if accept:
        current = next(i for i in row.items if i["id"] == d.item_id)["result"]
        overturned = {"fail": "pass", "pass": "fail"}.get(current, "na")
        store.add_change(session, row, d.item_id, overturned, user.name, reply, "dispute", dispute_id=d.id)
    d.status, d.reply, d.decided_by, d.decided_at = ("accepted" if accept else "rejected"), reply, user.name, \
        datetime.now(UTC)
    session.flush()
    audit.record(session, user.name, "dispute_decision", d.call_id,
                 {"dispute_id": d.id, "decision": d.status, "item": d.item_id, "score": row.score})
    return _dispute_view(d)


# --- findings an agent may see ---------------------------------------------------------------------------


@dataclass
class AgentFindingView:
    call_id: int
    label: str
    subtype: str
    speaker: str | None
    start: float | None
    span: str
    explanation: str


def my_findings(session: Session, user: Principal, call_id: int) -> list[AgentFindingView]:
    """Findings of one of the agent's own calls (or any visible call for staff), PII masked."""
    require(user, "scorecards")
    _visible_call(session, user, call_id)
    mask = _masker(session, user, call_id)
    return [AgentFindingView(f.call_id, f.label, f.subtype, f.speaker, f.start, mask(f.span), mask(f.explanation))
            for f in session.scalars(select(FindingRow).where(FindingRow.call_id == call_id,
                                                              FindingRow.status == ACTIVE)
                                     .order_by(FindingRow.start, FindingRow.id))]


# --- calibration -----------------------------------------------------------------------------------------


@dataclass
class CalibrationItemAgreement:
    item_id: str
    n_ratings: int
    percent_agreement: float | None  # share of reviewer pairs (per call) that agree
    kappa: float | None  # mean pairwise Cohen's kappa over the session's calls (sklearn); None when undefined
    auto_agreement: float | None  # share of reviewer results equal to the automatic result


@dataclass
class CalibrationView:
    id: int
    name: str
    form: str
    call_ids: list[int]
    reviewers: list[str]
    created_by: str
    submitted: list[str]  # reviewers who have scored every call
    my_scores: dict[int, dict[str, str]]  # call -> item -> result (the signed-in reviewer's own)
    items: list[CalibrationItemAgreement]  # empty for a reviewer until every reviewer has submitted
    overall_kappa: float | None  # Cohen's kappa over every (call, item) pair of results, mean over reviewer pairs
    overall_agreement: float | None


def create_calibration(session: Session, user: Principal, name: str, call_ids: list[int], reviewers: list[str],
                       form_id: str | None = None) -> int:
    require(user, "calibration_lead")
    if not call_ids or len(reviewers) < 2:
        raise ValueError("pick at least one call and two reviewers / 至少选择一个通话和两名质检员")
    for cid in call_ids:
        _row(session, user, cid, form_id)
    known = set(session.scalars(select(User.name).where(User.name.in_(reviewers))))
    missing = sorted(set(reviewers) - known)
    if missing:
        raise ValueError(f"unknown reviewers: {', '.join(missing)}")
    form = form_id or _row(session, user, call_ids[0])[1].form_id
    cs = store.add_calibration(session, name.strip() or "calibration", form, call_ids, reviewers, user.name)
    audit.record(session, user.name, "calibration_create", None,
                 {"session_id": cs.id, "calls": call_ids, "reviewers": reviewers})
    return cs.id


def submit_calibration(session: Session, user: Principal, session_id: int, call_id: int,
                       results: dict[str, str]) -> int:
    """A reviewer's blind results for one call of a session they are in; the number of items saved."""
    require(user, "calibration_score")
    from qa.store.models import CalibrationSession

    cs = session.get(CalibrationSession, session_id)
    if cs is None or user.name not in cs.reviewers or call_id not in cs.call_ids:
        raise NotFound(f"calibration session {session_id} has no call {call_id} for {user.name}")
    for r in results.values():
        _check_result(r)
    store.save_calibration_scores(session, session_id, call_id, user.name, results)
    audit.record(session, user.name, "calibration_score", call_id, {"session_id": session_id, "items": len(results)})
    return len(results)


def _pairwise_kappa(pairs: list[tuple[list[str], list[str]]]) -> float | None:
    import math
    import warnings

    from sklearn.metrics import cohen_kappa_score

    values = []
    for a, b in pairs:
        if len(a) < 2:
            continue
        if a == b:
            values.append(1.0)  # perfect agreement (sklearn returns nan when only one category occurs)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k = cohen_kappa_score(a, b, labels=list(RESULTS))
        if not math.isnan(k):
            values.append(float(k))
    return round(sum(values) / len(values), 3) if values else None


def calibration(session: Session, user: Principal, session_id: int) -> CalibrationView:
    """A session: a reviewer sees only their own results until everyone has submitted; a lead sees all,
    with per-item agreement between reviewers and with the automatic result."""
    from qa.store.models import CalibrationSession

    cs = session.get(CalibrationSession, session_id)
    lead = user.can("calibration_lead")
    if cs is None or not (lead or (user.can("calibration_score") and user.name in cs.reviewers)):
        raise NotFound(f"calibration session {session_id} does not exist")
    scores = store.calibration_scores(session, session_id)
    by: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for s in scores:
        by[(s.reviewer, s.call_id)][s.item_id] = s.result
    submitted = [r for r in cs.reviewers if all((r, c) in by for c in cs.call_ids)]
    mine = {c: dict(by.get((user.name, c), {})) for c in cs.call_ids}
    view = CalibrationView(cs.id, cs.name, cs.form_id, list(cs.call_ids), list(cs.reviewers), cs.created_by,
                           submitted, mine, [], None, None)
    if not (lead or len(submitted) == len(cs.reviewers)):
        return view  # blind: nothing of the others until all have scored
    autos = {}
    for c in cs.call_ids:
        row = store.scorecard_row(session, c, cs.form_id)
        autos[c] = {i["id"]: (i.get("auto_result") or i["result"]) for i in (row.auto_items if row else [])}
    item_ids = sorted({s.item_id for s in scores})
    reviewers = [r for r in cs.reviewers if any((r, c) in by for c in cs.call_ids)]
    overall_pairs: list[tuple[list[str], list[str]]] = []
    agree = total = 0
    for i, a in enumerate(reviewers):
        for b in reviewers[i + 1:]:
            xa, xb = [], []
            for c in cs.call_ids:
                for item in item_ids:
                    ra, rb = by.get((a, c), {}).get(item), by.get((b, c), {}).get(item)
                    if ra and rb:
                        xa.append(ra)
                        xb.append(rb)
            overall_pairs.append((xa, xb))
            agree += sum(x == y for x, y in zip(xa, xb))
            total += len(xa)
    for item in item_ids:
        pairs, n, a_ok, a_n, auto_ok, auto_n = [], 0, 0, 0, 0, 0
        for i, a in enumerate(reviewers):
            for b in reviewers[i + 1:]:
                xa, xb = [], []
                for c in cs.call_ids:
                    ra, rb = by.get((a, c), {}).get(item), by.get((b, c), {}).get(item)
                    if ra and rb:
                        xa.append(ra)
                        xb.append(rb)
                pairs.append((xa, xb))
                a_ok += sum(x == y for x, y in zip(xa, xb))
                a_n += len(xa)
        for r in reviewers:
            for c in cs.call_ids:
                got = by.get((r, c), {}).get(item)
                if got:
                    n += 1
                    if item in autos.get(c, {}):
                        auto_n += 1
                        auto_ok += got == autos[c][item]
        view.items.append(CalibrationItemAgreement(
            item, n, round(a_ok / a_n, 3) if a_n else None, _pairwise_kappa(pairs),
            round(auto_ok / auto_n, 3) if auto_n else None))
    view.overall_kappa = _pairwise_kappa(overall_pairs)
    view.overall_agreement = round(agree / total, 3) if total else None
    return view


def calibration_list(session: Session, user: Principal) -> list[tuple[int, str]]:
    if user.can("calibration_lead"):
        return [(c.id, c.name) for c in store.calibrations(session)]
    require(user, "calibration_score")
    return [(c.id, c.name) for c in store.calibrations(session) if user.name in c.reviewers]


# --- coaching --------------------------------------------------------------------------------------------


@dataclass
class CoachingView:
    id: int
    agent_id: str
    form: str
    item_id: str
    entry: dict[str, Any] | None  # the coaching-library entry: title, said, compliant (zh, en)
    call_ids: list[int]
    note: str | None
    assigned_by: str
    status: str
    created_at: datetime
    done_at: datetime | None


def assign_coaching(session: Session, user: Principal, agent_id: str, item_id: str, call_ids: list[int],
                    note: str | None = None, form_id: str | None = None) -> int:
    require(user, "coaching_assign")
    form = None
    for cid in call_ids:
        call, row = _row(session, user, cid, form_id)
        if call.agent_id != agent_id:
            raise ValueError(f"call {cid} is not a call of agent {agent_id}")
        form = row.form_id
    form = form or form_id
    if form is None:
        raise ValueError("give example calls or a form")
    item = _forms()[form].item(item_id) if form in _forms() else None
    a = store.add_coaching(session, agent_id, form, item_id, item.coaching if item else None, call_ids, note,
                           user.name)
    audit.record(session, user.name, "coaching_assign", call_ids[0] if call_ids else None,
                 {"assignment_id": a.id, "agent": agent_id, "item": item_id})
    return a.id


def coaching_list(session: Session, user: Principal, agent_id: str | None = None) -> list[CoachingView]:
    """An agent's own assignments; staff with coaching rights see any agent's (a manager: the team's)."""
    require(user, "scorecards")
    if user.role == "agent":
        agent_id = _scope(user)["agent_id"]
    elif not (user.can("coaching_assign") or user.can("coaching")):
        raise PermissionDenied(user.role, "coaching")
    library = coaching_library()
    return [CoachingView(a.id, a.agent_id, a.form_id, a.item_id, library.get(a.coaching_key or ""), list(a.call_ids),
                         a.note, a.assigned_by, a.status, a.created_at, a.done_at)
            for a in store.coaching(session, agent_id)]


def coaching_done(session: Session, user: Principal, assignment_id: int) -> None:
    """The agent marks their coaching done."""
    require(user, "dispute")
    from qa.store.models import CoachingAssignment

    a = session.get(CoachingAssignment, assignment_id)
    if a is None or a.agent_id != _scope(user)["agent_id"]:
        raise NotFound(f"coaching {assignment_id} does not exist")
    a.status, a.done_at = "done", datetime.now(UTC)
    session.flush()
    audit.record(session, user.name, "coaching_done", None, {"assignment_id": a.id})


# --- reports ---------------------------------------------------------------------------------------------


def iso_week(week: str) -> tuple[datetime, datetime]:
    """'2026-W45' -> [Monday 00:00 UTC, next Monday 00:00 UTC)."""
    try:
        year, w = week.upper().split("-W")
        monday = date.fromisocalendar(int(year), int(w), 1)
    except ValueError:
        raise ValueError(f"week {week!r} is not an ISO week such as 2026-W45") from None
    start = datetime.combine(monday, time.min, tzinfo=UTC)
    return start, start + timedelta(days=7)


@dataclass
class AgentWeekScore:
    agent_id: str
    calls: int
    mean_percent: float | None
    fatal_calls: int


@dataclass
class ItemPassRate:
    item_id: str
    text: str
    text_en: str
    applicable: int
    passed: int

    @property
    def rate(self) -> float | None:
        return round(self.passed / self.applicable, 3) if self.applicable else None


@dataclass
class TeamWeekReport:
    team: str
    week: str
    calls: int
    mean_percent: float | None
    fatal_calls: int
    agents: list[AgentWeekScore]
    items: list[ItemPassRate]
    rows: list[ScorecardRowView] = field(default_factory=list)


def _item_rates(rows: list[tuple[ScorecardRow, Call]]) -> list[ItemPassRate]:
    rates: dict[str, ItemPassRate] = {}
    for r, _ in rows:
        for i in r.items:
            rate = rates.setdefault(i["id"], ItemPassRate(i["id"], i.get("text", ""), i.get("text_en", ""), 0, 0))
            if i["result"] != "na":
                rate.applicable += 1
                rate.passed += i["result"] == "pass"
    return list(rates.values())


def _mean(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(sum(got) / len(got), 1) if got else None


def team_week_report(session: Session, user: Principal, team: str, week: str) -> TeamWeekReport:
    """Scores by agent and by item for one team and ISO week (a team of None-team calls: team '-')."""
    require(user, "qa_reports")
    start, end = iso_week(week)
    scope = _scope(user)
    if "team" in scope and scope["team"] != team:
        raise PermissionDenied(user.role, f"team {team}")
    rows = store.list_scorecards(session, team=team, start=start, end=end)
    agents: dict[str, list[ScorecardRow]] = defaultdict(list)
    for r, c in rows:
        agents[c.agent_id or "-"].append(r)
    audit.record(session, user.name, "qa_report", None, {"team": team, "week": week, "calls": len(rows)})
    return TeamWeekReport(
        team=team, week=week, calls=len(rows), mean_percent=_mean([r.percent for r, _ in rows]),
        fatal_calls=sum(r.fatal_failed for r, _ in rows),
        agents=[AgentWeekScore(a, len(rs), _mean([r.percent for r in rs]), sum(r.fatal_failed for r in rs))
                for a, rs in sorted(agents.items())],
        items=_item_rates(rows),
        rows=[ScorecardRowView(c.id, c.agent_id, c.team, c.started_at, r.form_id, r.score, r.max_score, r.percent,
                               r.fatal_failed, [i["id"] for i in r.items if i["result"] == "fail"]) for r, c in rows])


@dataclass
class WeeklyPassRate:
    week: str  # ISO week, e.g. 2026-W45
    item_id: str
    applicable: int
    passed: int
    rate: float | None


def agent_pass_rates(session: Session, user: Principal, agent_id: str | None = None) -> list[WeeklyPassRate]:
    """An agent's item pass rates by ISO week (an agent: their own), to see whether coaching worked."""
    require(user, "scorecards")
    scope = _scope(user)
    agent_id = scope.get("agent_id", agent_id)
    if agent_id is None:
        raise ValueError("choose an agent")
    weeks: dict[str, list[tuple[ScorecardRow, Call]]] = defaultdict(list)
    for r, c in store.list_scorecards(session, agent_id=agent_id, team=scope.get("team")):
        if c.started_at is not None:
            y, w, _ = c.started_at.isocalendar()
            weeks[f"{y}-W{w:02d}"].append((r, c))
    out = []
    for week in sorted(weeks):
        for rate in _item_rates(weeks[week]):
            out.append(WeeklyPassRate(week, rate.item_id, rate.applicable, rate.passed, rate.rate))
    return out


def teams(session: Session, user: Principal) -> list[str]:
    require(user, "qa_reports")
    scope = _scope(user)
    if "team" in scope:
        return [scope["team"]]
    return sorted(t for t in session.scalars(select(Call.team).distinct()) if t)
