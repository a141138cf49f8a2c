"""Audit log: who opened which call, played audio, exported, or changed a verdict (admin, compliance)."""

import json

import pandas as pd
import streamlit as st

from qa.access.audit import ACTIONS
from qa.dashboard import ui
from qa.views.audit import audit_log, audit_users
from qa.views.i18n import named

PAGE_SIZE = 100

user = ui.page_guard("audit")
st.title(ui.t("page_audit"))
users = ui.run_query(audit_users, user)
c1, c2, c3, c4 = st.columns(4)
everyone = ui.t("all")
action_names = {a: ui.tr(named("action", a)) for a in ACTIONS}
who = c1.selectbox(ui.t("user"), [None, *users], format_func=lambda v: everyone if v is None else v, key="a_user")
action = c2.selectbox(ui.t("action"), [None, *ACTIONS],
                      format_func=lambda v: everyone if v is None else action_names[v],
                      key="a_action")
call_id = c3.number_input(ui.t("call"), min_value=0, value=0, step=1, key="a_call", help="0 = all")
page_no = c4.number_input(ui.t("page_number"), min_value=1, value=1, step=1, key="a_page")
result = ui.run_query(audit_log, user, who, action, int(call_id) or None, None, None, PAGE_SIZE,
                      (int(page_no) - 1) * PAGE_SIZE)
st.caption(ui.t("audit_caption", total=f"{result.total:,}"))
if not result.rows:
    st.info(ui.t("no_audit"))
    st.stop()
st.dataframe(pd.DataFrame([{
    ui.t("at"): ui.fmt_dt(r.at), ui.t("user"): r.user, ui.t("action"): ui.tr(r.action_name), ui.t("call"): r.call_id,
    ui.t("detail"): json.dumps(r.detail, ensure_ascii=False) if r.detail else "",
} for r in result.rows]), hide_index=True, width="stretch")
