"""The holes an attacker and a curious insider found, each closed: audit tampering, sign-in guessing,
verdict authority, team scoping, unbounded notes, retention and erasure."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from qa.access import audit
from qa.access.auth import (
    FREE_FAILURES,
    LOCK_FAILURES,
    LOCK_MINUTES,
    PermissionDenied,
    Principal,
    reload_principal,
    sign_in,
    throttle_wait,
)
from qa.access.limits import MAX_NOTE_CHARS, InputRejected
from qa.access.users import add_user, set_active, set_password
from qa.cli import app
from qa.store.db import session_scope
from qa.store.models import (
    AuditEvent,
    Call,
    CoachingNote,
    FindingRow,
    SegmentRow,
    SignInThrottle,
    Verdict,
)
from qa.views.call import add_coaching_note, audio_for_playback, call_detail, record_open_call, save_verdict
from qa.views.common import Filters, NotFound, filter_options
from qa.views.compliance import compliance_view
from qa.views.overview import overview
from qa.views.queue import review_queue, riskiest_call_id
from qa.views.wellbeing import wellbeing_view
from tests.dashboard_seed import PASSWORDS, PHONE, seed

REVIEWER = Principal("reviewer", "reviewer")
COMPLIANCE = Principal("compliance", "compliance")
MANAGER_A = Principal("manager", "manager", "A")
ADMIN = Principal("admin", "admin")
runner = CliRunner()


# ------------------------------------------------------------------ tamper-evident audit log


def _verify(db_url: str) -> tuple[int, str]:
    r = runner.invoke(app, ["audit", "verify", "--db", db_url])
    return r.exit_code, r.output


def _unlock(s) -> None:  # type: ignore[no-untyped-def]
    """What an attacker with database access does first: take off the append-only triggers."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    else:
        s.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        s.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))


def _log(db_url: str, n: int = 5) -> list[int]:
    with session_scope(db_url) as s:
        return [audit.record(s, "li", "open_call", call_id=i, detail={"i": i}, session_id="sess-1").id
                for i in range(n)]


def test_audit_rows_are_chained_carry_a_session_and_cannot_be_updated(db_url):
    ids = _log(db_url)
    assert _verify(db_url)[0] == 0
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5] and all(r.session_id == "sess-1" for r in rows)
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    with pytest.raises(Exception, match="append-only"), session_scope(db_url) as s:
        s.execute(text('UPDATE audit_log SET "user" = \'x\' WHERE id = :i'), {"i": ids[0]})
    with pytest.raises(Exception, match="append-only"), session_scope(db_url) as s:
        s.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[0]})


def test_audit_verify_names_a_changed_row(db_url):
    ids = _log(db_url)
    with session_scope(db_url) as s:
        _unlock(s)
        s.execute(text('UPDATE audit_log SET "user" = \'someone-else\' WHERE id = :i'), {"i": ids[2]})
    code, out = _verify(db_url)
    assert code == 1 and f"row {ids[2]}" in out and "changed" in out


def test_audit_verify_names_the_row_after_a_deleted_one(db_url):
    ids = _log(db_url)
    with session_scope(db_url) as s:
        _unlock(s)
        s.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[1]})
    code, out = _verify(db_url)
    assert code == 1 and f"row {ids[2]}" in out and "deleted" in out


def test_audit_verify_notices_the_last_row_deleted(db_url):
    ids = _log(db_url)
    with session_scope(db_url) as s:
        _unlock(s)
        s.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[-1]})
    code, out = _verify(db_url)
    assert code == 1 and "last rows were deleted" in out


def test_audit_verify_names_an_appended_forged_row(db_url):
    ids = _log(db_url)
    with session_scope(db_url) as s:  # an attacker appends a row, hashing it as well as they can without the key
        last = s.get(AuditEvent, ids[-1])
        forged = hashlib.sha256(f"{last.hash}ghost".encode()).hexdigest()
        s.execute(text('INSERT INTO audit_log (id, "user", action, call_id, at, seq, prev_hash, hash, session_id) '
                       "VALUES (:id, 'ghost', 'export', 1, :at, :seq, :prev, :hash, 'x')"),
                  {"id": ids[-1] + 1, "at": last.at, "seq": last.seq + 1, "prev": last.hash, "hash": forged})
        s.execute(text("UPDATE audit_head SET seq = seq + 1, hash = :h"), {"h": forged})
    code, out = _verify(db_url)
    assert code == 1 and f"row {ids[-1] + 1}" in out


