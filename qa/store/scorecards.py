"""Persistence of QA scorecards and the review workflow around them: people's item changes (overrides and
accepted disputes), acknowledgements, disputes, calibration sessions and coaching assignments.

No role checks here (they live in `qa.views.scorecards`); every function takes the filters it is given.
People's changes are keyed by call, form and item id, so a re-analysis that rewrites the automatic items
keeps them in force.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from qa.records import Change, ItemResult, Scorecard, apply_overrides, totals
from qa.store.models import (
    CalibrationScore,
    CalibrationSession,
    Call,
    CoachingAssignment,
    Dispute,
    ScoreAck,
    ScorecardRow,
    ScoreChange,
    utcnow,
)


def _card(row: ScorecardRow, items: list[dict]) -> Scorecard:  # type: ignore[type-arg]
    return totals(Scorecard(call_id=row.call_id, form=row.form_id, form_version=row.form_version, score=0.0,
                            max_score=0.0, fatal_failed=False, items=[ItemResult.from_record(d) for d in items]))


def auto_card(row: ScorecardRow) -> Scorecard:
    return _card(row, row.auto_items)


def effective_card(row: ScorecardRow) -> Scorecard:
    return _card(row, row.items)


def changes(session: Session, call_id: int, form_id: str) -> list[ScoreChange]:
    """Every change to the call's items under this form, oldest first (the history)."""
    return list(session.scalars(select(ScoreChange).where(ScoreChange.call_id == call_id, ScoreChange.form_id == form_id)
                                .order_by(ScoreChange.at, ScoreChange.id)))


def _refresh(session: Session, row: ScorecardRow) -> ScorecardRow:
    card = apply_overrides(auto_card(row), [Change(c.item_id, c.result, c.user, c.reason)  # type: ignore[arg-type]
                                            for c in changes(session, row.call_id, row.form_id)])
    row.items = [i.to_record() for i in card.items]
    row.score, row.max_score, row.percent, row.fatal_failed = card.score, card.max_score, card.percent, card.fatal_failed
    session.flush()
    return row


def save_scorecard(session: Session, card: Scorecard) -> ScorecardRow:
    """Store (or replace) the automatic result of a call under a form; people's changes stay applied."""
    if card.call_id is None:
        raise ValueError("a stored scorecard needs a call id")
    row = session.scalar(select(ScorecardRow).where(ScorecardRow.call_id == card.call_id,
                                                    ScorecardRow.form_id == card.form))
    if row is None:
        row = ScorecardRow(call_id=card.call_id, form_id=card.form, form_version=card.form_version, score=0.0,
                           max_score=0.0)
        session.add(row)
    row.form_version = card.form_version
    row.auto_items = [i.to_record() for i in card.items]
    row.scored_at = utcnow()
    return _refresh(session, row)


def scorecard_row(session: Session, call_id: int, form_id: str | None = None) -> ScorecardRow | None:
    q = select(ScorecardRow).where(ScorecardRow.call_id == call_id)
    if form_id:
        q = q.where(ScorecardRow.form_id == form_id)
    return session.scalar(q.order_by(ScorecardRow.scored_at.desc()).limit(1))


def add_change(session: Session, row: ScorecardRow, item_id: str, result: str, user: str, reason: str,
               kind: str, dispute_id: int | None = None) -> ScoreChange:
    """Record a person's decision on an item and recompute the scorecard."""
    current = next((i for i in row.items if i["id"] == item_id), None)
    if current is None:
        raise ValueError(f"form {row.form_id!r} has no item {item_id!r}")
    change = ScoreChange(call_id=row.call_id, form_id=row.form_id, item_id=item_id, result=result,
                         previous=current["result"], kind=kind, dispute_id=dispute_id, user=user, reason=reason)
    session.add(change)
    session.flush()
    _refresh(session, row)
    return change


def scorecard_query(agent_id: str | None = None, team: str | None = None, start: datetime | None = None,
                    end: datetime | None = None) -> Select:  # type: ignore[type-arg]
    q = select(ScorecardRow, Call).join(Call, Call.id == ScorecardRow.call_id)
    if agent_id is not None:
        q = q.where(Call.agent_id == agent_id)
    if team is not None:
        q = q.where(Call.team == team)
    if start is not None:
        q = q.where(Call.started_at >= start)
    if end is not None:
        q = q.where(Call.started_at < end)
    return q.order_by(Call.started_at.desc(), Call.id.desc())


