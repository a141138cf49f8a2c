"""Review queue: calls at the review threshold, riskiest first (a toggle adds the rest), label chips, filters,
transcript search, keyset pagination."""

import dataclasses

import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views.queue import review_queue

PAGE_SIZE = 50

user = ui.page_guard("queue")
st.title(ui.t("page_queue"))
filters = ui.sidebar_filters(user, labels=True, search=True)
if st.toggle(ui.t("queue_show_unflagged"), key="queue_all", help=ui.t("queue_show_unflagged_help")):
    filters = dataclasses.replace(filters, review="all")

# A stack of cursors (one per page shown) so "previous" works; reset when the filters change.
if st.session_state.get("queue_filters") != filters:
    st.session_state["queue_filters"] = filters
    st.session_state["queue_cursors"] = [None]
cursors = st.session_state["queue_cursors"]
page = ui.run_query(review_queue, user, filters, cursors[-1], PAGE_SIZE)

if page.total is not None:
    st.caption(ui.t("queue_caption", total=f"{page.total:,}"))
else:
    st.caption(ui.t("queue_caption_search"))

if not page.rows:
    st.info(ui.t("queue_empty"))
    st.stop()

table = pd.DataFrame([{
    ui.t("call"): r.call_id,
    ui.t("risk_score"): round(r.risk_score, 1) if r.risk_score is not None else None,
    ui.t("labels"): [ui.label_name(lb) for lb in r.labels],
    ui.t("started"): ui.fmt_dt(r.started_at),
    ui.t("agent"): r.agent_id,
    ui.t("team"): r.team,
    ui.t("language_col"): r.language,
    ui.t("jurisdiction"): r.jurisdiction,
    ui.t("duration"): ui.fmt_time(r.duration),
    ui.t("complaint_risk"): round(r.complaint_risk, 2) if r.complaint_risk is not None else None,
    ui.t("reviewed"): f"{r.reviewed}/{r.findings}",
    ui.t("speakers_col"): f"{ui.t('speakers_uncertain')} ({r.attribution:.2f})" if r.attribution_uncertain else "",
} for r in page.rows])
event = st.dataframe(
    table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
    key=f"queue_table_{len(cursors)}",
    column_config={
        ui.t("risk_score"): st.column_config.ProgressColumn(ui.t("risk_score"), min_value=0, max_value=100,
                                                            format="%.0f"),
        ui.t("labels"): st.column_config.ListColumn(ui.t("labels")),
    },
)
selected = event.selection.rows if event and hasattr(event, "selection") else []
if selected:
    st.session_state["call_id"] = page.rows[selected[0]].call_id
    st.switch_page("views/call.py")

c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
call_word = ui.t("call")  # fixed at render time: one language per run
choice = c1.selectbox(ui.t("choose_call"), [r.call_id for r in page.rows], key=f"queue_choice_{hash(filters)}_{len(cursors)}",
                      format_func=lambda cid: f"{call_word} {cid}")
if c1.button(ui.t("open_call"), key="queue_open", type="primary"):
    st.session_state["call_id"] = choice
    st.switch_page("views/call.py")
c2.markdown(ui.t("page_n", n=len(cursors)))
if c3.button(ui.t("previous"), disabled=len(cursors) == 1, key="queue_prev"):
    cursors.pop()
    st.rerun()
if c4.button(ui.t("next"), disabled=page.next_cursor is None, key="queue_next"):
    cursors.append(page.next_cursor)
    st.rerun()
