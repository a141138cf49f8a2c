"""Shared pieces of the dashboard pages: strings, sign-in state, database access, sidebar filters.

Pages call the `qa.views` page modules through `run_query`, which opens the session and turns the store's
PermissionDenied / NotFound into clear messages. Nothing here loads a model.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from qa.access.auth import (
    PermissionDenied,
    Principal,
    reload_principal,
    session_expired,
    session_timeout_s,
    sign_in,
    throttle_wait,
)
from qa.access.limits import InputRejected
from qa.access.redact import SearchRefused
from qa.config import load_settings
from qa.text import fmt_offset
from qa.views import i18n
from qa.views.common import NotFound
from qa.views.i18n import Bilingual

log = logging.getLogger("callqa.dashboard")
HERE = Path(__file__).resolve().parent
LANGS = i18n.LANGS
LABEL_COLORS = {"threat": "#d62728", "harassment": "#ff7f0e", "privacy": "#9467bd", "stress": "#1f77b4",
                "compliance": "#17becf"}
T = TypeVar("T")


# ---------------------------------------------------------------- strings


def strings() -> dict[str, dict[str, str]]:
    return i18n.strings()


def lang() -> str:
    value = st.session_state.get("lang")
    if value not in LANGS:
        value = load_settings().ui_language
        value = value if value in LANGS else "zh"
        st.session_state["lang"] = value
    return value


def t(key: str, **fields: Any) -> str:
    entry = strings().get(key)
    if entry is None:
        log.warning("missing UI string %s", key)
        return key
    text = entry.get(lang()) or entry.get("en") or key
    return text.format(**fields) if fields else text


def tr(value: Bilingual) -> str:
    """A view's two-language text in the page's language."""
    return value.get(lang())


def label_name(label: str) -> str:
    return tr(i18n.label_name(label))


def language_switch() -> None:
    current = lang()
    choice = st.sidebar.radio(t("language"), LANGS, index=LANGS.index(current), key="lang_radio", horizontal=True,
                              format_func=lambda v: {"zh": "中文", "en": "English"}[v])
    if choice != current:
        st.session_state["lang"] = choice
        st.rerun()


# ---------------------------------------------------------------- database and sign-in


def db_url() -> str:
    return load_settings().database_url


def run_query(fn: Callable[..., T], user: Principal | None, *args: Any, **kwargs: Any) -> T:
    """Run a `qa.views` function in a session; stop the page with a clear message on refusal."""
    from qa.store.db import session_scope

    try:
        with session_scope(db_url()) as session:
            return fn(session, user, *args, **kwargs)
    except PermissionDenied as exc:
        # the refused transaction was rolled back: the refusal is audited in its own
        _audit_refusal(user, "search_refused" if exc.capability == "pii" else "denied",
                       {"capability": exc.capability, "query": fn.__name__})
        if exc.capability == "pii":
            st.error(t("denied_pii_search"))
        else:
            st.error(t("denied", role=role_name(user.role if user else "anonymous")))
        st.stop()
    except InputRejected as exc:
        if isinstance(exc, SearchRefused):
            _audit_refusal(user, "search_refused", {"reason": exc.reason})
        st.error(str(exc))  # bilingual, says the limit
        st.stop()
    except NotFound:
        st.error(t("not_found", call_id=args[0] if args else "?"))
        st.stop()
    except SQLAlchemyError as exc:
        log.error("dashboard query %s failed: %s", fn.__name__, type(exc).__name__)
        st.error(t("db_error", error=type(exc).__name__))
        st.stop()
    raise AssertionError("unreachable")


def _audit_refusal(user: Principal | None, action: str, detail: dict[str, Any]) -> None:
    from qa.access import audit
    from qa.store.db import session_scope

    try:
        with session_scope(db_url()) as session:
            audit.record(session, user.name if user else "anonymous", action, detail=detail)
    except SQLAlchemyError as exc:
        log.error("could not audit a refusal: %s", type(exc).__name__)


def flash(message: str) -> None:
    """A success message that survives the `st.rerun()` after an action (shown by `show_flash`)."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    message = st.session_state.pop("_flash", None)
    if message:
        st.success(message)


