"""Queries and writes around analysis and reporting: the history a call's analysis needs (account calls, the
agent's voice baseline), an agent's stored calls for the wellbeing day, AgentDay/Alert upserts, and the read
models behind `callqa agents` and `callqa alerts`. Persistence only: no stage above the store is imported."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qa.records import AgentVoiceprint, AlertSpec, CallHistory, DayResult, PriorCall, StoredCall
from qa.store.models import AgentDay, Alert, Call, SegmentRow, Speaker
from qa.store.reviews import active_findings


def _customer_speech(session: Session, calls: Sequence[Call]) -> dict[int, float]:
    """Customer speech seconds per call: from stored measures, else summed from customer segments."""
    out = {c.id: float(c.measures["customer_speech_s"]) for c in calls
           if c.measures and c.measures.get("customer_speech_s") is not None}
    missing = [c.id for c in calls if c.id not in out]
    if missing:
        rows = session.execute(select(SegmentRow.call_id, SegmentRow.start, SegmentRow.end)
                               .where(SegmentRow.call_id.in_(missing), SegmentRow.speaker == "customer"))
        out.update({i: 0.0 for i in missing})
        for call_id, start, end in rows:
            out[call_id] += max(0.0, end - start)
    return out


def account_history(session: Session, account_id: str | None, exclude_call_id: int) -> list[PriorCall]:
    """The account's other stored calls (status done, with a start time)."""
    if not account_id:
        return []
    calls = list(session.scalars(select(Call).where(
        Call.account_id == account_id, Call.status == "done", Call.id != exclude_call_id,
        Call.started_at.is_not(None))))
    speech = _customer_speech(session, calls)
    return [PriorCall(c.id, c.started_at, c.direction, c.callee, speech[c.id]) for c in calls]  # type: ignore[arg-type]


def agent_baseline_turns(session: Session, agent_id: str, call: Call, max_calls: int) -> list[list[dict[str, Any]]]:
    """Voice measures of the agent's turns in their most recent earlier calls (most recent first)."""
    earlier = (Call.started_at < call.started_at) if call.started_at is not None else (Call.id < call.id)
    call_ids = list(session.scalars(
        select(Call.id).where(Call.agent_id == agent_id, Call.status == "done", Call.id != call.id, earlier)
        .order_by(Call.started_at.desc(), Call.id.desc())))
    out: list[list[dict[str, Any]]] = []
    for cid in call_ids:
        turns = [v for v in session.scalars(select(SegmentRow.voice).where(
            SegmentRow.call_id == cid, SegmentRow.speaker == "agent", SegmentRow.voice.is_not(None))) if v]
        if turns:
            out.append(turns)
            if len(out) >= max_calls:
                break
    return out


VOICEPRINT_CALLS = 20  # an agent's voiceprint is the mean of their voice in at most this many recent calls


def agent_voiceprint(session: Session, agent_id: str, except_call: int | None = None,
                     max_calls: int = VOICEPRINT_CALLS) -> AgentVoiceprint | None:
    """The agent's voiceprint: the unit mean of their stored per-call voice embeddings (most recent calls first,
    the call being analysed left out); None when none is stored."""
    import numpy as np

    rows = session.execute(
        select(Speaker.voiceprint).join(Call, Call.id == Speaker.call_id)
        .where(Call.agent_id == agent_id, Call.status == "done", Call.id != (except_call or -1),
               Speaker.role == "agent", Speaker.voiceprint.is_not(None))
        .order_by(Call.started_at.desc(), Call.id.desc()).limit(max_calls)).scalars().all()
    vectors = [np.asarray(v, dtype=np.float32) for v in rows if v]
    if not vectors:
        return None
    mean = np.mean(vectors, axis=0)
    return AgentVoiceprint(agent_id, [float(v) for v in mean / max(float(np.linalg.norm(mean)), 1e-12)],
                           len(vectors))


