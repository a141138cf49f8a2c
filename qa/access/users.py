"""Dashboard users: create, list, deactivate, demo accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
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


@dataclass
class DemoAccount:
    name: str
    role: str
    password: str


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")


def add_user(session: Session, name: str, role: str, password: str, team: str | None = None,
             agent_id: str | None = None) -> UserInfo:
    """Create a user; raises ValueError if the name is taken, the role unknown, the password short, or an
    `agent` user has no agent id (the link to their calls)."""
    _check_role(role)
    if role == "agent" and not agent_id:
        raise ValueError("an agent user needs --agent-id (the agent id their calls carry)")
    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("user name must have 1 to 64 characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ValueError(f"user {name!r} already exists")
    user = User(name=name, role=role, team=team, agent_id=agent_id, password_hash=hash_password(password),
                active=True)
    session.add(user)
    session.flush()
    return _info(user)


def set_password(session: Session, name: str, password: str) -> None:
    user = _get(session, name)
    user.password_hash = hash_password(password)


def set_active(session: Session, name: str, active: bool) -> None:
    _get(session, name).active = active


def list_users(session: Session) -> list[UserInfo]:
    return [_info(u) for u in session.scalars(select(User).order_by(User.name))]


def create_demo_users(session: Session, team: str = "demo") -> list[DemoAccount]:
    """One demo user per role with a fresh random password (existing demo users get a new one)."""
    accounts = []
    for role in ROLES:
        name = f"{DEMO_PREFIX}{role}"
        password = secrets.token_urlsafe(12)
        existing = session.scalar(select(User).where(User.name == name))
        agent_id = "DEMO-A01" if role == "agent" else None
        if existing is None:
            add_user(session, name, role, password, team=team, agent_id=agent_id)
        else:
            existing.password_hash = hash_password(password)
            existing.role, existing.active = role, True
        accounts.append(DemoAccount(name=name, role=role, password=password))
    return accounts


def _get(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise ValueError(f"no user named {name!r}")
    return user


def _info(user: User) -> UserInfo:
    return UserInfo(name=user.name, role=user.role, team=user.team, agent_id=user.agent_id, active=user.active,
                    created_at=user.created_at)
