"""The QA workflow in headless Chromium: a reviewer overrides an item; an agent signs in, sees only their own
calls and disputes the item; the QA lead accepts and the score changes; two reviewers score a calibration
call blind and the agreement shows."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scorecard_seed import PASSWORD, seed
from tests.test_browser import CALLQA, CHROMIUM, CHROMIUM_ARGS, OUTPUT, REPO, _free_port, callqa_env

pytestmark = pytest.mark.browser


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    seeded = seed(db_url)
    port = _free_port()
    env = callqa_env(tmp_path)
    log = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen([*CALLQA, "dashboard", "--db", db_url, "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"callqa dashboard exited: {(tmp_path / 'dashboard.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("dashboard did not become healthy in 90 s")
        yield base, seeded.calls
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _sign_in(browser, base: str, name: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1500, "height": 1200}).new_page()
    page.set_default_timeout(60_000)
    page.goto(base)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for()
    return page


def _open_scorecard(page, call_id: int):  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Scorecards").click()
    page.get_by_role("heading", name="Scorecards").wait_for()
    _choose(page, "Call ID", f"{call_id} · ")
    page.get_by_role("heading", name=f"Scorecard of call {call_id}").wait_for()


def _choose(page, label: str, option_prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Open a select box, return every option's text, and pick the one starting with `option_prefix`."""
    box = page.get_by_role("combobox", name=label)
    options = page.get_by_role("option")
    for _ in range(5):  # a rerun can swallow the first click
        box.click()
        try:
            options.first.wait_for(timeout=5_000)
            break
        except Exception:  # noqa: BLE001 - retried, then the last wait raises
            page.keyboard.press("Escape")
    options.first.wait_for()
    texts = options.all_inner_texts()
    options.filter(has_text=option_prefix).first.click()
    return texts


def test_override_dispute_accept_and_calibration(server) -> None:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    base, calls = server
    own, other = calls["en_04_customer_abuse"], calls["en_03_threat_insult"]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)

        reviewer = _sign_in(browser, base, "rita")
        _open_scorecard(reviewer, own)
        reviewer.get_by_text("110 / 110").first.wait_for()
        _choose(reviewer, "Item", "courtesy")
        reviewer.get_by_role("radiogroup", name="Result").get_by_text("fail", exact=True).click()
        reviewer.get_by_role("textbox", name="Reason").first.fill("curt with the customer")
        reviewer.get_by_role("button", name="Save override").click()
        reviewer.get_by_text("Item courtesy set to fail; score now 105.").wait_for()
        reviewer.get_by_text("105 / 110").first.wait_for()

        agent = _sign_in(browser, base, "dana")
        agent.get_by_role("heading", name="Scorecards").wait_for()  # an agent's first page
        assert agent.get_by_role("link", name="Review queue").count() == 0
        options = _choose(agent, "Call ID", f"{own} · ")
        assert {o.split(" · ")[0] for o in options} == {str(calls["en_01_clean_minimiranda"]), str(own)}
        assert str(other) not in {o.split(" · ")[0] for o in options}
        agent.get_by_role("heading", name=f"Scorecard of call {own}").wait_for()
        agent.get_by_text("105 / 110").first.wait_for()
        agent.screenshot(path=str(OUTPUT / "agent_scorecard.png"), full_page=True)
        _choose(agent, "Item", "courtesy")
        agent.get_by_role("textbox", name="Reason").fill("I said sorry and thank you")
        agent.get_by_role("button", name="Send dispute").click()
        agent.get_by_text("Dispute sent to the QA leads.").wait_for()
        agent.screenshot(path=str(OUTPUT / "agent_dispute.png"), full_page=True)

        lead = _sign_in(browser, base, "lena")
        lead.get_by_role("link", name="Disputes").click()
        lead.get_by_text(f"Call {own} · item courtesy").wait_for()
        lead.get_by_role("textbox", name="Reply").fill("agreed after listening")
        lead.get_by_role("button", name="Accept").click()
        lead.get_by_text("No open disputes.").wait_for()
        _open_scorecard(lead, own)
        lead.get_by_text("110 / 110").first.wait_for()  # the item is overturned and the score recomputed

        lead.get_by_role("link", name="Calibration").click()
        lead.get_by_role("heading", name="Calibration").wait_for()  # the page has rendered before anything is typed
        lead.get_by_text("New calibration session").click()
        typed = {"Session name": "week 45", "Call IDs (comma-separated)": str(other),
                 "Reviewers (comma-separated user names)": "rita, rob"}
        for label, value in typed.items():
            lead.get_by_role("textbox", name=label).fill(value)
        for label, value in typed.items():  # still there (a slow rerun may not reset them)
            sync_api.expect(lead.get_by_role("textbox", name=label)).to_have_value(value)
        lead.get_by_role("button", name="Create session").click()
        lead.get_by_text("Calibration session 1 created.").wait_for()

        for name, flip in (("rita", False), ("rob", True)):
            page = reviewer if name == "rita" else _sign_in(browser, base, "rob")
            page.get_by_role("link", name="Calibration").click()
            page.get_by_text(f"Your blind scores for call {other}").wait_for()
            assert page.get_by_text("Overall: agreement").count() == 0  # blind until everyone has scored
            for item, result in (("mini_miranda", "fail"), ("no_threats", "fail"),
                                 ("courtesy", "pass" if flip else "fail")):
                page.get_by_role("radiogroup", name=item).get_by_text(result, exact=True).click()
            page.get_by_role("button", name=f"Submit scores for call {other}").click()
            page.get_by_text("Scores saved.").wait_for()
        reviewer.get_by_role("link", name="Scorecards").click()
        reviewer.get_by_role("link", name="Calibration").click()
        reviewer.get_by_text("Overall: agreement 0.93, Cohen's kappa 0.80").wait_for()  # 14 of 15 items agree
        reviewer.screenshot(path=str(OUTPUT / "calibration.png"), full_page=True)
        browser.close()