def run_action(fn: Callable[..., T], user: Principal | None, *args: Any, **kwargs: Any) -> T | None:
    """Like `run_query` for an action: a refusal the user can fix (ValueError: a missing reason, a closed
    dispute window) is shown and None returned, so the rest of the page still renders."""
    from qa.store.db import session_scope

    try:
        with session_scope(db_url()) as session:
            return fn(session, user, *args, **kwargs)
    except PermissionDenied:
        _audit_refusal(user, "denied", {"action": getattr(fn, "__name__", str(fn))})
        st.error(t("denied", role=role_name(user.role if user else "anonymous")))
    except (ValueError, NotFound) as exc:
        st.error(t("action_error", error=str(exc)))
    return None


@st.cache_data(ttl=60, show_spinner=False)
def _cached(url: str, module: str, fn_name: str, user: Principal, args: tuple[Any, ...]) -> Any:
    import importlib

    from qa.store.db import session_scope

    with session_scope(url) as session:
        return getattr(importlib.import_module(module), fn_name)(session, user, *args)


def cached_query(fn: Callable[..., T], user: Principal, *args: Any) -> T:
    """`run_query` for read-only aggregates (overview, filter options), cached 60 s per user and arguments.

    The role check still runs on every miss; errors are not cached.
    """
    try:
        return _cached(db_url(), fn.__module__, fn.__name__, user, args)
    except (PermissionDenied, NotFound, SQLAlchemyError):
        return run_query(fn, user, *args)  # shows the message and stops


def role_name(role: str) -> str:
    return t(f"role_{role}") if f"role_{role}" in strings() else role


def current_user() -> Principal | None:
    """The signed-in principal, re-read from the database; None after sign-out, expiry or deactivation."""
    import secrets

    from qa.access import audit
    from qa.store.db import session_scope

    # one id per browser session, written on every audit row of the session
    session_id = st.session_state.setdefault("audit_session_id", secrets.token_hex(8))
    audit.current_session_id.set(session_id)
    user: Principal | None = st.session_state.get("user")
    if user is None:
        return None
    last_seen = st.session_state.get("last_seen", 0.0)
    with session_scope(db_url()) as session:
        if session_expired(last_seen):
            audit.record(session, user.name, "session_expired")
            _clear_session()
            st.session_state["flash"] = ("warning", t("session_expired", minutes=round(session_timeout_s() / 60)))
            return None
        fresh = reload_principal(session, user.name, user.session_epoch)  # None after a password change too
    if fresh is None:
        _clear_session()
        return None
    st.session_state["user"] = fresh
    st.session_state["last_seen"] = time.time()
    return fresh


def _clear_session() -> None:
    for key in list(st.session_state.keys()):
        if key not in ("lang", "lang_radio"):
            del st.session_state[key]


def sign_out() -> None:
    from qa.access import audit
    from qa.store.db import session_scope

    user = st.session_state.get("user")
    if user is not None:
        with session_scope(db_url()) as session:
            audit.record(session, user.name, "sign_out")
    _clear_session()


def sign_in_page() -> None:
    """The only page an anonymous visitor gets."""
    from qa.store.db import session_scope

    st.title(t("sign_in_title"))
    flash = st.session_state.pop("flash", None)
    if flash:
        getattr(st, flash[0])(flash[1])
    st.caption(t("sign_in_help"))
    with st.form("sign_in", clear_on_submit=False):
        name = st.text_input(t("username"), key="sign_in_name")
        password = st.text_input(t("password"), type="password", key="sign_in_password")
        submitted = st.form_submit_button(t("sign_in"))
    if submitted:
        with session_scope(db_url()) as session:
            principal = sign_in(session, name, password)
            wait = throttle_wait(session, name) if principal is None else 0.0
        if principal is None and wait > 0:
            st.error(t("sign_in_wait", seconds=int(wait + 0.999)))
        elif principal is None:
            st.error(t("sign_in_failed"))
        else:
            st.session_state["user"] = principal
            st.session_state["last_seen"] = time.time()
            st.rerun()


def page_guard(capability: str) -> Principal:
    """Stop the page unless someone is signed in with a role that has `capability`.

    Repeats the expiry and account checks of app.py, so a page script run on its own is protected too.
    """
    user = current_user()
    if user is None:
        st.error(t("sign_in_help"))
        st.stop()
    if not user.can(capability):
        _audit_refusal(user, "denied", {"capability": capability, "query": "page"})
        st.error(t("denied", role=role_name(user.role)))
        st.stop()
    return user


