"""Agent wellbeing page (managers, admin): wellbeing index per day, abuse received, stress against the
agent's own baseline, alerts with evidence, coaching notes. A manager with a team sees that team only.
Every chart buckets calls by the site's day, as the wellbeing index does."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qa.access.auth import Principal, require
from qa.assess.scoring import is_abuse_received
from qa.assess.wellbeing import alert_message, load_config
from qa.records import Finding
from qa.store.models import ACTIVE, AgentDay, Alert, Call, CoachingNote, FindingRow
from qa.views.call import NoteView
from qa.views.common import (
    Filters,
    call_conditions,
    hours_to_site_days,
    mask_json,
    masker,
    site_day,
    team_scope,
    utc_hour,
)
from qa.views.i18n import Bilingual, named


@dataclass
class AgentDayView:
    agent_id: str
    team: str | None
    day: date
    calls: int
    wellbeing: float
    metrics: dict[str, float] = field(default_factory=dict)  # the index's numeric inputs


@dataclass
class Penalty:
    """One reason an agent's wellbeing index is below 100 on a day: what, how much, how many points."""

    reason: Bilingual
    value: float
    points: float


@dataclass
class IndexWhy:
    """The agent's latest wellbeing index and the penalties behind it, largest first."""

    day: date
    wellbeing: float
    penalties: list[Penalty]


@dataclass
class AbuseDay:
    """Threats and insults the agent received from customers (`qa.assess.scoring.is_abuse_received`: a
    customer's self-harm statement is not abuse of the agent) on one site day."""

    agent_id: str
    day: date
    abusive_findings: int
    calls: int


@dataclass
class StressDay:
    agent_id: str
    day: date
    stress_findings: int
    calls: int
    rate: float
    baseline: float = 0.0  # the agent's rate over the whole period


@dataclass
class AlertView:
    id: int
    agent_id: str
    day: date | None
    kind: str
    severity: str
    status: str
    message: Bilingual
    evidence: dict[str, Any]  # JSON as stored, masked for roles without "pii"

    @property
    def kind_name(self) -> Bilingual:
        return named("alert", self.kind)

    @property
    def severity_name(self) -> Bilingual:
        return named("severity", self.severity)


@dataclass
class WellbeingView:
    agents: list[str]
    agent_team: dict[str, str | None]
    days: list[AgentDayView]
    abuse: list[AbuseDay]
    stress: list[StressDay]
    alerts: list[AlertView]
    notes: list[NoteView]
    why: dict[str, IndexWhy] = field(default_factory=dict)  # agent -> latest index and its penalties


def _agent_scope(session: Session, user: Principal, f: Filters) -> dict[str, str | None]:
    """Agents the user may see -> their team (from their latest call). Reviewers and managers see their teams (`Principal.scope_teams`)."""
    stmt = select(Call.agent_id, Call.team, func.max(Call.started_at)).where(Call.agent_id.is_not(None)) \
        .group_by(Call.agent_id, Call.team)
    latest: dict[str, tuple[datetime | None, str | None]] = {}
    for agent, team, at in session.execute(stmt):
        if agent not in latest or (at is not None and (latest[agent][0] is None or at > latest[agent][0])):
            latest[agent] = (at, team)
    for agent in session.scalars(select(AgentDay.agent_id).distinct()):
        latest.setdefault(agent, (None, None))
    scope = {a: t for a, (_, t) in latest.items()}
    if user.scope_teams is not None:
        scope = {a: t for a, t in scope.items() if t in user.scope_teams}
    if f.teams:
        scope = {a: t for a, t in scope.items() if t in f.teams}
    if f.agents:
        scope = {a: t for a, t in scope.items() if a in f.agents}
    return dict(sorted(scope.items()))


def _finding(row: FindingRow) -> Finding:
    return Finding(label=row.label, subtype=row.subtype, speaker=row.speaker,  # type: ignore[arg-type]
                   start=row.start, end=row.end, span=row.span, score=row.score, source=row.source,
                   explanation=row.explanation, segment_index=row.segment_idx, details=row.details or {})


