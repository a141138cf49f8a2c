"""Scorecards: scored calls (an agent: only their own), one call's items with evidence; a reviewer overrides
an item; an agent acknowledges or disputes within the window."""

import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views import scorecards as sv

user = ui.page_guard("scorecards")
st.title(ui.t("page_scorecards"))
ui.show_flash()
RESULTS = ("pass", "fail", "na")


def result_name(r: str) -> str:
    return ui.t(f"sc_result_{r}")


rows = ui.run_query(sv.scorecard_list, user)
if not rows:
    st.info(ui.t("sc_none"))
    st.stop()
st.dataframe(pd.DataFrame([{
    ui.t("call"): r.call_id, ui.t("agent"): r.agent_id, ui.t("team"): r.team, ui.t("sc_started"): ui.fmt_dt(r.started_at),
    ui.t("sc_form"): r.form, ui.t("sc_score"): f"{r.score:g}/{r.max_score:g}",
    ui.t("sc_percent"): r.percent, ui.t("sc_fatal"): "✗" if r.fatal_failed else "",
    ui.t("sc_failed_items"): ", ".join(r.failed_items)} for r in rows]), hide_index=True, width="stretch")

labels = {r.call_id: f"{r.call_id} · {r.agent_id or '-'} · {ui.fmt_dt(r.started_at)}" for r in rows}
call_id = st.selectbox(ui.t("sc_call_id"), list(labels), format_func=labels.get, key="sc_call")
card = ui.run_query(sv.scorecard, user, call_id)
st.header(ui.t("sc_title", call_id=call_id))
c1, c2, c3 = st.columns(3)
c1.metric(ui.t("sc_score"), f"{card.score:g} / {card.max_score:g}")
c2.metric(ui.t("sc_percent"), f"{card.percent:.1f}%" if card.percent is not None else "-")
c3.metric(ui.t("sc_form"), f"{card.form} v{card.form_version}")
if card.fatal_failed:
    st.error(ui.t("sc_fatal_yes"))
en = ui.lang() == "en"
st.dataframe(pd.DataFrame([{
    ui.t("sc_section"): i.section, ui.t("sc_item"): i.id, ui.t("sc_result"): result_name(i.result),
    ui.t("sc_auto"): "✓" if i.auto else "✗", ui.t("sc_confidence"): i.confidence, ui.t("sc_weight"): i.weight,
    ui.t("sc_fatal"): "!" if i.fatal else "", "": i.text_en if en else i.text,
    ui.t("sc_evidence"): " | ".join(f"{ui.fmt_time(e.start)} {e.speaker or ''}: {e.text}" for e in i.evidence),
    ui.t("sc_rule"): i.rule, ui.t("sc_changed_by"): i.changed_by or ""} for i in card.items]),
    hide_index=True, width="stretch")
for i in card.items:
    if i.coaching:
        lang = ui.lang()
        st.caption(f"{i.id} · " + ui.t("sc_coaching_tip", compliant=i.coaching["compliant"][lang],
                                        said=i.coaching["said"][lang]))

item_ids = [i.id for i in card.items]
if user.can("override"):
    st.subheader(ui.t("sc_override"))
    with st.form("override"):
        item = st.selectbox(ui.t("sc_item"), item_ids, key="ov_item")
        result = st.radio(ui.t("sc_result"), RESULTS, format_func=result_name, horizontal=True, key="ov_result")
        reason = st.text_input(ui.t("sc_reason"), key="ov_reason")
        if st.form_submit_button(ui.t("sc_save_override")):
            done = ui.run_action(sv.override_item, user, call_id, item, result, reason)
            if done is not None:
                ui.flash(ui.t("sc_overridden", item=item, result=result_name(result), score=f"{done.score:g}"))
                st.rerun()

if user.can("dispute"):
    st.caption(ui.t("sc_window", until=ui.fmt_dt(card.window_ends)))
    if user.name in card.acknowledged_by:
        st.caption(ui.t("sc_acked"))
    elif st.button(ui.t("sc_ack"), key="ack"):
        ui.run_action(sv.acknowledge, user, call_id)
        st.rerun()
    st.subheader(ui.t("sc_dispute"))
    with st.form("dispute"):
        item = st.selectbox(ui.t("sc_item"), item_ids, key="dp_item")
        reason = st.text_input(ui.t("sc_reason"), key="dp_reason")
        if st.form_submit_button(ui.t("sc_send_dispute")):
            if ui.run_action(sv.dispute_item, user, call_id, item, reason) is not None:
                st.success(ui.t("sc_disputed"))
    findings = ui.run_query(sv.my_findings, user, call_id)
    if findings:
        st.subheader(ui.t("sc_findings"))
        st.dataframe(pd.DataFrame([{ui.t("labels"): f.subtype, ui.t("speaker"): f.speaker,
                                    ui.t("time"): ui.fmt_time(f.start), ui.t("sc_evidence"): f.span}
                                   for f in findings]), hide_index=True, width="stretch")

if card.acknowledged_by and not user.can("dispute"):
    st.caption(ui.t("sc_acked_by", names=", ".join(card.acknowledged_by)))
if card.history:
    st.subheader(ui.t("sc_history"))
    st.dataframe(pd.DataFrame([{ui.t("at"): ui.fmt_dt(h.at), ui.t("user"): h.user, ui.t("sc_item"): h.item_id,
                                ui.t("sc_result"): f"{result_name(h.previous or 'na')} → {result_name(h.result)}",
                                ui.t("action"): h.kind, ui.t("sc_reason"): h.reason} for h in card.history]),
                 hide_index=True, width="stretch")
if card.disputes:
    st.subheader(ui.t("sc_disputes"))
    st.dataframe(pd.DataFrame([{ui.t("sc_item"): d.item_id, ui.t("user"): d.raised_by, ui.t("sc_reason"): d.reason,
                                ui.t("action"): ui.t(f"dp_status_{d.status}"), ui.t("dp_reply"): d.reply or ""}
                               for d in card.disputes]), hide_index=True, width="stretch")
