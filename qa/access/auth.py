"""Sign-in, roles and session expiry for the dashboard.

Passwords are hashed with argon2id (argon2-cffi). Role permissions live in one table here and are
checked by every view function in `qa.views`, so hiding a page is never the only protection.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.config import load_settings
from qa.store.models import SignInThrottle, User

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
    "close_escalation": frozenset({"compliance", "admin"}),  # change a finding compliance escalated
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


#: Password policy: at least this many characters, from at least two kinds (letters, digits, other).
MIN_PASSWORD_CHARS = 10
_COMMON_PASSWORDS = frozenset({
    "password123", "password1234", "1234567890", "qwertyuiop", "iloveyou123", "admin12345", "passw0rd123",
    "abc1234567", "1q2w3e4r5t", "qwerty12345", "changeme123", "welcome123", "callqa1234",
})
#: Sign-in throttle: after FREE_FAILURES wrong tries for one name each further try waits twice as long
#: (1, 2, 4, ... s); after LOCK_FAILURES the name is locked for LOCK_MINUTES.
FREE_FAILURES = 3
LOCK_FAILURES = 10
LOCK_MINUTES = 15.0
UNKNOWN_USER = "unknown"


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
    #: every team of the user (team is the first); empty: no team, the whole site
    teams: tuple[str, ...] = field(default=(), compare=False)
    session_epoch: int = field(default=0, compare=False)
    agent_id: str | None = None  # role 'agent': whose calls they may see

    def can(self, capability: str) -> bool:
        return can(self.role, capability)

    @property
    def scope_teams(self) -> tuple[str, ...] | None:
        """Teams whose calls this user may see; None: every team (compliance, admin, users without a team)."""
        if self.role in ("compliance", "admin"):
            return None
        teams = self.teams or ((self.team,) if self.team else ())
        return teams or None


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


def check_password_policy(password: str, name: str = "") -> None:
    """ValueError with the reason when `password` is too weak."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters / 密码至少 {MIN_PASSWORD_CHARS} 个字符")
    kinds = sum((any(c.isalpha() for c in password), any(c.isdigit() for c in password),
                 any(not c.isalnum() for c in password)))
    if kinds < 2:
        raise ValueError("password must mix at least two of letters, digits and other characters / "
                         "密码须包含字母、数字、符号中的至少两类")
    if password.lower() in _COMMON_PASSWORDS or (name and password.lower() == name.strip().lower()):
        raise ValueError("password is too common or equals the user name / 密码过于常见或与用户名相同")


def hash_password(password: str, name: str = "") -> str:
    check_password_policy(password, name)
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
    return principal_of(user)


def principal_of(user: User) -> Principal:
    teams = tuple(str(t) for t in (user.teams or ([user.team] if user.team else [])))
    return Principal(name=user.name, role=user.role, team=user.team or (teams[0] if teams else None), teams=teams,
                     session_epoch=user.session_epoch or 0, agent_id=user.agent_id)


def reload_principal(session: Session, name: str, session_epoch: int | None = None) -> Principal | None:
    """The current role and teams of a signed-in user; None once deactivated, deleted, or when the password
    changed since this session signed in (`session_epoch` older than the user's).

    Called on every page run so a role change, deactivation or password change takes effect at once.
    """
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not user.active:
        return None
    if session_epoch is not None and session_epoch != (user.session_epoch or 0):
        return None
    return principal_of(user)


def session_timeout_s() -> float:
    """Inactivity limit in seconds (`Settings.session_timeout_min`, env CALLQA_SESSION_TIMEOUT_MIN).

    Read afresh on every call so that a running dashboard follows the environment it is given."""
    return max(load_settings().session_timeout_min, 0.0) * 60.0


def session_expired(last_seen: float, now: float | None = None, timeout_s: float | None = None) -> bool:
    """True when more than the inactivity limit has passed since `last_seen` (epoch seconds)."""
    now = time.time() if now is None else now
    timeout_s = session_timeout_s() if timeout_s is None else timeout_s
    return now - last_seen > timeout_s


def _name_key(name: str) -> str:
    """The throttle's key for a typed user name: a slow salted hash, so a password typed into the name box is
    never stored and cannot be read back cheaply."""
    return hashlib.pbkdf2_hmac("sha256", name.strip().lower().encode("utf-8"), b"callqa-sign-in-throttle",
                               20_000).hex()


def _known_name(session: Session, name: str) -> bool:
    return session.scalar(select(User.id).where(User.name == name.strip())) is not None


def throttle_wait(session: Session, name: str, now: datetime | None = None) -> float:
    """Seconds before `name` may try again (0 when it may now)."""
    now = now or datetime.now(UTC)
    row = session.scalar(select(SignInThrottle).where(SignInThrottle.name_hash == _name_key(name)))
    if row is None:
        return 0.0
    if row.locked_until is not None and row.locked_until > now:
        return (row.locked_until - now).total_seconds()
    if row.failures >= FREE_FAILURES and row.last_failure_at is not None:
        until = row.last_failure_at + timedelta(seconds=2 ** (row.failures - FREE_FAILURES))
        return max(0.0, (until - now).total_seconds())
    return 0.0


def _note_failure(session: Session, name: str, now: datetime) -> int:
    key = _name_key(name)
    row = session.scalar(select(SignInThrottle).where(SignInThrottle.name_hash == key))
    if row is None:
        row = SignInThrottle(name_hash=key, failures=0)
        session.add(row)
    if row.locked_until is not None and row.locked_until <= now:
        row.failures, row.locked_until = 0, None  # the lock ran out: start again
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= LOCK_FAILURES:
        row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
    session.flush()
    return row.failures


def sign_in(session: Session, name: str, password: str, now: datetime | None = None) -> Principal | None:
    """`authenticate` behind the throttle, with the attempt audited (never the password; a name that is
    not a user is written as "unknown", since it may be a password typed into the wrong box)."""
    from qa.access import audit

    now = now or datetime.now(UTC)
    known = _known_name(session, name)
    who = name.strip()[:64] if known else UNKNOWN_USER
    wait = throttle_wait(session, name, now)
    if wait > 0:
        audit.record(session, who, "sign_in_locked", detail={"wait_s": round(wait)})
        return None
    principal = authenticate(session, name, password)
    if principal is None:
        failures = _note_failure(session, name, now)
        audit.record(session, who, "sign_in_failed", detail={"failures": failures})
        return None
    session.execute(SignInThrottle.__table__.delete().where(SignInThrottle.name_hash == _name_key(name)))
    audit.record(session, principal.name, "sign_in")
    return principal
