"""End to end in headless Chromium: `callqa dashboard`, sign in, open the riskiest call, screenshot it.

Uses Debian's /usr/bin/chromium through Playwright (no browser download). Against the fixture
database by default; set CALLQA_BROWSER_DB_URL to run it against another database (e.g. the
sample-ingested one): a temporary compliance user is added there and deactivated afterwards.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.access.auth import Principal
from qa.views.queue import riskiest_call_id
from qa.store.db import session_scope
from qa.access.users import add_user, set_active
from tests.dashboard_seed import PASSWORDS, seed

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "test-output" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

#: The console script of this environment; `callqa_env` puts this checkout first on its path.
CALLQA = [str(Path(sys.executable).with_name("callqa"))]


def callqa_env(home: Path) -> dict[str, str]:
    """The dashboard process's environment: English UI, this checkout importable, streamlit writing under `home`."""
    env = {**os.environ, "CALLQA_UI_LANGUAGE": "en", "HOME": str(home)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dashboard_db(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(database URL, user name, password) of a database with calls in it."""
    external = os.environ.get("CALLQA_BROWSER_DB_URL")
    if not external:
        seed(db_url, tmp_path / "audio")
        yield db_url, "compliance", PASSWORDS["compliance"]
        return
    name, password = f"browser-test-{secrets.token_hex(3)}", secrets.token_urlsafe(12) + "-9"  # password policy
    with session_scope(external) as s:
        add_user(s, name, "compliance", password)
    yield external, name, password
    with session_scope(external) as s:
        set_active(s, name, False)


@pytest.fixture
def dashboard_server(dashboard_db: tuple[str, str, str], tmp_path: Path) -> Iterator[str]:
    url, _, _ = dashboard_db
    port = _free_port()
    env = callqa_env(tmp_path)
    log = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen([*CALLQA, "dashboard", "--db", url, "--port", str(port)],
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
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_sign_in_and_open_riskiest_call(dashboard_server: str, dashboard_db: tuple[str, str, str]):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    url, name, password = dashboard_db
    with session_scope(url) as s:
        riskiest = riskiest_call_id(s, Principal(name, "compliance"))
    assert riskiest is not None, "the database has no processed calls"
    OUTPUT.mkdir(parents=True, exist_ok=True)

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(dashboard_server)
        page.get_by_role("heading", name="Sign in to callqa").wait_for()
        assert page.get_by_text("Calls processed").count() == 0  # nothing is shown before sign-in
        page.get_by_role("textbox", name="User name").fill(name)
        page.get_by_role("textbox", name="Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Overview").wait_for()
        page.get_by_role("link", name="Review queue").click()
        page.get_by_role("heading", name="Review queue").wait_for()
        page.get_by_role("button", name="Open call").click()
        page.get_by_role("heading", name=f"Call {riskiest}").wait_for()
        page.get_by_role("heading", name="Transcript").wait_for()
        page.wait_for_timeout(1500)  # let the charts draw
        shot = OUTPUT / "call_page.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 20_000
    with session_scope(url) as s:
        from sqlalchemy import select

        from qa.store.models import AuditEvent

        actions = {(e.action, e.call_id) for e in s.scalars(select(AuditEvent).where(AuditEvent.user == name))}
    assert ("sign_in", None) in actions and ("open_call", riskiest) in actions