def _index_why(row: AgentDay, specs: dict[str, Any]) -> IndexWhy:
    """Penalty reasons in both languages from the wellbeing configuration's `penalties` (by key), so days stored
    before a reason was translated read in Chinese too; a key the site has since removed keeps its stored text."""
    out = []
    for p in (row.metrics or {}).get("penalties") or []:
        spec = specs.get(p.get("key"), {})
        en = spec.get("reason") or p.get("reason") or str(p.get("key"))
        out.append(Penalty(Bilingual(en, spec.get("reason_zh") or en),
                           float(p.get("value") or 0), float(p.get("points") or 0)))
    return IndexWhy(row.day, row.wellbeing, sorted(out, key=lambda x: -x.points))


def wellbeing_view(session: Session, user: Principal, f: Filters = Filters()) -> WellbeingView:
    require(user, "wellbeing")
    scope = _agent_scope(session, user, f)
    agents = list(scope)
    mask = masker(user, [])
    if not agents:
        return WellbeingView([], {}, [], [], [], [], [])
    day_conds = [AgentDay.agent_id.in_(agents)]
    if f.date_from:
        day_conds.append(AgentDay.day >= f.date_from)
    if f.date_to:
        day_conds.append(AgentDay.day <= f.date_to)
    rows = list(session.scalars(select(AgentDay).where(*day_conds).order_by(AgentDay.day, AgentDay.agent_id)))
    days = [AgentDayView(row.agent_id, scope.get(row.agent_id), row.day, row.calls, row.wellbeing,
                         {k: float(v) for k, v in (row.metrics or {}).items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool)})
            for row in rows]
    latest = {row.agent_id: row for row in rows}  # ordered by day: the latest day wins
    specs = load_config()["penalties"]
    why = {agent: _index_why(row, specs) for agent, row in latest.items()}

    call_conds = call_conditions(Filters(f.date_from, f.date_to)) + team_scope(user) + [
        Call.agent_id.in_(agents), Call.started_at.is_not(None)]
    hour = utc_hour(Call.started_at).label("hour")
    calls_per_day = hours_to_site_days(session.execute(
        select(Call.agent_id, hour, func.count(Call.id)).where(*call_conds).group_by(Call.agent_id, hour)))
    abusive: Counter[tuple[str, date]] = Counter()
    stressed: Counter[tuple[str, date]] = Counter()
    candidates = or_(FindingRow.label.in_(("threat", "harassment", "stress")), FindingRow.subtype.like("%/to_agent"))
    for agent, at, row in session.execute(
        select(Call.agent_id, Call.started_at, FindingRow).join(FindingRow, FindingRow.call_id == Call.id)
        .where(*call_conds, candidates, FindingRow.status == ACTIVE)
    ):
        key = (agent, site_day(at))
        if is_abuse_received(_finding(row)):
            abusive[key] += 1
        elif row.speaker == "agent" and row.label == "stress":
            stressed[key] += 1
    ordered = sorted(calls_per_day.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    abuse = [AbuseDay(a, d, abusive[(a, d)], n) for (a, d), n in ordered]
    stress = [StressDay(a, d, stressed[(a, d)], n, stressed[(a, d)] / n if n else 0.0) for (a, d), n in ordered]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in stress:
        totals[s.agent_id][0] += s.stress_findings
        totals[s.agent_id][1] += s.calls
    for s in stress:
        found, calls = totals[s.agent_id]
        s.baseline = found / calls if calls else 0.0

    alert_conds = [Alert.agent_id.in_(agents)]
    if f.date_from:
        alert_conds.append(or_(Alert.day.is_(None), Alert.day >= f.date_from))
    if f.date_to:
        alert_conds.append(or_(Alert.day.is_(None), Alert.day <= f.date_to))
    alerts = []
    for a in session.scalars(select(Alert).where(*alert_conds).order_by(Alert.created_at.desc()).limit(500)):
        stored = mask(a.message) or ""
        zh = alert_message(a.agent_id, a.kind, a.evidence or {}, "zh")
        alerts.append(AlertView(a.id, a.agent_id, a.day, a.kind, a.severity, a.status,
                                Bilingual(stored, mask(zh) or stored), mask_json(a.evidence or {}, mask)))
    notes = [NoteView(n.id, n.call_id, n.agent_id, n.author, mask(n.note) or "", n.at)
             for n in session.scalars(select(CoachingNote).where(CoachingNote.agent_id.in_(agents))
                                      .order_by(CoachingNote.at.desc()).limit(500))]
    return WellbeingView(agents=agents, agent_team=scope, days=days, abuse=abuse, stress=stress, alerts=alerts,
                         notes=notes, why=why)