def voiceprint_holders(session: Session) -> list[tuple[str, int]]:
    """(agent id, calls holding that agent's voice embedding), for every agent with one."""
    from sqlalchemy import func

    rows = session.execute(
        select(Call.agent_id, func.count(Speaker.id)).join(Call, Call.id == Speaker.call_id)
        .where(Speaker.voiceprint.is_not(None), Call.agent_id.is_not(None))
        .group_by(Call.agent_id).order_by(Call.agent_id))
    return [(str(agent), int(n)) for agent, n in rows]


def forget_voiceprints(session: Session, agent_id: str | None = None) -> int:
    """Delete stored voice embeddings (one agent's, or every agent's); returns how many calls held one."""
    query = select(Speaker).where(Speaker.voiceprint.is_not(None))
    if agent_id is not None:
        query = query.join(Call, Call.id == Speaker.call_id).where(Call.agent_id == agent_id)
    rows = list(session.scalars(query))
    for row in rows:
        row.voiceprint = None
    return len(rows)


def call_history(session: Session, call_id: int, baseline_calls: int, voiceprint: bool = False) -> CallHistory:
    """What the analysis of stored call `call_id` needs from earlier work: the account's other calls, the
    agent's voice turns in up to `baseline_calls` earlier calls and, with `voiceprint`, the agent's voiceprint
    (only a recording being transcribed uses it)."""
    call = session.get(Call, call_id)
    if call is None:
        raise KeyError(call_id)
    return CallHistory(
        account_calls=account_history(session, call.account_id, call.id),
        agent_voice=agent_baseline_turns(session, call.agent_id, call, baseline_calls) if call.agent_id else [],
        agent_voiceprint=agent_voiceprint(session, call.agent_id, call.id) if voiceprint and call.agent_id else None)


def agent_calls_between(session: Session, agent_id: str, start: datetime, end: datetime,
                        include_call_id: int | None = None) -> list[StoredCall]:
    """The agent's calls starting in [start, end), with their active findings."""
    status_ok = Call.status == "done" if include_call_id is None else or_(Call.status == "done",
                                                                          Call.id == include_call_id)
    calls = list(session.scalars(select(Call).where(
        Call.agent_id == agent_id, Call.started_at >= start, Call.started_at < end, status_ok)
        .order_by(Call.started_at)))
    return [StoredCall(call_id=c.id, started_at=c.started_at, duration=c.duration or 0.0,  # type: ignore[arg-type]
                       risk=c.risk_score, measures=c.measures or {}, findings=active_findings(session, c.id))
            for c in calls]


def save_agent_day(session: Session, result: DayResult) -> AgentDay:
    row = session.scalar(select(AgentDay).where(AgentDay.agent_id == result.agent_id, AgentDay.day == result.day))
    if row is None:
        row = AgentDay(agent_id=result.agent_id, day=result.day)
        session.add(row)
    row.calls, row.wellbeing, row.metrics = result.calls, result.wellbeing, result.metrics
    return row


def week_days(session: Session, agent_id: str, monday: date, until: date) -> list[tuple[date, dict[str, Any]]]:
    rows = session.scalars(select(AgentDay).where(AgentDay.agent_id == agent_id, AgentDay.day >= monday,
                                                  AgentDay.day <= until))
    return [(r.day, r.metrics or {}) for r in rows]


def sync_alerts(session: Session, agent_id: str, day: date, kinds: Iterable[str], specs: Sequence[AlertSpec]) -> None:
    """Make the stored alerts of (agent, day, kinds) match `specs`: insert or update them, and delete open ones
    whose condition no longer holds. Alerts a person has acknowledged or closed keep their status."""
    kinds = set(kinds)
    wanted = {s.kind: s for s in specs}
    existing = {a.kind: a for a in session.scalars(select(Alert).where(
        Alert.agent_id == agent_id, Alert.day == day, Alert.kind.in_(kinds)))}
    for kind, alert in existing.items():
        if kind not in wanted and alert.status == "open":
            session.delete(alert)
    for kind, spec in wanted.items():
        alert = existing.get(kind)
        if alert is None:
            alert = Alert(agent_id=agent_id, kind=kind, day=day, status="open")
            session.add(alert)
        alert.severity, alert.message, alert.evidence = spec.severity, spec.message, spec.evidence


