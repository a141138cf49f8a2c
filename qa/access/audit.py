"""The audit trail: who opened which call, played audio, exported, changed a verdict, was refused, erased.

Details hold ids, counts and choices only, never transcript text, notes, search terms or PII. Every row
carries the session it came from and a hash over its content and the previous row's hash (a chain kept in
`audit_head`, locked by each appender so it never forks). The hash is keyed (HMAC, key outside the database), so
rows cannot be forged by someone who can only write the database. Rows are never updated or deleted (database
triggers refuse it); `verify` walks the chain and names the first row that was changed, inserted or deleted.
"""

from __future__ import annotations

import contextvars
import getpass
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from qa.store.models import AuditEvent, AuditHead

log = logging.getLogger(__name__)

ACTIONS: tuple[str, ...] = (
    "sign_in", "sign_in_failed", "sign_in_locked", "sign_out", "session_expired", "open_call", "play_audio",
    "play_original", "verdict", "coaching_note", "export", "export_audio", "export_labels", "search",
    "search_refused", "denied", "password_changed", "user_deactivated", "purge", "erase",
    "open_scorecard", "score_override", "score_ack", "dispute", "dispute_decision", "calibration_create",
    "calibration_score", "coaching_assign", "coaching_done", "qa_report", "forget_voiceprints",
)

_SAFE_DETAIL_TYPES = (int, float, bool, type(None))
GENESIS = "0" * 64

#: The session id written on rows recorded without an explicit one: the dashboard sets it on every page
#: run (Streamlit runs each browser session in its own thread and context), the CLI to "cli:<os user>".
current_session_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("callqa_session_id", default=None)


def cli_session_id() -> str:
    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        who = "?"
    return f"cli:{who}"[:64]


def record(session: Session, user: str, action: str, call_id: int | None = None,
           detail: dict[str, Any] | None = None, session_id: str | None = None) -> AuditEvent:
    """Append one event to the chain (flushed, committed with the caller's session)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    sid = (session_id or current_session_id.get() or cli_session_id())[:64]
    # Take the chain's end under a write lock: the UPDATE locks the row (PostgreSQL) or the database (SQLite)
    # until the caller commits, so two appenders never chain onto the same row.
    locked = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)).rowcount
    if not locked:
        session.add(AuditHead(id=1, seq=1, hash=GENESIS))
        session.flush()
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    event = AuditEvent(user=user[:64], action=action, call_id=call_id, detail=_clean(detail),
                       at=datetime.now(UTC), session_id=sid, seq=head.seq, prev_hash=head.hash)
    event.hash = row_hash(event)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=event.hash))
    session.flush()
    log.info("audit %s call=%s", action, call_id)
    return event


def _key() -> bytes:
    """The chain's HMAC key: `Settings.audit_key` (CALLQA_AUDIT_KEY), else a random key in `<home>/audit.key`
    (owner-only) made on first use. Kept outside the database, so someone who can only write the database
    cannot forge rows. Every host writing to one database needs the same key."""
    from qa.config import load_settings

    settings = load_settings()
    if settings.audit_key:
        return settings.audit_key.encode("utf-8")
    path = settings.home / "audit.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")


def row_hash(event: AuditEvent) -> str:
    """HMAC-SHA256 over the row's content (canonical JSON) and the previous row's hash."""
    at = event.at.astimezone(UTC).isoformat(timespec="microseconds") if event.at else None
    content = json.dumps([event.seq, event.user, event.action, event.call_id, event.detail, at, event.session_id,
                          event.prev_hash], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(_key(), content.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    rows: int  # chained rows checked
    unchained: int  # rows from before the chain existed (older databases), not protected
    first_bad_id: int | None = None
    problem: str = ""
    head_hash: str = ""


def verify(session: Session) -> VerifyResult:
    """Walk the chain in order; the first row whose hash, predecessor or position does not fit is named."""
    unchained = 0
    prev_hash = GENESIS
    expected_seq = 1
    n = 0
    seen_chain = False
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=2000)):
        if event.seq is None:
            if seen_chain:
                return VerifyResult(False, n, unchained, event.id, "row without a chain position (inserted)")
            unchained += 1
            continue
        seen_chain = True
        n += 1
        if event.seq != expected_seq:
            what = "rows missing before it (deleted)" if event.seq > expected_seq else "position repeated (inserted)"
            return VerifyResult(False, n, unchained, event.id, f"chain position {event.seq}, expected "
                                f"{expected_seq}: {what}")
        if event.prev_hash != prev_hash:
            return VerifyResult(False, n, unchained, event.id, "previous-row hash does not match (row inserted "
                                "or deleted before it)")
        if row_hash(event) != event.hash:
            return VerifyResult(False, n, unchained, event.id, "content does not match its hash (row changed)")
        prev_hash = event.hash or ""
        expected_seq += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        return VerifyResult(False, n, unchained, None, f"the chain ends at position {expected_seq - 1} but its "
                            f"head says {head.seq}: the last rows were deleted")
    return VerifyResult(True, n, unchained, head_hash=prev_hash)


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
        elif isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
            out[key] = {str(k)[:32]: v for k, v in list(value.items())[:20]}  # counts by kind
    return out
