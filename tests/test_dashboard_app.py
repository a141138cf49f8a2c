"""The dashboard through Streamlit's AppTest: sign-in, every page for every role, masking, verdicts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.dashboard_seed import PASSWORDS, PHONE, seed

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from qa.data import load as load_data  # noqa: E402
from qa.store.db import session_scope  # noqa: E402
from qa.store.models import AuditEvent, Verdict  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "qa" / "dashboard" / "app.py"
ALL_PAGES = ("overview", "queue", "call", "compliance", "wellbeing", "audit")
TITLES = {"overview": "Overview", "queue": "Review queue", "call": "Call detail", "compliance": "Compliance",
          "wellbeing": "Agent wellbeing", "audit": "Audit log"}
ALLOWED = {
    "reviewer": {"overview", "queue", "call"},
    "compliance": {"overview", "queue", "call", "compliance", "audit"},
    "manager": {"overview", "queue", "call", "wellbeing"},
    "admin": set(ALL_PAGES),
}


@pytest.fixture
def seeded(db_url, tmp_path, monkeypatch):
    data = seed(db_url, tmp_path / "audio")
    monkeypatch.setenv("CALLQA_DB_URL", db_url)
    monkeypatch.setenv("CALLQA_UI_LANGUAGE", "en")
    return data


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def sign_in(role: str, password: str | None = None) -> AppTest:
    at = _app().run()
    at.text_input(key="sign_in_name").input(role)
    at.text_input(key="sign_in_password").input(password or PASSWORDS[role])
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    return at


def page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [e.value for e in at.info]
    parts += [c.value for c in at.caption] + [t.value for t in at.title] + [s.value for s in at.subheader]
    parts += [str(m.value) for m in at.metric]
    return "\n".join(str(p) for p in parts)


def opens(at: AppTest, page: str) -> bool:
    """Whether asking for `page` shows it (an unregistered page is refused or falls back to the default)."""
    try:
        at.switch_page(f"views/{page}.py").run()
    except ValueError:
        return False
    assert not at.exception
    return TITLES[page] in [t.value for t in at.title]


def open_call(at: AppTest, call_id: int) -> AppTest:
    at.session_state["call_id"] = call_id
    return at.switch_page("views/call.py").run()


def test_sign_in_is_required(seeded):
    at = _app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in to callqa"]
    assert "Calls processed" not in page_text(at)
    assert not opens(at, "overview")  # no data page is registered before sign-in
    assert "Calls processed" not in page_text(at)


def test_view_script_refuses_without_sign_in(seeded):
    at = AppTest.from_file(str(APP.parent / "views" / "overview.py"), default_timeout=60).run()
    assert at.error and "sign-in" in at.error[0].value
    assert "Calls processed" not in page_text(at)


def test_wrong_password_is_refused_and_audited(seeded):
    at = sign_in("reviewer", "not-the-password")
    assert at.error and "Wrong user name or password" in at.error[0].value
    assert "user" not in at.session_state
    with session_scope(seeded.url) as s:
        actions = [e.action for e in s.scalars(select(AuditEvent))]
    assert "sign_in_failed" in actions


@pytest.mark.parametrize("role", list(ALLOWED))
def test_every_allowed_page_renders_and_others_are_not_registered(seeded, role):
    at = sign_in(role)
    assert at.session_state["user"].role == role
    for page in ALL_PAGES:
        if page in ALLOWED[role]:
            if page == "call":
                open_call(at, seeded.riskiest)
                expected = f"Call {seeded.riskiest}"
            else:
                at.switch_page(f"views/{page}.py").run()
                expected = TITLES[page]
            assert not at.exception, (role, page, at.exception)
            assert not at.error, (role, page, [e.value for e in at.error])
            assert expected in [t.value for t in at.title], (role, page)
        else:
            assert not opens(at, page), (role, page)


def test_overview_shows_figures(seeded):
    at = sign_in("reviewer").switch_page("views/overview.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls processed"] == "3"
    assert metrics["Flagged calls"] == "2"


def test_reviewer_cannot_open_wellbeing_even_by_running_its_script(seeded):
    at = AppTest.from_file(str(APP.parent / "views" / "wellbeing.py"), default_timeout=60)
    from qa.access.auth import Principal

    at.session_state["user"] = Principal("reviewer", "reviewer")
    at.session_state["last_seen"] = time.time()
    at.run()
    assert at.error and "may not open this page" in at.error[0].value
    assert "Wellbeing index" not in page_text(at)


def test_pii_masked_for_reviewer_shown_to_compliance(seeded):
    reviewer = open_call(sign_in("reviewer"), seeded.riskiest)
    text = page_text(reviewer)
    assert "是我，我的电话是" in text and PHONE not in text
    assert "masked for your role" in text
    compliance = open_call(sign_in("compliance"), seeded.riskiest)
    assert PHONE in page_text(compliance)


def test_verdict_saved_on_call_page_is_stored_and_audited(seeded):
    at = open_call(sign_in("reviewer"), seeded.riskiest)
    fid = seeded.threat_finding
    at.radio(key=f"vchoice_{fid}").set_value("escalate")
    at.text_input(key=f"vnote_{fid}").input("agent threatened family")
    form_button = next(b for b in at.button if b.label == "Save verdict" and f"verdict_{fid}" in b.form_id)
    form_button.click().run()
    assert not at.exception
    assert "Verdict saved." in [s.value for s in at.success]
    with session_scope(seeded.url) as s:
        verdicts = list(s.scalars(select(Verdict).where(Verdict.finding_id == fid)))
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "verdict")))
        opened = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "open_call")))
    assert [(v.user, v.verdict, v.note) for v in verdicts] == [("reviewer", "escalate", "agent threatened family")]
    assert [(e.user, e.call_id, e.detail["finding_id"]) for e in events] == [("reviewer", seeded.riskiest, fid)]
    assert len(opened) == 1  # reruns do not log the call as opened again
    assert "escalate · reviewer" in page_text(at)


def test_manager_reads_verdicts_but_cannot_set_them(seeded):
    at = open_call(sign_in("manager"), seeded.riskiest)
    assert not [b for b in at.button if b.label == "Save verdict"]
    assert "Coaching notes" in page_text(at)


def test_coaching_note_and_audio_play_are_audited(seeded):
    at = open_call(sign_in("manager"), seeded.riskiest)
    at.button(key=f"play_{seeded.threat_finding}").click().run()
    assert not at.exception
    assert at.get("audio"), "the player appears after play is clicked"
    at.text_area(key="coaching_text").input("Never mention the family; use the scripted reminder.")
    next(b for b in at.button if b.label == "Save note").click().run()
    assert "Never mention the family" in page_text(at)
    with session_scope(seeded.url) as s:
        actions = [(e.action, e.call_id) for e in s.scalars(select(AuditEvent))]
    assert ("play_audio", seeded.riskiest) in actions and ("coaching_note", seeded.riskiest) in actions


def test_queue_lists_riskiest_first_and_opens_call(seeded):
    at = sign_in("reviewer").switch_page("views/queue.py").run()
    df = at.dataframe[0].value
    assert list(df["Call"]) == [seeded.riskiest, seeded.english]  # the clean call is below the review threshold
    assert list(df["Labels"].iloc[0]) == ["threat", "privacy"]
    at.toggle(key="queue_all").set_value(True).run()
    assert list(at.dataframe[0].value["Call"]) == [seeded.riskiest, seeded.english, seeded.clean]
    at.toggle(key="queue_all").set_value(False).run()
    at.text_input(key="f_search").input("idiots").run()
    assert list(at.dataframe[0].value["Call"]) == [seeded.english]
    at.text_input(key="f_search").input("").run()
    at.button(key="queue_open").click().run()
    assert not at.exception
    assert f"Call {seeded.riskiest}" in [t.value for t in at.title]


def test_reviewer_cannot_search_for_phone_numbers(seeded):
    at = sign_in("reviewer").switch_page("views/queue.py").run()
    at.text_input(key="f_search").input("1380013").run()
    assert at.error and "Searching for numbers" in at.error[0].value


def test_compliance_page_lists_escalation_and_exports(seeded):
    at = open_call(sign_in("reviewer"), seeded.riskiest)
    fid = seeded.threat_finding
    at.radio(key=f"vchoice_{fid}").set_value("escalate")
    next(b for b in at.button if b.label == "Save verdict" and f"verdict_{fid}" in b.form_id).click().run()
    comp = sign_in("compliance").switch_page("views/compliance.py").run()
    assert not comp.exception
    assert list(comp.dataframe[0].value["Call"]) == [seeded.riskiest]
    comp.button(key="case_prepare").click().run()
    assert not comp.exception
    html_doc = comp.session_state["case_export"][1]
    assert PHONE in html_doc and "escalate" in html_doc and "play_audio" not in html_doc
    assert "open_call" in html_doc and "verdict" in html_doc


def test_wellbeing_for_manager_shows_own_team(seeded):
    at = sign_in("manager").switch_page("views/wellbeing.py").run()
    assert not at.exception
    assert at.selectbox(key="wb_agent").options == ["a1", "a2"]  # team A only; b1 is team B
    text = page_text(at)
    assert "Alerts with evidence" in text


def test_audit_page_lists_sign_ins(seeded):
    at = sign_in("admin").switch_page("views/audit.py").run()
    df = at.dataframe[0].value
    assert "sign_in" in set(df["Action"])


def test_session_expires_after_inactivity(seeded, monkeypatch):
    monkeypatch.setenv("CALLQA_SESSION_TIMEOUT_MIN", "1")
    at = sign_in("reviewer")
    at.session_state["last_seen"] = time.time() - 120
    at.run()
    assert "user" not in at.session_state
    assert any("session expired" in w.value for w in at.warning)
    assert not opens(at, "overview")


def test_deactivated_user_is_signed_out_on_next_click(seeded):
    at = sign_in("reviewer")
    from qa.access.users import set_active

    with session_scope(seeded.url) as s:
        set_active(s, "reviewer", False)
    at.run()
    assert "user" not in at.session_state


def test_chinese_interface(seeded, monkeypatch):
    monkeypatch.setenv("CALLQA_UI_LANGUAGE", "zh")
    at = _app().run()
    assert [t.value for t in at.title] == ["登录 callqa"]
    at.sidebar.radio[0].set_value("en").run()
    assert [t.value for t in at.title] == ["Sign in to callqa"]


def test_every_ui_string_exists_in_both_languages():
    import re

    import yaml

    strings = load_data("i18n")
    assert all(set(v) == {"en", "zh"} and v["en"] and v["zh"] for v in strings.values())
    used = set()
    for path in [APP, APP.parent / "ui.py", *(APP.parent / "views").glob("*.py")]:
        used |= set(re.findall(r"\bt\(\"([a-z_]+)\"(?! \+)", path.read_text(encoding="utf-8")))
    assert used and not used - set(strings), used - set(strings)


def test_dashboard_loads_no_model_libraries():
    import subprocess
    import sys

    code = ("import sys; from qa.dashboard import ui; import altair, pandas; "
            "import qa.views.dashboard, qa.views.export, qa.access.auth, qa.access.redact, qa.cli.admin; "
            "bad = [m for m in ('torch', 'faster_whisper', 'transformers', 'ctranslate2', 'qa.asr.engine') if m in sys.modules]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=APP.parents[1], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