# ---------------------------------------------------------------- filters


def sidebar_filters(user: Principal, labels: bool = False, search: bool = False) -> Any:
    from qa.views.common import CHIP_LABELS, Filters, filter_options

    opts = cached_query(filter_options, user)
    sb = st.sidebar
    sb.subheader(t("filters"))
    span: Any = ()
    if opts.first_day and opts.last_day:
        span = sb.date_input(t("date_range"), value=(opts.first_day, opts.last_day), key="f_dates")
    teams = sb.multiselect(t("team"), opts.teams, key="f_teams")
    agents = sb.multiselect(t("agent"), opts.agents, key="f_agents")
    languages = sb.multiselect(t("language_col"), opts.languages, key="f_languages")
    jurisdictions = sb.multiselect(t("jurisdiction"), opts.jurisdictions, key="f_jurisdictions")
    chosen_labels: list[str] = []
    term = ""
    if labels:
        names = {lb: label_name(lb) for lb in CHIP_LABELS}  # fixed at render time: one language per run
        chosen_labels = sb.multiselect(t("labels"), CHIP_LABELS, key="f_labels", format_func=names.__getitem__)
    if search:
        term = st.text_input(t("search"), key="f_search")
    date_from = span[0] if isinstance(span, (tuple, list)) and len(span) >= 1 else None
    date_to = span[1] if isinstance(span, (tuple, list)) and len(span) == 2 else None
    return Filters(date_from=date_from, date_to=date_to, teams=tuple(teams), agents=tuple(agents),
                   languages=tuple(languages), jurisdictions=tuple(jurisdictions), labels=tuple(chosen_labels),
                   search=term.strip())


# ---------------------------------------------------------------- formatting


def fmt_time(seconds: float | None) -> str:
    """An offset into the recording (`qa.text.fmt_offset`), '–' when unknown."""
    return fmt_offset(seconds, missing="–")


def fmt_dt(value: datetime | date | None) -> str:
    """Times in the site's zone, with the zone shown (stored times are UTC)."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            from zoneinfo import ZoneInfo

            from qa.config import get_settings

            value = value.astimezone(ZoneInfo(get_settings().default_timezone))
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    return value.isoformat()


def audio_player(path: str, start: float = 0.0) -> None:
    """An audio player whose bytes travel inside this session's page as a data: URI.

    st.audio would hand the file to Streamlit's media server, whose /media/<hash> address is the same for
    every session and answers anyone without a cookie while any session holds it. A data: URI has no
    address: only the signed-in session that was allowed the audio ever receives it.
    """
    import base64
    import mimetypes

    mime = mimetypes.guess_type(path)[0] or "audio/wav"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    st.html(f'<audio controls preload="auto" style="width:100%" data-start="{float(start):.1f}" '
            f'src="data:{mime};base64,{data}"></audio>')


def plain(text: str | None) -> None:
    """User-written text (notes) as plain text: never Markdown or HTML, so no image, link or script."""
    st.text(text or "")


def chip_html(label: str) -> str:
    chip = "compliance" if label.startswith("compliance") else label
    color = LABEL_COLORS.get(chip, "#7f7f7f")
    return (f'<span style="background:{color};color:white;border-radius:0.6em;padding:0.1em 0.6em;'
            f'margin-right:0.3em;font-size:0.85em">{html.escape(label_name(label))}</span>')


def highlight(text: str, spans: list[tuple[str, str]]) -> str:
    """HTML of `text` with each (span, label) marked in its label's colour; everything escaped."""
    marks: list[tuple[int, int, str]] = []
    for span, label in spans:
        span = (span or "").strip()
        if not span:
            continue
        pos = text.find(span)
        if pos >= 0:
            marks.append((pos, pos + len(span), label))
    marks.sort()
    out, cursor = [], 0
    for start, end, label in marks:
        if start < cursor:
            continue  # overlapping marks: keep the first
        chip = "compliance" if label.startswith("compliance") else label
        color = LABEL_COLORS.get(chip, "#7f7f7f")
        out.append(html.escape(text[cursor:start]))
        out.append(f'<mark title="{html.escape(label_name(label))}" style="background:{color}33;'
                   f'border-bottom:2px solid {color};padding:0 0.1em">{html.escape(text[start:end])}</mark>')
        cursor = end
    out.append(html.escape(text[cursor:]))
    return "".join(out)
