"""Passwords, sign-in, sessions, roles enforced in the store, and the users commands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from qa.access.auth import PermissionDenied, Principal, authenticate, hash_password, session_expired, sign_in, verify_password
from qa.cli import app
from qa.views.audit import audit_log
from qa.views.call import save_verdict
from qa.views.compliance import compliance_view
from qa.views.export import case_file
from qa.views.queue import review_queue
from qa.views.wellbeing import wellbeing_view
from qa.store.db import session_scope
from qa.store.models import AuditEvent, User
from qa.access.users import add_user, create_demo_users, set_active
from tests.dashboard_seed import PASSWORDS, seed


def test_password_is_stored_as_argon2id_hash():
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$") and "correct horse" not in h
    assert verify_password(h, "correct horse battery")
    assert not verify_password(h, "correct horse battery!")
    assert not verify_password("not-a-hash", "x")
    with pytest.raises(ValueError):
        hash_password("short")


def test_authenticate(db_url):
    with session_scope(db_url) as s:
        add_user(s, "li", "reviewer", "s3cret-pass", team="A")
        add_user(s, "gone", "admin", "s3cret-pass")
        set_active(s, "gone", False)
    with session_scope(db_url) as s:
        assert authenticate(s, "li", "s3cret-pass") == Principal("li", "reviewer", "A")
        assert authenticate(s, "li", "wrong-pass") is None
        assert authenticate(s, "nobody", "s3cret-pass") is None
        assert authenticate(s, "gone", "s3cret-pass") is None  # deactivated
        assert sign_in(s, "li", "wrong-pass") is None
        events = [(e.user, e.action) for e in s.scalars(select(AuditEvent))]
    assert events == [("gone", "user_deactivated"), ("li", "sign_in_failed")]  # deactivation is audited too
    with session_scope(db_url) as s:
        stored = s.scalar(select(User.password_hash).where(User.name == "li"))
    assert "s3cret" not in stored


def test_add_user_rejects_bad_input(db_url):
    with session_scope(db_url) as s:
        add_user(s, "li", "reviewer", "s3cret-pass")
        with pytest.raises(ValueError, match="already exists"):
            add_user(s, "li", "admin", "s3cret-pass")
        with pytest.raises(ValueError, match="unknown role"):
            add_user(s, "wang", "superuser", "s3cret-pass")


def test_session_expiry(monkeypatch):
    assert not session_expired(1000.0, now=1000.0 + 29 * 60)
    assert session_expired(1000.0, now=1000.0 + 31 * 60)
    monkeypatch.setenv("CALLQA_SESSION_TIMEOUT_MIN", "5")
    assert session_expired(1000.0, now=1000.0 + 6 * 60)
    assert not session_expired(1000.0, now=1000.0 + 4 * 60)


@pytest.mark.parametrize(
    ("role", "fn", "args"),
    [
        ("reviewer", wellbeing_view, ()),
        ("reviewer", compliance_view, ()),
        ("reviewer", audit_log, ()),
        ("reviewer", case_file, (1,)),
        ("manager", compliance_view, ()),
        ("manager", audit_log, ()),
        ("manager", case_file, (1,)),
        ("manager", save_verdict, (1, "confirm")),
        ("compliance", wellbeing_view, ()),
    ],
)
def test_store_refuses_what_the_role_may_not_see(db_url, role, fn, args):
    seed(db_url)
    with session_scope(db_url) as s, pytest.raises(PermissionDenied):
        fn(s, Principal(role, role), *args)


def test_store_refuses_anonymous(db_url):
    seed(db_url)
    with session_scope(db_url) as s, pytest.raises(PermissionDenied):
        review_queue(s, None)  # type: ignore[arg-type]


def test_users_commands(db_url):
    runner = CliRunner()
    r = runner.invoke(app, ["users", "add", "zhang", "--role", "compliance", "--team", "A", "--password-stdin",
                            "--db", db_url], input="a-long-password\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "zhang", "--role", "admin", "--password-stdin", "--db", db_url],
                      input="a-long-password\n")
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["users", "list", "--db", db_url])
    assert "zhang" in r.output and "compliance" in r.output and "a-long-password" not in r.output
    r = runner.invoke(app, ["users", "demo", "--json", "--db", db_url])
    assert r.exit_code == 0, r.output
    accounts = json.loads(r.output)
    assert sorted(a["role"] for a in accounts) == ["admin", "agent", "compliance", "manager", "reviewer"]
    with session_scope(db_url) as s:
        for a in accounts:
            agent_id = "DEMO-A01" if a["role"] == "agent" else None  # the demo agent sees the demo agent's calls
            assert authenticate(s, a["name"], a["password"]) == Principal(a["name"], a["role"], "demo", agent_id=agent_id)


def test_demo_users_only_when_asked(db_url):
    seed(db_url)
    with session_scope(db_url) as s:
        names = set(s.scalars(select(User.name)))
    assert not any(n.startswith("demo-") for n in names)
    with session_scope(db_url) as s:
        first = {a.name: a.password for a in create_demo_users(s)}
    with session_scope(db_url) as s:
        second = {a.name: a.password for a in create_demo_users(s)}
        assert authenticate(s, "demo-admin", second["demo-admin"]) is not None
        assert first["demo-admin"] == second["demo-admin"] or authenticate(s, "demo-admin", first["demo-admin"]) is None


def test_seeded_passwords_work(db_url):
    seed(db_url)
    with session_scope(db_url) as s:
        for role, pw in PASSWORDS.items():
            assert authenticate(s, role, pw).role == role