def agent_table(session: Session, days: int = 7, until: date | None = None) -> list[dict[str, Any]]:
    """One row per agent over the last `days` days up to `until` (default: the latest stored day)."""
    until = until or session.scalar(select(AgentDay.day).order_by(AgentDay.day.desc()).limit(1))
    if until is None:
        return []
    since = until - timedelta(days=days - 1)
    rows = list(session.scalars(select(AgentDay).where(AgentDay.day >= since, AgentDay.day <= until)
                                .order_by(AgentDay.agent_id, AgentDay.day)))
    open_alerts: dict[str, int] = {}
    for a in session.scalars(select(Alert).where(Alert.status == "open")):
        open_alerts[a.agent_id] = open_alerts.get(a.agent_id, 0) + 1
    by_agent: dict[str, list[AgentDay]] = {}
    for r in rows:
        by_agent.setdefault(r.agent_id, []).append(r)
    out = []
    for agent, ds in sorted(by_agent.items()):
        last = ds[-1]
        stress = [d.metrics.get("stress_z") for d in ds if d.metrics.get("stress_z") is not None]
        out.append({
            "agent_id": agent,
            "last_day": last.day.isoformat(),
            "wellbeing_last_day": last.wellbeing,
            "wellbeing_period": round(sum(d.wellbeing for d in ds) / len(ds), 1),
            "period": [since.isoformat(), until.isoformat()],
            "days_worked": len(ds),
            "calls": sum(d.calls for d in ds),
            "hours_on_calls": round(sum(d.metrics.get("hours_on_calls", 0) for d in ds), 2),
            "abuse_count": sum(d.metrics.get("abuse_count", 0) for d in ds),
            "abuse_severity": round(sum(d.metrics.get("abuse_severity", 0) for d in ds), 2),
            "max_hostile_streak": max(d.metrics.get("max_hostile_streak", 0) for d in ds),
            "stress_voice_findings": sum(d.metrics.get("stress_voice_findings", 0) for d in ds),
            "stress_z_mean": round(sum(stress) / len(stress), 2) if stress else None,
            "stress_z_last_day": last.metrics.get("stress_z"),
            "off_shift_calls": sum(d.metrics.get("off_shift_calls", 0) for d in ds),
            "short_recoveries": sum(d.metrics.get("short_recoveries", 0) for d in ds),
            "open_alerts": open_alerts.get(agent, 0),
            "top_penalties": (last.metrics.get("penalties") or [])[:3],
        })
    return out


def list_alerts(session: Session, status: str | None = "open", agent_id: str | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
    stmt = select(Alert)
    if status:
        stmt = stmt.where(Alert.status == status)
    if agent_id:
        stmt = stmt.where(Alert.agent_id == agent_id)
    order = {"critical": 0, "warning": 1, "info": 2}
    rows = list(session.scalars(stmt.order_by(Alert.day.desc(), Alert.id).limit(limit)))
    rows.sort(key=lambda a: (-(a.day or date.min).toordinal(), order.get(a.severity, 3), a.agent_id, a.kind))
    return [{"id": a.id, "agent_id": a.agent_id, "day": a.day.isoformat() if a.day else None, "kind": a.kind,
             "severity": a.severity, "status": a.status, "message": a.message, "evidence": a.evidence or {}}
            for a in rows]


def day_bounds_utc(day: date, zone: Any) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


__all__ = ["account_history", "agent_baseline_turns", "agent_calls_between", "agent_table", "call_history",
           "day_bounds_utc", "list_alerts", "save_agent_day", "sync_alerts", "week_days"]
