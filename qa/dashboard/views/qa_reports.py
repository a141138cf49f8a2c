"""QA reports: a team's week by agent and by item, with the weekly PDF and XLSX report to download."""

import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views import scorecards as sv
from qa.views.qa_report import write_report

user = ui.page_guard("qa_reports")
st.title(ui.t("page_qa_reports"))
teams = ui.run_query(sv.teams, user)
if not teams:
    st.info(ui.t("rp_none"))
    st.stop()
c1, c2 = st.columns(2)
team = c1.selectbox(ui.t("rp_team"), teams, key="rp_team")
y, w, _ = date.today().isocalendar()
week = c2.text_input(ui.t("rp_week"), value=f"{y}-W{w:02d}", key="rp_week")
report = ui.run_action(sv.team_week_report, user, team, week.strip())
if report is None:
    st.stop()
m1, m2, m3 = st.columns(3)
m1.metric(ui.t("rp_calls"), report.calls)
m2.metric(ui.t("rp_mean"), "-" if report.mean_percent is None else f"{report.mean_percent:.1f}%")
m3.metric(ui.t("rp_fatal"), report.fatal_calls)
st.subheader(ui.t("rp_by_agent"))
st.dataframe(pd.DataFrame([{ui.t("agent"): a.agent_id, ui.t("rp_calls"): a.calls, ui.t("rp_mean"): a.mean_percent,
                            ui.t("rp_fatal"): a.fatal_calls} for a in report.agents]), hide_index=True, width="stretch")
st.subheader(ui.t("rp_by_item"))
en = ui.lang() == "en"
st.dataframe(pd.DataFrame([{ui.t("sc_item"): i.item_id, "": i.text_en if en else i.text,
                            ui.t("rp_calls"): i.applicable, ui.t("co_rate"): i.rate} for i in report.items]),
             hide_index=True, width="stretch")
with tempfile.TemporaryDirectory() as tmp:
    for suffix, label, mime in ((".pdf", "rp_pdf", "application/pdf"),
                                (".xlsx", "rp_xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
        path = write_report(report, Path(tmp) / f"qa-{team}-{report.week}{suffix}")
        st.download_button(ui.t(label), path.read_bytes(), file_name=path.name, mime=mime, key=f"dl{suffix}")
