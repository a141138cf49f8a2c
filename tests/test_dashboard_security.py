"""The dashboard under attack: stored Markdown in notes, a 100 KB note, bad query parameters, refusals audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qa.access.limits import MAX_NOTE_CHARS
from qa.store.db import session_scope
from qa.store.models import AuditEvent
from tests.dashboard_seed import seed
from tests.test_dashboard_app import open_call, page_text, sign_in

pytest.importorskip("streamlit")

@pytest.fixture
def seeded(db_url, tmp_path, monkeypatch):
    data = seed(db_url, tmp_path / "audio")
    monkeypatch.setenv("CALLQA_DB_URL", db_url)
    monkeypatch.setenv("CALLQA_UI_LANGUAGE", "en")
    return data


TRACKER = "![pixel](http://203.0.113.9/pixel.png) [Session expired, click here](http://203.0.113.9/login) <img src=x>"


def _save_note(at, text: str):  # type: ignore[no-untyped-def]
    at.text_area(key="coaching_text").input(text)
    next(b for b in at.button if b.label == "Save note").click().run()
    assert not at.exception, at.exception
    return at


def test_markdown_and_html_in_a_note_stay_inert_text(seeded):
    _save_note(open_call(sign_in("reviewer"), seeded.riskiest), TRACKER)
    at = open_call(sign_in("admin"), seeded.riskiest)
    assert not at.exception
    # the note is shown as typed, as a plain-text element; no Markdown or HTML element carries it, so the
    # browser gets no image to load and no link to click
    assert TRACKER in [t.value for t in at.text]
    rendered = "\n".join(str(m.value) for m in [*at.markdown, *at.caption])
    assert "203.0.113.9" not in rendered and "<img" not in rendered


def test_a_100kb_note_is_refused_with_the_limit_and_a_full_size_note_renders(seeded):
    at = _save_note(open_call(sign_in("reviewer"), seeded.riskiest), "长" * 100_000)
    assert at.error and f"{MAX_NOTE_CHARS:,}" in at.error[0].value
    at = _save_note(at, "x" * MAX_NOTE_CHARS)
    assert any(t.value == "x" * MAX_NOTE_CHARS for t in at.text)


def test_a_bad_call_parameter_gives_a_plain_message_and_is_forgotten(seeded):
    at = sign_in("reviewer")
    at.query_params["call"] = "99999999999999999999"
    at.switch_page("views/call.py").run()
    assert not at.exception
    assert at.warning and "not valid" in at.warning[0].value
    assert "call" not in at.query_params and "call_id" not in at.session_state
    assert "Traceback" not in page_text(at) and "/qa/" not in page_text(at)


def test_refused_search_and_denied_action_are_audited_with_a_session_id(seeded):
    at = sign_in("reviewer").switch_page("views/queue.py").run()
    at.text_input(key="f_search").input("身份证号是四").run()
    assert at.error and "Searching for numbers" in at.error[0].value
    at.text_input(key="f_search").input("four five two zero").run()
    assert at.error
    with session_scope(seeded.url) as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "search_refused")))
        assert len(rows) == 2 and all(r.user == "reviewer" and r.session_id for r in rows)
        assert "四" not in str([r.detail for r in rows]) and "four" not in str([r.detail for r in rows])
        signed = s.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in")).all()[-1]
        assert signed.session_id == rows[0].session_id  # one id for the whole browser session


def test_a_reviewer_cannot_close_a_compliance_escalation_on_the_call_page(seeded):
    from qa.access.auth import Principal
    from qa.views.call import save_verdict
    from qa.views.compliance import compliance_view

    with session_scope(seeded.url) as s:
        save_verdict(s, Principal("compliance", "compliance"), seeded.threat_finding, "escalate")
    at = open_call(sign_in("reviewer"), seeded.riskiest)
    at.radio(key=f"vchoice_{seeded.threat_finding}").set_value("dismiss")
    fid = seeded.threat_finding
    next(b for b in at.button if b.label == "Save verdict" and f"verdict_{fid}" in b.form_id).click().run()
    assert at.error and "may not" in at.error[0].value
    with session_scope(seeded.url) as s:
        assert [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "denied"))] == ["denied"]
        assert compliance_view(s, Principal("compliance", "compliance")).open_cases
