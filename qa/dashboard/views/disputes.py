"""Dispute queue for QA leads (compliance, admin): accept (the item is overturned, the score recomputed) or
reject, with a reply."""

import streamlit as st

from qa.dashboard import ui
from qa.views import scorecards as sv

user = ui.page_guard("dispute_decide")
st.title(ui.t("page_disputes"))
ui.show_flash()
queue = ui.run_query(sv.dispute_queue, user)
if not queue:
    st.info(ui.t("dp_none"))
    st.stop()
for d in queue:
    with st.container(border=True):
        st.markdown(ui.t("dp_item", call_id=d.call_id, item=d.item_id, agent=d.agent_id or "-", user=d.raised_by))
        st.markdown(f"> {d.reason}")
        reply = st.text_input(ui.t("dp_reply"), key=f"reply_{d.id}")
        c1, c2 = st.columns(2)
        for col, accept, label in ((c1, True, "dp_accept"), (c2, False, "dp_reject")):
            if col.button(ui.t(label), key=f"{label}_{d.id}"):
                done = ui.run_action(sv.decide_dispute, user, d.id, accept, reply)
                if done is not None:
                    ui.flash(ui.t("dp_decided", id=d.id, status=ui.t(f"dp_status_{done.status}")))
                    st.rerun()