def test_audit_verify_names_a_row_inserted_without_a_chain_position(db_url):
    _log(db_url)
    with session_scope(db_url) as s:
        s.execute(text('INSERT INTO audit_log ("user", action, at) VALUES (\'ghost\', \'export\', :at)'),
                  {"at": datetime.now(UTC)})
    code, out = _verify(db_url)
    assert code == 1 and "inserted" in out


# ------------------------------------------------------------------ sign-in


def test_sign_in_slows_down_then_locks_and_never_stores_a_typed_password(db_url):
    with session_scope(db_url) as s:
        add_user(s, "li", "reviewer", "s3cret-pass")
    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with session_scope(db_url) as s:
        now = t0
        for _ in range(FREE_FAILURES - 1):
            assert sign_in(s, "li", "wrong", now=now) is None and throttle_wait(s, "li", now) == 0
        sign_in(s, "li", "wrong", now=now)
        delays = []
        for _ in range(LOCK_FAILURES - FREE_FAILURES - 1):
            delays.append(throttle_wait(s, "li", now))
            # within the delay even the right password is refused, without looking at it
            assert sign_in(s, "li", "s3cret-pass", now=now) is None
            now += timedelta(seconds=delays[-1])
            sign_in(s, "li", "wrong", now=now)
        assert delays == sorted(delays) and delays[0] == 1 and delays[-1] > delays[0]  # a growing delay
        now += timedelta(seconds=throttle_wait(s, "li", now))
        sign_in(s, "li", "wrong", now=now)  # the LOCK_FAILURES-th failure locks the name
        assert throttle_wait(s, "li", now) == pytest.approx(LOCK_MINUTES * 60)
        assert sign_in(s, "li", "s3cret-pass", now=now + timedelta(minutes=LOCK_MINUTES - 1)) is None
        assert sign_in(s, "li", "s3cret-pass", now=now + timedelta(minutes=LOCK_MINUTES + 1)) == Principal("li", "reviewer")
        assert s.scalar(select(func.count(SignInThrottle.id))) == 0  # a success clears the counter
        # a password typed into the name box is not stored: the log says "unknown"
        sign_in(s, "Tr0ub4dor&3-my-password", "x")
        actions = [(e.user, e.action) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert ("li", "sign_in_locked") in actions and ("unknown", "sign_in_failed") == actions[-1]
        dump = json.dumps([[e.user, e.detail] for e in s.scalars(select(AuditEvent))])
        assert "Tr0ub4dor" not in dump
        assert "Tr0ub4dor" not in json.dumps([t.name_hash for t in s.scalars(select(SignInThrottle))])


def test_password_policy_and_sessions_end_on_password_change_or_deactivation(db_url):
    with session_scope(db_url) as s:
        for weak in ("short1", "onlyletterslong", "1234567890", "password123"):
            with pytest.raises(ValueError):
                add_user(s, f"u{len(weak)}{weak[:3]}", "reviewer", weak)
        add_user(s, "li", "reviewer", "s3cret-pass")
        signed_in = sign_in(s, "li", "s3cret-pass")
        assert reload_principal(s, "li", signed_in.session_epoch) is not None
        set_password(s, "li", "n3w-secret-pass")
        assert reload_principal(s, "li", signed_in.session_epoch) is None  # the old session is over
        again = sign_in(s, "li", "n3w-secret-pass")
        set_active(s, "li", False, by="admin")
        assert reload_principal(s, "li", again.session_epoch) is None
        assert [e.action for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("password_changed", "user_deactivated"))))] == ["password_changed", "user_deactivated"]


# ------------------------------------------------------------------ verdict authority


