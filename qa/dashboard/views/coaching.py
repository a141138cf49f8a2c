"""Coaching: an agent sees their assignments (what was said, the compliant way to say it) and marks them done,
and their item pass rates by week; a lead assigns coaching with example calls."""

import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views import scorecards as sv

user = ui.page_guard("scorecards")
st.title(ui.t("page_coaching"))
lang = ui.lang()

agent_id = user.agent_id
if user.can("coaching_assign"):
    with st.expander(ui.t("co_assign")), st.form("co_assign"):
        agent = st.text_input(ui.t("co_agent"), key="co_agent")
        item = st.text_input(ui.t("co_item"), key="co_item")
        calls = st.text_input(ui.t("co_calls"), key="co_calls")
        note = st.text_input(ui.t("co_note"), key="co_note")
        if st.form_submit_button(ui.t("co_assign_button")):
            ids = [int(p) for p in calls.replace("，", ",").split(",") if p.strip().isdigit()]
            aid = ui.run_action(sv.assign_coaching, user, agent.strip(), item.strip(), ids, note or None)
            if aid is not None:
                st.success(ui.t("co_assigned", id=aid))
if user.role != "agent":
    agent_id = st.text_input(ui.t("co_agent"), key="co_view_agent") or None

assignments = ui.run_query(sv.coaching_list, user, agent_id) if (agent_id or user.role == "agent") else []
if not assignments:
    st.info(ui.t("co_none"))
for a in assignments:
    with st.container(border=True):
        title = a.entry["title"][lang] if a.entry else a.item_id
        st.markdown(f"**{title}** · {a.item_id} · {ui.t('call')}: {', '.join(map(str, a.call_ids))}")
        if a.entry:
            st.markdown(f"{ui.t('co_said')}: “{a.entry['said'][lang]}”  \n{ui.t('co_compliant')}: “{a.entry['compliant'][lang]}”")
        if a.note:
            st.caption(a.note)
        st.caption(ui.t("co_status", status=a.status))
        if user.role == "agent" and a.status != "done" and st.button(ui.t("co_done"), key=f"done_{a.id}"):
            ui.run_action(sv.coaching_done, user, a.id)
            st.rerun()

if agent_id or user.role == "agent":
    rates = ui.run_query(sv.agent_pass_rates, user, agent_id)
    if rates:
        st.subheader(ui.t("co_pass_rates"))
        frame = pd.DataFrame([{ui.t("co_week"): r.week, ui.t("sc_item"): r.item_id, ui.t("co_rate"): r.rate}
                              for r in rates if r.rate is not None])
        st.dataframe(frame.pivot(index=ui.t("sc_item"), columns=ui.t("co_week"), values=ui.t("co_rate")),
                     width="stretch")
