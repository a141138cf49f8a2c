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
    parts += [str(m.value) for m in at.metric] + [x.value for x in at.text]  # notes are plain text
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
    assert any("data:audio/" in h.proto.body for h in at.get("html")), "the player appears after play is clicked"
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
    assert "Why a1's index is 50" in text  # the first agent is chosen: why the index is what it is
    assert "abuse received from customers (4): −24" in text and "hostile calls in a row (3): −10" in text


def test_wellbeing_reasons_read_in_chinese(seeded, monkeypatch):
    monkeypatch.setenv("CALLQA_UI_LANGUAGE", "zh")
    at = sign_in("manager").switch_page("views/wellbeing.py").run()
    assert not at.exception
    text = page_text(at)
    assert "a1 的指数为何是 50" in text and "受到客户辱骂或威胁 (4): −24" in text
    assert "abuse received" not in text


def test_audit_page_lists_sign_ins(seeded):
    at = sign_in("admin").switch_page("views/audit.py").run()
    df = at.dataframe[0].value
    assert "sign in" in set(df["Action"])  # the action's name from qa/data/i18n.yaml


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
            "import qa.views.overview, qa.views.queue, qa.views.call, qa.views.compliance, qa.views.wellbeing, "
            "qa.views.audit, qa.views.export, qa.access.auth, qa.access.redact, qa.cli.admin; "
            "bad = [m for m in ('torch', 'faster_whisper', 'transformers', 'ctranslate2', 'qa.asr.engine') if m in sys.modules]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=APP.parents[1], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_dashboard_command_stops_on_sigterm_and_frees_its_port(tmp_path):
    """`callqa dashboard` becomes the Streamlit server: a service manager's SIGTERM frees the port."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    callqa = shutil.which("callqa", path=str(Path(sys.executable).parent)) or "callqa"
    env = {**os.environ, "PYTHONPATH": str(APP.parents[2])}
    proc = subprocess.Popen([callqa, "dashboard", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'd.db'}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "the dashboard exited before serving"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the dashboard never opened its port"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        time.sleep(1.0)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))  # nothing (no orphaned server) holds the port any more
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of this test's process group
        except ProcessLookupError:
            pass


SLUG = r"\b(?:threat|harassment|privacy|stress|compliance)/[a-z_]+"


def all_text(at: AppTest) -> str:
    """Everything a page shows: markdown, captions, metrics, table cells and headers, expander titles."""
    parts = [page_text(at)] + [e.label for e in at.expander] + [str(s.options) for s in at.selectbox]
    for df in at.dataframe:
        parts += [str(c) for c in df.value.columns] + [str(v) for v in df.value.to_numpy().ravel().tolist()]
    return "\n".join(parts)


def test_chinese_pages_show_no_english_subtypes_or_explanations(seeded, monkeypatch):
    """Every page for admin in Chinese: subtypes, explanations, reasons and sources come out in Chinese."""
    import re

    from qa.store.models import FindingRow

    with session_scope(seeded.url) as s:
        missing = FindingRow(call_id=seeded.riskiest, label="compliance/missing_disclosure",
                             subtype="compliance/missing_disclosure/recording_notice", speaker="agent", start=0.0,
                             end=4.0, span="", score=0.6, source="rulepack:cn/missing_disclosure",
                             explanation="GB/T 45251-2025: the call is recorded; no recording notice in the first 60 s",
                             details={"explanation_zh": "GB/T 45251-2025：应告知通话录音；前60秒未告知录音"})
        s.add(missing)
        s.flush()
        s.add(Verdict(finding_id=missing.id, user="compliance", verdict="escalate"))
        english = [f.explanation for f in s.scalars(select(FindingRow))]
    monkeypatch.setenv("CALLQA_UI_LANGUAGE", "zh")
    at = sign_in("admin")
    shown = {}
    for page in ("call", *(p for p in ALL_PAGES if p != "call")):
        if page == "call":
            open_call(at, seeded.riskiest)
        else:
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, at.exception)
        shown[page] = all_text(at)
        assert not re.findall(SLUG, shown[page]), (page, re.findall(SLUG, shown[page]))
        assert not [e for e in english if e in shown[page]], page
    assert "未告知通话录音" in shown["call"] and "前60秒未告知录音" in shown["call"]
    assert "暴力威胁" in shown["call"] and "坐席威胁客户" in shown["call"]  # subtype name and score reason
    assert "未告知通话录音" in shown["compliance"] and "暴力威胁" in shown["overview"]


def test_every_subtype_the_pipeline_writes_has_a_name_in_both_languages():
    import re

    code = "\n".join(p.read_text(encoding="utf-8") for p in (APP.parents[1]).rglob("*")
                     if p.suffix in (".py", ".yaml") and "i18n" not in p.name)
    slugs = set(re.findall(r"\b(?:threat|harassment|privacy|stress|compliance)/[a-z_]+(?:/[a-z_]+)?", code))
    slugs -= {"threat/harassment/privacy", "compliance/packs", "compliance/matching", "compliance/rules"}
    for pack in ("cn", "us"):
        for rule, spec in load_data(f"packs/{pack}")["rules"].items():
            slugs |= {f"compliance/{rule}/{el}" for el in (spec.get("elements") or {})}
    strings = load_data("i18n")
    assert slugs and not {s for s in slugs if f"subtype:{s}" not in strings}, \
        sorted(s for s in slugs if f"subtype:{s}" not in strings)