def test_a_reviewer_cannot_close_a_compliance_escalation(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        save_verdict(s, REVIEWER, d.threat_finding, "confirm")
        save_verdict(s, COMPLIANCE, d.threat_finding, "escalate", "case opened")
    with pytest.raises(PermissionDenied), session_scope(db_url) as s:
        save_verdict(s, REVIEWER, d.threat_finding, "dismiss")
    with session_scope(db_url) as s:
        view = compliance_view(s, COMPLIANCE)
        assert [c.call_id for c in view.open_cases] == [d.riskiest]
        # a reviewer's own escalation stays closable by reviewers
        save_verdict(s, REVIEWER, d.insult_finding, "escalate")
        save_verdict(s, REVIEWER, d.insult_finding, "dismiss")
        # compliance closes its case; the history keeps every verdict
        save_verdict(s, COMPLIANCE, d.threat_finding, "dismiss", "resolved")
        assert compliance_view(s, COMPLIANCE).open_cases == []
        history = [(v.user, v.verdict) for v in s.scalars(select(Verdict).where(
            Verdict.finding_id == d.threat_finding).order_by(Verdict.id))]
    assert history == [("reviewer", "confirm"), ("compliance", "escalate"), ("compliance", "dismiss")]


def test_legacy_reviewer_verdict_after_an_escalation_does_not_close_the_case(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        save_verdict(s, COMPLIANCE, d.threat_finding, "escalate")
        s.add(Verdict(finding_id=d.threat_finding, user="reviewer", role="reviewer", verdict="dismiss"))
    with session_scope(db_url) as s:
        assert [c.call_id for c in compliance_view(s, COMPLIANCE).open_cases] == [d.riskiest]


# ------------------------------------------------------------------ team scoping


def test_a_manager_of_team_a_never_sees_team_b(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        team_of = {c.id: c.team for c in s.scalars(select(Call))}
        b_calls = {cid for cid, t in team_of.items() if t == "B"}
        assert b_calls and d.english in b_calls
        opts = filter_options(s, MANAGER_A)
        assert opts.teams == ["A"] and "b1" not in opts.agents
        ov = overview(s, MANAGER_A)
        assert ov.processed == sum(1 for c in s.scalars(select(Call)) if c.team == "A" and c.status == "done")
        page = review_queue(s, MANAGER_A, Filters(teams=("A", "B")))
        assert page.rows and not {r.call_id for r in page.rows} & b_calls
        assert review_queue(s, MANAGER_A, Filters(search="IDIOTS")).rows == []  # a team-B transcript
        assert riskiest_call_id(s, MANAGER_A) not in b_calls
        for fn, args in ((call_detail, (d.english,)), (record_open_call, (d.english,)),
                         (audio_for_playback, (d.english,)), (add_coaching_note, (d.english, "note"))):
            with pytest.raises(NotFound):
                fn(s, MANAGER_A, *args)
        assert set(wellbeing_view(s, MANAGER_A).agents) <= {"a1", "a2"}
        # several teams: A and B; compliance sees all
        both = replace(MANAGER_A, teams=("A", "B"))
        assert {r.call_id for r in review_queue(s, both, Filters()).rows} >= b_calls
        assert {r.call_id for r in review_queue(s, COMPLIANCE, Filters()).rows} >= b_calls


def test_users_in_several_teams(db_url):
    with session_scope(db_url) as s:
        add_user(s, "zhao", "manager", "s3cret-pass", team="A,B")
        assert sign_in(s, "zhao", "s3cret-pass").scope_teams == ("A", "B")


# ------------------------------------------------------------------ bounded notes


def test_notes_beyond_the_limit_are_refused_with_a_clear_message(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        with pytest.raises(InputRejected, match=f"{MAX_NOTE_CHARS:,}"):
            add_coaching_note(s, REVIEWER, d.riskiest, "x" * 100_000)
        with pytest.raises(InputRejected):
            save_verdict(s, REVIEWER, d.threat_finding, "confirm", "y" * (MAX_NOTE_CHARS + 1))
        add_coaching_note(s, REVIEWER, d.riskiest, "z" * MAX_NOTE_CHARS)


# ------------------------------------------------------------------ retention and erasure


def _counts(db_url: str) -> dict[str, int]:
    with session_scope(db_url) as s:
        return {name: s.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("calls", Call), ("segments", SegmentRow), ("findings", FindingRow),
                                    ("notes", CoachingNote))}


def test_erase_an_account_leaves_a_tombstone_and_refuses_an_open_case(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CALLQA_HOME", str(tmp_path / "home"))
    from qa.config import get_settings

    d = seed(db_url)
    with session_scope(db_url) as s:
        account = s.get(Call, d.riskiest).account_id
        add_coaching_note(s, REVIEWER, d.riskiest, f"call back on {PHONE}")
        save_verdict(s, COMPLIANCE, d.threat_finding, "escalate")
    derived = get_settings().derived_dir / str(d.riskiest)
    derived.mkdir(parents=True)
    (derived / "redacted.wav").write_bytes(b"RIFF")
    before = _counts(db_url)

    r = runner.invoke(app, ["erase", "--account", account, "--json", "--db", db_url])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["calls"] == 0 and out["refused_open_case_calls"] == [d.riskiest]
    assert _counts(db_url) == before

    r = runner.invoke(app, ["erase", "--account", account, "--dry-run", "--json", "--force-as", "admin",
                            "--password-stdin", "--db", db_url], input=PASSWORDS["admin"] + "\n")
    dry = json.loads(r.output)
    assert dry["calls"] == 1 and dry["segments"] >= 2 and dry["findings"] >= 2 and dry["notes"] == 1
    assert dry["files"] == 1 and _counts(db_url) == before

    r = runner.invoke(app, ["erase", "--account", account, "--json", "--force-as", "reviewer", "--password-stdin",
                            "--db", db_url], input=PASSWORDS["reviewer"] + "\n")
    assert r.exit_code == 2  # only an admin may force

    r = runner.invoke(app, ["erase", "--account", account, "--json", "--force-as", "admin", "--password-stdin",
                            "--db", db_url], input=PASSWORDS["admin"] + "\n")
    done = json.loads(r.output)
    after = _counts(db_url)
    assert done["calls"] == 1 and after["calls"] == before["calls"] - 1
    assert after["segments"] == before["segments"] - done["segments"]
    assert after["findings"] == before["findings"] - done["findings"] and after["notes"] == 0
    assert not derived.exists()
    with session_scope(db_url) as s:
        tomb = s.scalars(select(AuditEvent).where(AuditEvent.action == "erase").order_by(AuditEvent.id)).all()[-1]
        assert tomb.user == "admin" and tomb.detail["calls"] == 1 and tomb.detail["forced"] is True
        blob = json.dumps([e.detail for e in s.scalars(select(AuditEvent))], ensure_ascii=False)
        assert account not in blob and PHONE not in blob  # counts, never content
    assert _verify(db_url)[0] == 0


def test_purge_keeps_the_minimum_retention_and_removes_older_calls(db_url):
    d = seed(db_url)
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        old = s.get(Call, d.clean)  # cn: kept at least 5 years
        old.started_at = now - timedelta(days=365 * 6)
        young = s.get(Call, d.english)
        young.started_at, young.jurisdiction = now - timedelta(days=365 * 2), "cn"
    r = runner.invoke(app, ["purge", "--before", (now - timedelta(days=365)).date().isoformat(), "--json",
                            "--db", db_url])
    out = json.loads(r.output)
    assert r.exit_code == 0 and out["calls"] == 1 and out["kept_retention_by_jurisdiction"]["cn"] >= 1
    with session_scope(db_url) as s:
        assert s.get(Call, d.clean) is None and s.get(Call, d.english) is not None
        tomb = s.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
        assert tomb.detail["calls"] == 1 and tomb.detail["kept_retention"] == out["kept_retention_by_jurisdiction"]["cn"]
    r = runner.invoke(app, ["purge", "--before", "yesterday", "--db", db_url])
    assert r.exit_code == 2 and "2021-01-31" in r.output


# ------------------------------------------------------------------ safe defaults


def test_database_file_and_folder_are_owner_only(tmp_path):
    import stat

    url = f"sqlite:///{tmp_path / 'new' / 'callqa.db'}"
    with session_scope(url) as s:
        audit.record(s, "li", "sign_in")
    for p in (tmp_path / "new" / "callqa.db", tmp_path / "new" / "callqa.db-wal"):
        if p.exists():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


def test_a_huge_call_id_is_a_plain_not_found(db_url):
    seed(db_url)
    with session_scope(db_url) as s, pytest.raises(NotFound):
        call_detail(s, COMPLIANCE, 99999999999999999999)


def test_concurrent_appenders_never_fork_the_chain(db_url):
    import threading

    _log(db_url, 1)
    errors: list[BaseException] = []

    def append(who: str) -> None:
        try:
            for i in range(25):
                with session_scope(db_url) as s:
                    audit.record(s, who, "open_call", call_id=i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(f"u{k}",)) for k in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    with session_scope(db_url) as s:
        assert sorted(s.scalars(select(AuditEvent.seq))) == list(range(1, 77))
    assert _verify(db_url)[0] == 0
