"""The scorecard pages through Streamlit's AppTest: each role sees its pages; an agent's scorecard page lists
only their calls; a reviewer's override and an agent's dispute go through the page; a lead decides it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.scorecard_seed import PASSWORD, seed  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "qa" / "dashboard" / "app.py"
PAGES = {"scorecards": "Scorecards", "disputes": "Disputes", "calibration": "Calibration", "coaching": "Coaching",
         "qa_reports": "QA reports"}
ALLOWED = {"dana": {"scorecards", "coaching"}, "rita": {"scorecards", "calibration", "coaching", "qa_reports"},
           "lena": set(PAGES)}


@pytest.fixture
def seeded(db_url, monkeypatch):  # type: ignore[no-untyped-def]
    data = seed(db_url)
    monkeypatch.setenv("CALLQA_DB_URL", db_url)
    monkeypatch.setenv("CALLQA_UI_LANGUAGE", "en")
    return data


def sign_in(name: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def _opens(at: AppTest, page: str) -> bool:
    try:
        at.switch_page(f"views/{page}.py").run()
    except ValueError:
        return False
    assert not at.exception, (page, at.exception)
    return PAGES[page] in [t.value for t in at.title]


@pytest.mark.parametrize("name", list(ALLOWED))
def test_each_role_gets_its_pages(seeded, name: str) -> None:  # type: ignore[no-untyped-def]
    at = sign_in(name)
    for page in PAGES:
        assert _opens(at, page) == (page in ALLOWED[name]), (name, page)
        if page in ALLOWED[name]:
            assert not at.error, (name, page, [e.value for e in at.error])
    assert not _opens(at, "queue") if name == "dana" else True  # an agent has no review queue


def test_agent_page_lists_only_own_calls_and_disputes(seeded) -> None:  # type: ignore[no-untyped-def]
    own, other = seeded.calls["en_04_customer_abuse"], seeded.calls["en_03_threat_insult"]
    at = sign_in("dana").switch_page("views/scorecards.py").run()
    listed = set(at.dataframe[0].value["Call"])
    assert listed == {seeded.calls["en_01_clean_minimiranda"], own}
    assert {o.split(" · ")[0] for o in at.selectbox(key="sc_call").options} == {str(c) for c in listed}
    assert str(other) not in {o.split(" · ")[0] for o in at.selectbox(key="sc_call").options}
    at.selectbox(key="sc_call").set_value(own).run()
    assert f"Scorecard of call {own}" in [h.value for h in at.header]
    at.selectbox(key="dp_item").select("courtesy")
    at.text_input(key="dp_reason").input("I was polite throughout")
    next(b for b in at.button if b.label == "Send dispute").click().run()
    assert any("Dispute sent" in s.value for s in at.success), [e.value for e in at.error]

    lead = sign_in("lena").switch_page("views/disputes.py").run()
    assert any("courtesy" in m.value for m in lead.markdown)
    lead.text_input(key="reply_1").input("checked, agreed")
    next(b for b in lead.button if b.label == "Accept").click().run()
    assert not lead.exception
    lead.switch_page("views/disputes.py").run()
    assert any("No open disputes" in i.value for i in lead.info)
