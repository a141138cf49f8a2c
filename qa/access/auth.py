"""Sign-in, roles and session expiry for the dashboard.

Passwords are hashed with argon2id (argon2-cffi). Role permissions live in one table here and are
checked by every view function in `qa.views`, so hiding a page is never the only protection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.config import load_settings
from qa.store.models import User

#: Staff roles see every call (a manager with a team: that team's); an `agent` sees only their own calls,
#: scorecards, findings and coaching (every scorecard query filters by `Principal.agent_id`).
STAFF: tuple[str, ...] = ("reviewer", "compliance", "manager", "admin")
ROLES: tuple[str, ...] = ("agent", *STAFF)
#: QA leads: decide disputes, run calibration sessions (compliance and admin; a reviewer overrides items
#: but does not judge disputes of their own overrides).
QA_LEADS: frozenset[str] = frozenset({"compliance", "admin"})

#: capability -> roles that have it. "pii" means seeing ID/card/phone numbers and emails unmasked.
PERMISSIONS: dict[str, frozenset[str]] = {
    "overview": frozenset(STAFF),
    "queue": frozenset(STAFF),
    "call": frozenset(STAFF),
    "play_audio": frozenset(STAFF),
    "coaching": frozenset(STAFF),
    "scorecards": frozenset(ROLES),  # an agent: own calls only
    "override": frozenset({"reviewer", "compliance", "admin"}),
    "dispute": frozenset({"agent"}),
    "dispute_decide": QA_LEADS,
    "calibration_lead": QA_LEADS,
    "calibration_score": frozenset({"reviewer", "compliance", "admin"}),
    "coaching_assign": frozenset({"compliance", "manager", "admin"}),
    "qa_reports": frozenset(STAFF),
    "verdict": frozenset({"reviewer", "compliance", "admin"}),
    "compliance": frozenset({"compliance", "admin"}),
    "export": frozenset({"compliance", "admin"}),
    "audit": frozenset({"compliance", "admin"}),
    "pii": frozenset({"compliance", "admin"}),
    "wellbeing": frozenset({"manager", "admin"}),
    "users": frozenset({"admin"}),
}

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("callqa-no-such-user")


class PermissionDenied(PermissionError):
    """The signed-in role may not do this; raised by the store, shown by the page."""

    def __init__(self, role: str, capability: str) -> None:
        super().__init__(f"role '{role}' may not use '{capability}'")
        self.role = role
        self.capability = capability


@dataclass(frozen=True)
class Principal:
    """Who is signed in: what every dashboard query receives."""

    name: str
    role: str
    team: str | None = None
    agent_id: str | None = None  # role 'agent': whose calls they may see

    def can(self, capability: str) -> bool:
        return can(self.role, capability)


def can(role: str, capability: str) -> bool:
    if capability not in PERMISSIONS:
        raise KeyError(f"unknown capability {capability!r}")
    return role in PERMISSIONS[capability]


def require(user: Principal | None, capability: str) -> Principal:
    """Return `user` if it may use `capability`; raise PermissionDenied otherwise (also when signed out)."""
    if user is None:
        raise PermissionDenied("anonymous", capability)
    if not can(user.role, capability):
        raise PermissionDenied(user.role, capability)
    return user


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, name: str, password: str) -> Principal | None:
    """The principal for a correct name and password of an active user, else None.

    Rehashes the stored hash when the library's parameters have been strengthened since.
    """
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return Principal(name=user.name, role=user.role, team=user.team, agent_id=user.agent_id)


def reload_principal(session: Session, name: str) -> Principal | None:
    """The current role and team of a signed-in user; None once deactivated or deleted.

    Called on every page run so a role change or deactivation takes effect at once.
    """
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not user.active:
        return None
    return Principal(name=user.name, role=user.role, team=user.team, agent_id=user.agent_id)


def session_timeout_s() -> float:
    """Inactivity limit in seconds (`Settings.session_timeout_min`, env CALLQA_SESSION_TIMEOUT_MIN).

    Read afresh on every call so that a running dashboard follows the environment it is given."""
    return max(load_settings().session_timeout_min, 0.0) * 60.0


def session_expired(last_seen: float, now: float | None = None, timeout_s: float | None = None) -> bool:
    """True when more than the inactivity limit has passed since `last_seen` (epoch seconds)."""
    now = time.time() if now is None else now
    timeout_s = session_timeout_s() if timeout_s is None else timeout_s
    return now - last_seen > timeout_s


def sign_in(session: Session, name: str, password: str) -> Principal | None:
    """`authenticate`, with the attempt written to the audit log (never the password)."""
    from qa.access import audit

    principal = authenticate(session, name, password)
    audit.record(session, principal.name if principal else (name.strip() or "?"),
                 "sign_in" if principal else "sign_in_failed")
    return principal
