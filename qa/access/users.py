"""Dashboard users: create, list, deactivate, demo accounts."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.access.auth import ROLES, hash_password
from qa.store.models import User

DEMO_PREFIX = "demo-"


@dataclass
class UserInfo:
    name: str
    role: str
    team: str | None
    agent_id: str | None
    active: bool
    created_at: datetime
    teams: list[str] = field(default_factory=list)


@dataclass
class DemoAccount:
    name: str
    role: str
    password: str


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")


def _teams(team: str | Iterable[str] | None) -> list[str]:
    if team is None:
        return []
    items = [team] if isinstance(team, str) else list(team)
    teams = [t.strip() for item in items for t in item.split(",") if t.strip()]
    if any(len(t) > 64 for t in teams):
        raise ValueError("team names have at most 64 characters")
    return list(dict.fromkeys(teams))


def add_user(session: Session, name: str, role: str, password: str,
             team: str | Iterable[str] | None = None, agent_id: str | None = None) -> UserInfo:
    """Create a user; raises ValueError if the name is taken, the role unknown, the password too weak, or an
    `agent` user has no agent id (the link to their calls).

    `team`: one team, several (a list or "A,B"), or None (reviewers and managers without a team see the
    whole site; compliance and admin always do).
    """
    _check_role(role)
    if role == "agent" and not agent_id:
        raise ValueError("an agent user needs --agent-id (the agent id their calls carry)")
    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("user name must have 1 to 64 characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ValueError(f"user {name!r} already exists")
    teams = _teams(team)
    user = User(name=name, role=role, team=teams[0] if teams else None, teams=teams or None, agent_id=agent_id,
                password_hash=hash_password(password, name), active=True, session_epoch=0)
    session.add(user)
    session.flush()
    return _info(user)


def set_teams(session: Session, name: str, team: str | Iterable[str] | None) -> None:
    user = _get(session, name)
    teams = _teams(team)
    user.team, user.teams = (teams[0] if teams else None), (teams or None)


def set_password(session: Session, name: str, password: str, by: str | None = None) -> None:
    """New password; every session of the user signed in before it ends (on its next click)."""
    from qa.access import audit

    user = _get(session, name)
    user.password_hash = hash_password(password, name)
    user.session_epoch = (user.session_epoch or 0) + 1
    audit.record(session, by or name, "password_changed", detail={"user": user.name})


def set_active(session: Session, name: str, active: bool, by: str | None = None) -> None:
    """Activate or deactivate; deactivating ends every session of the user."""
    from qa.access import audit

    user = _get(session, name)
    user.active = active
    if not active:
        user.session_epoch = (user.session_epoch or 0) + 1
        audit.record(session, by or name, "user_deactivated", detail={"user": user.name})


def list_users(session: Session) -> list[UserInfo]:
    return [_info(u) for u in session.scalars(select(User).order_by(User.name))]


def create_demo_users(session: Session, team: str = "demo") -> list[DemoAccount]:
    """One demo user per role with a fresh random password (existing demo users get a new one)."""
    accounts = []
    for role in ROLES:
        name = f"{DEMO_PREFIX}{role}"
        password = f"{secrets.token_urlsafe(12)}-{secrets.randbelow(90) + 10}"  # letters, digits and a symbol
        existing = session.scalar(select(User).where(User.name == name))
        agent_id = "DEMO-A01" if role == "agent" else None
        if existing is None:
            add_user(session, name, role, password, team=team, agent_id=agent_id)
        else:
            existing.password_hash = hash_password(password, name)
            existing.role, existing.active = role, True
            existing.session_epoch = (existing.session_epoch or 0) + 1
        accounts.append(DemoAccount(name=name, role=role, password=password))
    return accounts


def _get(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise ValueError(f"no user named {name!r}")
    return user


def _info(user: User) -> UserInfo:
    return UserInfo(name=user.name, role=user.role, team=user.team, agent_id=user.agent_id, active=user.active,
                    created_at=user.created_at, teams=list(user.teams or ([user.team] if user.team else [])))
