"""Verdict authority: an escalation by compliance (or an admin) is closed only by compliance or an admin.

Every verdict is kept (the history); the *effective* verdict of a finding walks that history in order and
ignores nothing but verdicts that an author without authority added while an authoritative escalation was
open (older databases may hold some; new ones cannot, `check_may_judge` refuses them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.store.models import FindingRow, Verdict

#: Roles whose escalation locks a finding, and who may close it.
AUTHORITY_ROLES = frozenset({"compliance", "admin"})


@dataclass(frozen=True)
class Effective:
    verdict: str | None  # confirm | dismiss | escalate | None
    locked: bool  # an escalation by compliance or an admin is open: only they may change it
    by: str | None = None


def effective(history: Sequence[Verdict]) -> Effective:
    """The verdict that counts, from a finding's verdicts in the order they were given."""
    state: Effective = Effective(None, False)
    for v in history:
        authoritative = (v.role or "") in AUTHORITY_ROLES
        if state.locked and not authoritative:
            continue  # kept in the history, without effect
        state = Effective(v.verdict, authoritative and v.verdict == "escalate", v.user)
    return state


def may_judge(role: str, current: Effective) -> bool:
    return not current.locked or role in AUTHORITY_ROLES


def effective_by_finding(session: Session, finding_ids: Iterable[int]) -> dict[int, Effective]:
    ids = list(finding_ids)
    history: dict[int, list[Verdict]] = defaultdict(list)
    for chunk in range(0, len(ids), 500):
        for v in session.scalars(select(Verdict).where(Verdict.finding_id.in_(ids[chunk:chunk + 500]))
                                 .order_by(Verdict.at, Verdict.id)):
            history[v.finding_id].append(v)
    return {fid: effective(vs) for fid, vs in history.items()}


def open_escalations(session: Session, call_ids: Iterable[int] | None = None) -> dict[int, Effective]:
    """finding id -> effective verdict, for findings whose effective verdict is "escalate"."""
    stmt = select(Verdict.finding_id).where(Verdict.verdict == "escalate").distinct()
    if call_ids is not None:
        stmt = stmt.join(FindingRow, FindingRow.id == Verdict.finding_id).where(FindingRow.call_id.in_(list(call_ids)))
    candidates = list(session.scalars(stmt))
    return {fid: e for fid, e in effective_by_finding(session, candidates).items() if e.verdict == "escalate"}


def open_case_call_ids(session: Session, call_ids: Iterable[int] | None = None) -> set[int]:
    """Calls with at least one finding whose effective verdict is an escalation (an open case)."""
    findings = open_escalations(session, call_ids)
    if not findings:
        return set()
    ids = list(findings)
    return set(session.scalars(select(FindingRow.call_id).where(FindingRow.id.in_(ids))))
