"""What `callqa report CALL_ID` shows: metadata, scores and reasons, measures, and every finding with its
status (active or superseded) and its reviewers' verdicts. An operator command with database access, so not
role-scoped (the dashboard's call page is `qa.views.call.call_detail`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.store.models import Call, FindingRow
from qa.store.reviews import verdict_history


def _local(call: Call) -> str | None:
    """Start time in the debtor's local time (the zone the compliance rules used)."""
    from qa.assess.compliance import RulePackError, debtor_zone, load_pack
    from qa.config import get_settings

    if call.started_at is None:
        return None
    try:
        zone = debtor_zone(load_pack(call.jurisdiction or get_settings().default_jurisdiction), call.timezone)
    except RulePackError:
        return None
    return f"{call.started_at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def _flags_call(row: FindingRow, flag_reasons: list[dict[str, Any]]) -> bool:
    """Whether this finding is one of those that put the call in the review queue (never a superseded one)."""
    return row.status == "active" and any(
        fr.get("segment_index") == row.segment_idx and fr.get("subtype") == row.subtype
        and fr.get("source") == row.source for fr in flag_reasons)


def call_report(session: Session, call_id: int) -> dict[str, Any] | None:
    """Everything a reviewer needs about one call: metadata, scores and reasons, measures, findings."""
    call = session.get(Call, call_id)
    if call is None:
        return None
    rows = sorted(session.scalars(select(FindingRow).where(FindingRow.call_id == call_id)),
                  key=lambda r: (r.start if r.start is not None else -1.0, r.label, r.id))
    verdicts = verdict_history(session, [r.id for r in rows])
    return {
        "call_id": call.id,
        "path": call.path,
        "status": call.status,
        "agent_id": call.agent_id,
        "account_id": call.account_id,
        "callee": call.callee,
        "direction": call.direction,
        "jurisdiction": call.jurisdiction,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "started_local": _local(call),
        "duration": call.duration,
        "language": call.language,
        "risk_score": call.risk_score,
        "complaint_risk": call.complaint_risk,
        "reasons": call.score_reasons or [],
        "flagged": bool(call.flagged),
        "flag_reasons": call.flag_reasons or [],
        "measures": call.measures or {},
        "findings": [{
            "id": r.id, "status": r.status, "label": r.label, "subtype": r.subtype, "speaker": r.speaker,
            "start": r.start, "end": r.end, "span": r.span, "score": round(r.score, 3), "source": r.source,
            "explanation": r.explanation, "details": r.details or {},
            "flags_call": _flags_call(r, call.flag_reasons or []),
            "verdicts": [{"verdict": v.verdict, "user": v.user, "at": v.at.isoformat(), "note": v.note}
                         for v in verdicts[r.id]],
        } for r in rows],
    }
