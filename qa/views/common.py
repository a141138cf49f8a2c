"""What every page view shares: the sidebar filters, call conditions, label grouping, masking, not-found.

Pages never touch SQLAlchemy. Every view function takes the signed-in `Principal` and refuses
(PermissionDenied, from `qa.access.auth.require`) what the role may not see, so hiding a page is never
the only protection. Text goes through `qa.access.redact` for roles without the "pii" capability.
All SQL is built with SQLAlchemy expressions (bound parameters only).

Days are the site's calendar days (`Settings.default_timezone`), the same days the wellbeing index
uses: date filters, trend charts and wellbeing charts all bucket a call by `site_day(started_at)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, exists, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from qa.access.auth import Principal, require
from qa.access.redact import mask_pii
from qa.config import get_settings
from qa.records import LABELS
from qa.store.models import ACTIVE, Call, FindingRow, Verdict
from qa.store.reviews import VERDICTS  # noqa: E402,F401  (re-exported for the pages)

#: Labels shown as chips and in violation tables; "compliance" groups every compliance/<rule> label.
CHIP_LABELS: tuple[str, ...] = (*LABELS, "compliance")
VIOLATION_LABELS: tuple[str, ...] = ("threat", "harassment", "privacy", "compliance")
DONE = "done"

Mask = Callable[[str | None], str | None]


class NotFound(LookupError):
    pass


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
    review: str = "flagged"  # queue: "flagged" = calls at the review threshold only (unless searching); "all"

    def calls_only(self) -> Filters:
        """The same selection without the queue-only parts (labels, risk floor, text search)."""
        return Filters(self.date_from, self.date_to, self.teams, self.agents, self.languages, self.jurisdictions)


@dataclass
class FilterOptions:
    teams: list[str]
    agents: list[str]
    languages: list[str]
    jurisdictions: list[str]
    first_day: date | None
    last_day: date | None


def site_zone() -> ZoneInfo:
    """The site's time zone (Settings.default_timezone): the zone of every day shown on the dashboard."""
    return ZoneInfo(get_settings().default_timezone)


def site_day(at: datetime) -> date:
    """The site's calendar day of a stored (UTC) time: how the wellbeing index and every chart bucket calls."""
    return at.astimezone(site_zone()).date()


def day_start(d: date) -> datetime:
    """The first instant of site day `d`, in UTC (for comparing with stored times)."""
    return datetime.combine(d, time.min, tzinfo=site_zone()).astimezone(UTC)


class utc_hour(FunctionElement[str]):
    """A stored time truncated to its UTC hour, as text "YYYY-MM-DD HH" (portable GROUP BY key).

    Counts grouped by UTC hour are summed into site days in Python (`hours_to_site_days`), so every
    backend buckets by the site's day, daylight-saving changes included, without per-row transfer.
    """

    type = String()
    inherit_cache = True


@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element: utc_hour, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m-%d %H', {compiler.process(element.clauses, **kw)})"


@compiles(utc_hour)
def _utc_hour_default(element: utc_hour, compiler: SQLCompiler, **kw: Any) -> str:  # PostgreSQL
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


def hour_day(hour: str) -> date:
    """The site day of a `utc_hour` key. Zones with a half-hour offset put a boundary hour on the later day."""
    return site_day(datetime.strptime(hour[:13], "%Y-%m-%d %H").replace(tzinfo=UTC) + timedelta(minutes=59))


def hours_to_site_days(rows: Iterable[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    """Sum rows of (*key, utc_hour, count) into a Counter of (*key, site day) -> count."""
    out: Counter[tuple[Any, ...]] = Counter()
    for *key, hour, n in rows:
        if hour is not None:
            out[(*key, hour_day(hour))] += int(n or 0)
    return out


def call_conditions(f: Filters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Call.status == DONE]
    if f.date_from:
        conds.append(Call.started_at >= day_start(f.date_from))
    if f.date_to:
        conds.append(Call.started_at < day_start(f.date_to + timedelta(days=1)))
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
        conds.append(exists().where(FindingRow.call_id == Call.id, FindingRow.status == ACTIVE, label_in(f.labels)))
    return conds


def label_in(labels: tuple[str, ...]) -> ColumnElement[bool]:
    exact = [lb for lb in labels if lb != "compliance"]
    parts: list[ColumnElement[bool]] = []
    if exact:
        parts.append(FindingRow.label.in_(exact))
    if "compliance" in labels:
        parts.append(FindingRow.label.like("compliance%"))
    return or_(*parts)


def chip_label() -> ColumnElement[str]:
    return case((FindingRow.label.like("compliance%"), "compliance"), else_=FindingRow.label)


def as_day(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def latest_verdict_subquery():  # type: ignore[no-untyped-def]
    """finding_id -> its latest verdict (verdict, user, at)."""
    last = select(Verdict.finding_id, func.max(Verdict.id).label("vid")).group_by(Verdict.finding_id).subquery()
    return (select(Verdict.finding_id, Verdict.verdict, Verdict.user, Verdict.at)
            .join(last, last.c.vid == Verdict.id).subquery())


def team_scope(user: Principal) -> list[ColumnElement[bool]]:
    """The server-side scope condition on calls: an agent sees only calls carrying their agent id; reviewers
    and managers only their teams' calls. Every call query goes through here (and `get_call` for one call)."""
    if user.role == "agent":
        return [Call.agent_id == (user.agent_id or "\x00no-agent")]  # an agent without a link sees nothing
    teams = user.scope_teams
    return [] if teams is None else [Call.team.in_(teams)]


def get_call(session: Session, call_id: int, user: Principal | None = None) -> Call:
    """The call, or NotFound, also when it belongs to a team outside the user's scope (its existence is
    not revealed)."""
    if not isinstance(call_id, int) or not 0 < call_id < 2**63:  # a huge id would overflow the database integer
        raise NotFound(f"call {call_id} does not exist")
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"call {call_id} does not exist")
    teams = user.scope_teams if user is not None else None
    if (teams is not None and call.team not in teams) or (
            user is not None and user.role == "agent" and (not user.agent_id or call.agent_id != user.agent_id)):
        raise NotFound(f"call {call_id} does not exist")
    return call


def masker(user: Principal, pii_spans: list[str]) -> Mask:
    """The masking function for `user`: identity for roles with "pii", `mask_pii` otherwise."""
    if user.can("pii"):
        return lambda text: text
    return lambda text: mask_pii(text, pii_spans) if isinstance(text, str) else text


def mask_json(value: Any, mask: Mask) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_json(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: mask_json(v, mask) for k, v in value.items()}
    return value


def filter_options(session: Session, user: Principal) -> FilterOptions:
    require(user, "overview")
    scope = team_scope(user)

    def distinct_values(col: Any) -> list[str]:
        return [v for v in session.scalars(select(col).where(col.is_not(None), *scope).distinct().order_by(col))]

    first, last = session.execute(select(func.min(Call.started_at), func.max(Call.started_at)).where(*scope)).one()
    return FilterOptions(
        teams=distinct_values(Call.team), agents=distinct_values(Call.agent_id),
        languages=distinct_values(Call.language), jurisdictions=distinct_values(Call.jurisdiction),
        first_day=site_day(first) if first else None, last_day=site_day(last) if last else None,
    )
