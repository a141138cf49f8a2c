"""Compliance: open cases and escalations, violations by rule and by agent, case export (HTML + CSV)."""

import altair as alt
import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views.compliance import compliance_view
from qa.views.export import case_file, render_csv, render_html

user = ui.page_guard("compliance")
st.title(ui.t("page_compliance"))
filters = ui.sidebar_filters(user)
view = ui.run_query(compliance_view, user, filters)

st.subheader(ui.t("open_cases"))
if not view.open_cases:
    st.info(ui.t("no_cases"))
else:
    st.dataframe(pd.DataFrame([{
        ui.t("call"): c.call_id, ui.t("agent"): c.agent_id, ui.t("started"): ui.fmt_dt(c.started_at),
        ui.t("escalated"): c.escalated, ui.t("labels"): [ui.label_name(lb) for lb in c.labels],
        ui.t("escalated_at"): ui.fmt_dt(c.last_escalated_at),
    } for c in view.open_cases]), hide_index=True, width="stretch",
        column_config={ui.t("labels"): st.column_config.ListColumn(ui.t("labels"))})
    with st.expander(ui.t("escalations")):
        st.dataframe(pd.DataFrame([{
            ui.t("call"): e.call_id, "#": e.finding_id, ui.t("label"): ui.label_name(e.label),
            ui.t("subtype"): ui.tr(e.subtype_name), ui.t("score"): round(e.score, 2), ui.t("agent"): e.agent_id,
            ui.t("escalated_by"): e.escalated_by, ui.t("escalated_at"): ui.fmt_dt(e.escalated_at),
        } for e in view.escalations]), hide_index=True, width="stretch")

left, right = st.columns(2)
with left:
    st.subheader(ui.t("violations_by_rule"))
    if not view.by_rule:
        st.info(ui.t("no_violations"))
    else:
        st.dataframe(pd.DataFrame([{
            ui.t("label"): ui.label_name(r.label), ui.t("subtype"): ui.tr(r.subtype_name), ui.t("source"): ui.tr(r.source_name),
            ui.t("findings"): r.findings, ui.t("confirmed"): r.confirmed, ui.t("calls"): r.calls,
        } for r in view.by_rule]), hide_index=True, width="stretch")
with right:
    st.subheader(ui.t("violations_by_agent"))
    if view.by_agent:
        agents = pd.DataFrame(view.by_agent)
        agents["label"] = agents["label"].map(ui.label_name)
        st.altair_chart(alt.Chart(agents).mark_bar().encode(
            x=alt.X("findings:Q", title=ui.t("findings")), y=alt.Y("agent_id:N", title=ui.t("agent"), sort="-x"),
            color=alt.Color("label:N", title=ui.t("label")),
            tooltip=[alt.Tooltip("agent_id:N", title=ui.t("agent")), alt.Tooltip("label:N", title=ui.t("label")),
                     alt.Tooltip("findings:Q", title=ui.t("findings"))],
        ), width="stretch")

st.subheader(ui.t("export_case"))
case_ids = [c.call_id for c in view.open_cases]
call_word = ui.t("call")  # fixed at render time: one language per run
if case_ids:
    chosen = st.selectbox(ui.t("case_call"), case_ids, key="case_choice",
                          format_func=lambda cid: f"{call_word} {cid}")
else:
    chosen = st.number_input(ui.t("case_call"), min_value=1, step=1, key="case_number")
if st.button(ui.t("prepare_export"), key="case_prepare"):
    case = ui.run_query(case_file, user, int(chosen))
    st.session_state["case_export"] = (int(chosen), render_html(case, ui.lang()), render_csv(case))
if "case_export" in st.session_state:
    cid, html_doc, csv_doc = st.session_state["case_export"]
    c1, c2 = st.columns(2)
    c1.download_button(ui.t("download_html"), html_doc, f"case_{cid}.html", "text/html", key="case_dl_html")
    c2.download_button(ui.t("download_csv"), csv_doc.encode("utf-8-sig"), f"case_{cid}.csv", "text/csv",
                       key="case_dl_csv")
