"""Overview page: calls processed, flagged share by label, risk distribution, daily trend (site days), top rules."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from qa.access.auth import Principal, require
from qa.store.models import ACTIVE, Call, FindingRow
from qa.views.common import (
    Filters,
    call_conditions,
    chip_label,
    hour_day,
    team_scope,
    utc_hour,
)
from qa.views.i18n import Bilingual, label_name, source_name, subtype_name

RISK_BUCKETS: tuple[int, ...] = tuple(range(0, 100, 10))


@dataclass
class TrendPoint:
    day: date | None
    calls: int
    flagged: int
    avg_risk: float | None


@dataclass
class RuleCount:
    source: str
    subtype: str
    label: str
    findings: int
    calls: int

    @property
    def names(self) -> tuple[Bilingual, Bilingual, Bilingual]:
        """(source, subtype, label) in words."""
        return source_name(self.source), subtype_name(self.subtype), label_name(self.label)


@dataclass
class Overview:
    processed: int
    flagged: int
    avg_risk: float | None
    label_calls: dict[str, int]  # chip label -> calls with it
    risk_histogram: dict[int, int]  # bucket start (0, 10, ... 90) -> calls
    trend: list[TrendPoint]
    top_rules: list[RuleCount]
    failed: int = 0


def overview(session: Session, user: Principal, f: Filters = Filters()) -> Overview:
    """Headline figures for the calls matching `f` (text search and label filters do not apply)."""
    require(user, "overview")
    conds = call_conditions(f.calls_only()) + team_scope(user)
    processed, avg_risk = session.execute(select(func.count(Call.id), func.avg(Call.risk_score)).where(*conds)).one()
    # flagged: the call reached the review threshold (set by the analysis from its active findings only)
    flagged = session.scalar(select(func.count(Call.id)).where(*conds, Call.flagged.is_(True))) or 0
    failed_conds = [c for c in conds[1:]] + [Call.status == "failed"]
    failed = session.scalar(select(func.count(Call.id)).where(*failed_conds)) or 0

    chip = chip_label().label("chip")
    label_rows = session.execute(
        select(chip, func.count(distinct(FindingRow.call_id))).join(Call, Call.id == FindingRow.call_id)
        .where(*conds, FindingRow.status == ACTIVE).group_by(chip)
    ).all()

    bucket = case(*[(Call.risk_score < b + 10, b) for b in RISK_BUCKETS[:-1]], else_=RISK_BUCKETS[-1]).label("b")
    hist = {b: 0 for b in RISK_BUCKETS}
    for b, n in session.execute(select(bucket, func.count()).where(*conds, Call.risk_score.is_not(None)).group_by(bucket)):
        hist[int(b)] = n

    hour = utc_hour(Call.started_at).label("hour")
    is_flagged = case((Call.flagged.is_(True), 1), else_=0)
    per_day: dict[date, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])  # calls, flagged, risk sum, risk n
    for h, n, fl, risk_sum, risk_n in session.execute(
        select(hour, func.count(Call.id), func.sum(is_flagged), func.sum(Call.risk_score), func.count(Call.risk_score))
        .where(*conds, Call.started_at.is_not(None)).group_by(hour)
    ):
        acc = per_day[hour_day(h)]
        acc[0] += n
        acc[1] += int(fl or 0)
        acc[2] += float(risk_sum or 0.0)
        acc[3] += risk_n
    trend = [TrendPoint(d, int(c), int(fl), rs / rn if rn else None) for d, (c, fl, rs, rn) in sorted(per_day.items())]

    rule_rows = session.execute(
        select(FindingRow.source, FindingRow.subtype, FindingRow.label, func.count(FindingRow.id),
               func.count(distinct(FindingRow.call_id)))
        .join(Call, Call.id == FindingRow.call_id).where(*conds, FindingRow.status == ACTIVE)
        .group_by(FindingRow.source, FindingRow.subtype, FindingRow.label)
        .order_by(func.count(FindingRow.id).desc()).limit(10)
    ).all()
    return Overview(
        processed=processed or 0, flagged=flagged, avg_risk=float(avg_risk) if avg_risk is not None else None,
        label_calls={lb: n for lb, n in label_rows}, risk_histogram=hist, trend=trend,
        top_rules=[RuleCount(s, st, lb, n, c) for s, st, lb, n, c in rule_rows],
        failed=failed,
    )
