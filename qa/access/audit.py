"""The audit trail: who opened which call, played audio, exported, or changed a verdict.

Details hold ids and choices only, never transcript text, notes or PII.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from qa.store.models import AuditEvent

log = logging.getLogger(__name__)

ACTIONS: tuple[str, ...] = (
    "sign_in", "sign_in_failed", "sign_out", "session_expired", "open_call", "play_audio",
    "verdict", "coaching_note", "export", "export_labels", "search", "denied",
    "open_scorecard", "score_override", "score_ack", "dispute", "dispute_decision", "calibration_create",
    "calibration_score", "coaching_assign", "coaching_done", "qa_report",
)

_SAFE_DETAIL_TYPES = (int, float, bool, type(None))


def record(session: Session, user: str, action: str, call_id: int | None = None,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event (flushed, committed with the caller's session)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(user=user[:64], action=action, call_id=call_id, detail=_clean(detail))
    session.add(event)
    session.flush()
    log.info("audit %s by %s call=%s", action, user, call_id)
    return event


def _clean(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keep short, non-free-text values: ids, numbers, and short enum-like strings."""
    if not detail:
        return None
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if isinstance(value, _SAFE_DETAIL_TYPES) or (isinstance(value, str) and len(value) <= 64):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (int, str)) for v in value):
            out[key] = [v if isinstance(v, int) else str(v)[:64] for v in value][:50]
    return out
