"""Compliance page: open cases (calls with escalated findings), escalations, violations by rule and agent.

Dismissed findings are not counted as violations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, distinct, func, or_, select
from sqlalchemy.orm import Session

from qa.access.auth import Principal, require
from qa.access.authority import open_escalations
from qa.store.models import ACTIVE, Call, FindingRow, Verdict
from qa.views.common import (
    VIOLATION_LABELS,
    Filters,
    call_conditions,
    chip_label,
    label_in,
    latest_verdict_subquery,
    team_scope,
)
from qa.views.i18n import Named


@dataclass
class Escalation(Named):
    finding_id: int
    call_id: int
    label: str
    subtype: str
    score: float
    agent_id: str | None
    started_at: datetime | None
    escalated_by: str
    escalated_at: datetime



@dataclass
class OpenCase:
    call_id: int
    agent_id: str | None
    started_at: datetime | None
    last_escalated_at: datetime
    escalated: int = 0
    labels: list[str] = field(default_factory=list)


@dataclass
class RuleViolations(Named):
    label: str  # chip label
    subtype: str
    source: str
    findings: int
    confirmed: int
    calls: int




@dataclass
class AgentViolations:
    agent_id: str
    label: str  # chip label
    findings: int


@dataclass
class ComplianceView:
    open_cases: list[OpenCase]  # calls with findings whose effective verdict (by authority) is "escalate"
    escalations: list[Escalation]  # those findings
    by_rule: list[RuleViolations]
    by_agent: list[AgentViolations]


def compliance_view(session: Session, user: Principal, f: Filters = Filters()) -> ComplianceView:
    """Open cases, escalations and violation tables; dismissed findings are not counted as violations."""
    require(user, "compliance")
    conds = call_conditions(f.calls_only()) + team_scope(user)
    lv = latest_verdict_subquery()
    # Open cases follow authority, not recency: a reviewer's later verdict does not close a compliance escalation.
    open_findings = open_escalations(session)
    esc = session.execute(
        select(FindingRow.id, FindingRow.call_id, FindingRow.label, FindingRow.subtype, FindingRow.score,
               Call.agent_id, Call.started_at)
        .join(Call, Call.id == FindingRow.call_id)
        .where(*conds, FindingRow.id.in_(list(open_findings)))
    ).all() if open_findings else []
    escalated_at = {v.finding_id: v.at for v in session.scalars(
        select(Verdict).where(Verdict.finding_id.in_([r[0] for r in esc]), Verdict.verdict == "escalate")
        .order_by(Verdict.at, Verdict.id))} if esc else {}
    escalations = sorted((Escalation(*r, escalated_by=open_findings[r[0]].by or "?",
                                     escalated_at=escalated_at.get(r[0]) or datetime.min.replace(tzinfo=UTC))
                          for r in esc), key=lambda e: e.escalated_at, reverse=True)[:500]
    cases: dict[int, OpenCase] = {}
    for e in escalations:
        c = cases.setdefault(e.call_id, OpenCase(e.call_id, e.agent_id, e.started_at, e.escalated_at))
        c.escalated += 1
        if e.label not in c.labels:
            c.labels.append(e.label)
    for c in cases.values():
        c.labels.sort()

    chip = chip_label().label("chip")
    not_dismissed = or_(lv.c.verdict.is_(None), lv.c.verdict != "dismiss")
    viol = [label_in(VIOLATION_LABELS), not_dismissed, FindingRow.status == ACTIVE]
    confirmed = func.sum(case((lv.c.verdict == "confirm", 1), else_=0))
    by_rule = [
        RuleViolations(r[0], r[1], r[2], r[3], int(r[4] or 0), r[5])
        for r in session.execute(
            select(chip, FindingRow.subtype, FindingRow.source, func.count(FindingRow.id), confirmed,
                   func.count(distinct(FindingRow.call_id)))
            .join(Call, Call.id == FindingRow.call_id).outerjoin(lv, lv.c.finding_id == FindingRow.id)
            .where(*conds, *viol).group_by(chip, FindingRow.subtype, FindingRow.source)
            .order_by(func.count(FindingRow.id).desc()).limit(200)
        )
    ]
    by_agent = [
        AgentViolations(r[0] or "?", r[1], r[2])
        for r in session.execute(
            select(Call.agent_id, chip, func.count(FindingRow.id))
            .join(Call, Call.id == FindingRow.call_id).outerjoin(lv, lv.c.finding_id == FindingRow.id)
            .where(*conds, *viol).group_by(Call.agent_id, chip).order_by(func.count(FindingRow.id).desc()).limit(1000)
        )
    ]
    return ComplianceView(open_cases=list(cases.values()), escalations=escalations, by_rule=by_rule,
                          by_agent=by_agent)