def list_scorecards(session: Session, **filters: object) -> list[tuple[ScorecardRow, Call]]:
    return [(r, c) for r, c in session.execute(scorecard_query(**filters))]  # type: ignore[arg-type]


# --- acknowledgements and disputes ---------------------------------------------------------------------


def add_ack(session: Session, call_id: int, form_id: str, user: str) -> ScoreAck:
    ack = ScoreAck(call_id=call_id, form_id=form_id, user=user)
    session.add(ack)
    session.flush()
    return ack


def acks(session: Session, call_id: int, form_id: str) -> list[ScoreAck]:
    return list(session.scalars(select(ScoreAck).where(ScoreAck.call_id == call_id, ScoreAck.form_id == form_id)))


def add_dispute(session: Session, call_id: int, form_id: str, item_id: str, agent_id: str | None, user: str,
                reason: str) -> Dispute:
    d = Dispute(call_id=call_id, form_id=form_id, item_id=item_id, agent_id=agent_id, raised_by=user,
                reason=reason, status="open")
    session.add(d)
    session.flush()
    return d


def disputes(session: Session, status: str | None = None, agent_id: str | None = None,
             call_id: int | None = None) -> list[Dispute]:
    q = select(Dispute)
    if status:
        q = q.where(Dispute.status == status)
    if agent_id is not None:
        q = q.where(Dispute.agent_id == agent_id)
    if call_id is not None:
        q = q.where(Dispute.call_id == call_id)
    return list(session.scalars(q.order_by(Dispute.created_at, Dispute.id)))


# --- calibration ---------------------------------------------------------------------------------------


def add_calibration(session: Session, name: str, form_id: str, call_ids: Sequence[int], reviewers: Sequence[str],
                    user: str) -> CalibrationSession:
    cs = CalibrationSession(name=name, form_id=form_id, call_ids=list(call_ids), reviewers=list(reviewers),
                            created_by=user)
    session.add(cs)
    session.flush()
    return cs


def calibrations(session: Session) -> list[CalibrationSession]:
    return list(session.scalars(select(CalibrationSession).order_by(CalibrationSession.created_at.desc())))


def save_calibration_scores(session: Session, session_id: int, call_id: int, reviewer: str,
                            results: dict[str, str]) -> None:
    existing = {s.item_id: s for s in session.scalars(select(CalibrationScore).where(
        CalibrationScore.session_id == session_id, CalibrationScore.call_id == call_id,
        CalibrationScore.reviewer == reviewer))}
    for item_id, result in results.items():
        if item_id in existing:
            existing[item_id].result, existing[item_id].at = result, utcnow()
        else:
            session.add(CalibrationScore(session_id=session_id, call_id=call_id, reviewer=reviewer, item_id=item_id,
                                         result=result))
    session.flush()


def calibration_scores(session: Session, session_id: int, reviewer: str | None = None) -> list[CalibrationScore]:
    q = select(CalibrationScore).where(CalibrationScore.session_id == session_id)
    if reviewer is not None:
        q = q.where(CalibrationScore.reviewer == reviewer)
    return list(session.scalars(q))


# --- coaching ------------------------------------------------------------------------------------------


def add_coaching(session: Session, agent_id: str, form_id: str, item_id: str, coaching_key: str | None,
                 call_ids: Sequence[int], note: str | None, user: str) -> CoachingAssignment:
    a = CoachingAssignment(agent_id=agent_id, form_id=form_id, item_id=item_id, coaching_key=coaching_key,
                           call_ids=list(call_ids), note=note, assigned_by=user, status="assigned")
    session.add(a)
    session.flush()
    return a


def coaching(session: Session, agent_id: str | None = None) -> list[CoachingAssignment]:
    q = select(CoachingAssignment)
    if agent_id is not None:
        q = q.where(CoachingAssignment.agent_id == agent_id)
    return list(session.scalars(q.order_by(CoachingAssignment.created_at.desc())))
