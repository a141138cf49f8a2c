"""callqa dashboard entry point: `callqa dashboard` runs `streamlit run` on this file.

Anonymous visitors get only the sign-in page; a signed-in user gets the pages their role allows
(each page and each query checks the role again).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from qa.dashboard import ui

HERE = Path(__file__).resolve().parent

PAGES = (  # file, i18n key of the title, capability, icon
    ("views/overview.py", "page_overview", "overview", ":material/dashboard:"),
    ("views/queue.py", "page_queue", "queue", ":material/list:"),
    ("views/call.py", "page_call", "call", ":material/call:"),
    ("views/compliance.py", "page_compliance", "compliance", ":material/gavel:"),
    ("views/wellbeing.py", "page_wellbeing", "wellbeing", ":material/favorite:"),
    ("views/audit.py", "page_audit", "audit", ":material/history:"),
    ("views/scorecards.py", "page_scorecards", "scorecards", ":material/fact_check:"),
    ("views/disputes.py", "page_disputes", "dispute_decide", ":material/feedback:"),
    ("views/calibration.py", "page_calibration", "calibration_score", ":material/balance:"),
    ("views/coaching.py", "page_coaching", "scorecards", ":material/school:"),
    ("views/qa_reports.py", "page_qa_reports", "qa_reports", ":material/summarize:"),
)

st.set_page_config(page_title="callqa", page_icon=":material/headset_mic:", layout="wide")
user = ui.current_user()
ui.language_switch()

if user is None:
    nav = st.navigation([st.Page(ui.sign_in_page, title=ui.t("sign_in"), url_path="sign-in", icon=":material/login:")])
else:
    pages = [st.Page(HERE / path, title=ui.t(key), icon=icon, url_path=Path(path).stem)
             for path, key, capability, icon in PAGES if user.can(capability)]
    nav = st.navigation(pages)
    st.sidebar.markdown(ui.t("signed_in_as", name=user.name, role=ui.role_name(user.role)))
    if st.sidebar.button(ui.t("sign_out"), key="sign_out"):
        ui.sign_out()
        st.rerun()
nav.run()
