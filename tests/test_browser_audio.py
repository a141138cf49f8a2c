"""In headless Chromium: a reviewer's player gets the redacted recording, a compliance officer's the original,
both audited; the bytes travel inside the signed-in session's page (a data: URI), and Streamlit's shared,
cookie-less /media address that st.audio used to give out answers nothing to a plain HTTP client."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from qa.audio import read_pcm, write_wav
from qa.store.db import session_scope
from qa.store.models import AuditEvent, Call
from tests.dashboard_seed import PASSWORDS, seed
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, dashboard_server  # noqa: F401

pytestmark = pytest.mark.browser
RATE = 8000


@pytest.fixture
def dashboard_db(db_url: str, tmp_path: Path):  # overrides test_browser's: a call with a real-sounding recording
    d = seed(db_url)
    samples = np.random.default_rng(3).integers(-8000, 8000, size=(1, 12 * RATE)).astype(np.int16)
    path = write_wav(tmp_path / "rec" / "risky.wav", samples, RATE)
    with session_scope(db_url) as s:
        s.get(Call, d.riskiest).path = str(path)
    yield db_url, "compliance", PASSWORDS["compliance"]


def _played_bytes(pw, base: str, role: str, call_id: int) -> tuple[bytes, list[str]]:  # type: ignore[no-untyped-def]
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    page = browser.new_page()
    page.set_default_timeout(60_000)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(base)
    page.get_by_role("heading", name="Sign in to callqa").wait_for()
    page.get_by_role("textbox", name="User name").fill(role)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for()
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("heading", name="Review queue").wait_for()
    page.get_by_role("button", name="Open call").click()  # the riskiest call comes first
    page.get_by_role("heading", name=f"Call {call_id}").wait_for()
    page.get_by_role("button", name="▶ Play recording").click()
    audio = page.locator("audio").first
    audio.wait_for(state="attached")
    src = audio.get_attribute("src") or ""
    browser.close()
    assert src.startswith("data:audio/"), src[:40]
    return base64.b64decode(src.split(",", 1)[1]), requests


def test_players_serve_redacted_or_original_by_role_and_no_media_address_exists(
        dashboard_server, dashboard_db, tmp_path):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    url = dashboard_db[0]
    with session_scope(url) as s:
        call = s.scalars(select(Call).where(Call.content_hash == "h1")).one()
        call_id, original_path = call.id, Path(call.path)
    with sync_api.sync_playwright() as pw:
        heard_reviewer, req_r = _played_bytes(pw, dashboard_server, "reviewer", call_id)
        heard_compliance, req_c = _played_bytes(pw, dashboard_server, "compliance", call_id)
    original = original_path.read_bytes()
    assert heard_compliance == original
    assert heard_reviewer != original
    derived = tmp_path / "rec-reviewer.wav"
    derived.write_bytes(heard_reviewer)
    a, _ = read_pcm(original_path)
    b, _ = read_pcm(derived)
    assert a.shape == b.shape and np.mean(a == b) > 0.5  # the same recording, spans replaced
    assert np.mean(a[:, int(5.5 * RATE):int(7.5 * RATE)] == b[:, int(5.5 * RATE):int(7.5 * RATE)]) < 0.01
    from urllib.parse import urlparse

    assert not [u for u in req_r + req_c if urlparse(u).path.startswith("/media/")]  # nothing fetched by address
    # the address st.audio would have given this recording: a plain client without a cookie gets nothing
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    for data in (original, heard_reviewer):
        media = f"{dashboard_server}/media/{_calculate_file_id(data, 'audio/wav')}.wav"
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(media, timeout=10)
        assert exc.value.code == 404
    with session_scope(url) as s:
        plays = [(e.user, e.action) for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("play_audio", "play_original"))).order_by(AuditEvent.id))]
    assert plays == [("reviewer", "play_audio"), ("compliance", "play_original")]
