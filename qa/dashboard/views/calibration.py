"""Calibration sessions: a QA lead picks calls and reviewers; each reviewer scores blind; per-item agreement
between reviewers (Cohen's kappa, scikit-learn) and with the automatic result."""

import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views import scorecards as sv

user = ui.page_guard("calibration_score")
st.title(ui.t("page_calibration"))
ui.show_flash()
RESULTS = ("pass", "fail", "na")


def ids(text: str) -> list[int]:
    return [int(p) for p in text.replace("，", ",").split(",") if p.strip().isdigit()]


if user.can("calibration_lead"):
    with st.expander(ui.t("cal_new")), st.form("cal_new"):
        name = st.text_input(ui.t("cal_name"), key="cal_name")
        calls = st.text_input(ui.t("cal_calls"), key="cal_calls")
        reviewers = st.text_input(ui.t("cal_reviewers"), key="cal_reviewers")
        if st.form_submit_button(ui.t("cal_create")):
            sid = ui.run_action(sv.create_calibration, user, name, ids(calls),
                                [r.strip() for r in reviewers.replace("，", ",").split(",") if r.strip()])
            if sid is not None:
                st.success(ui.t("cal_created", id=sid))

sessions = ui.run_query(sv.calibration_list, user)
if not sessions:
    st.info(ui.t("cal_none"))
    st.stop()
sid = st.selectbox(ui.t("cal_session"), [s for s, _ in sessions], format_func=dict(sessions).get, key="cal_sel")
view = ui.run_query(sv.calibration, user, sid)

if user.name in view.reviewers:
    for cid in view.call_ids:
        card = ui.run_query(sv.scorecard, user, cid, view.form, record_open=False)  # item list only
        mine = view.my_scores.get(cid, {})
        st.subheader(ui.t("cal_score_call", call_id=cid))
        with st.form(f"cal_{sid}_{cid}"):
            choices = {}
            for item in card.items:
                default = mine.get(item.id, "na")
                choices[item.id] = st.radio(f"{item.id} · {item.text_en if ui.lang() == 'en' else item.text}", RESULTS,
                                            index=RESULTS.index(default), horizontal=True,
                                            format_func=lambda r: ui.t(f"sc_result_{r}"), key=f"cal_{sid}_{cid}_{item.id}")
            if st.form_submit_button(ui.t("cal_submit", call_id=cid)):
                if ui.run_action(sv.submit_calibration, user, sid, cid, choices) is not None:
                    ui.flash(ui.t("cal_submitted"))
                    st.rerun()

if not view.items:
    st.info(ui.t("cal_blind", done=len(view.submitted), total=len(view.reviewers)))
    st.stop()
st.subheader(ui.t("cal_agreement"))
fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
st.markdown(ui.t("cal_overall", agreement=fmt(view.overall_agreement), kappa=fmt(view.overall_kappa)))
st.dataframe(pd.DataFrame([{ui.t("sc_item"): a.item_id, ui.t("cal_ratings"): a.n_ratings,
                            ui.t("cal_pct"): a.percent_agreement, ui.t("cal_kappa"): a.kappa,
                            ui.t("cal_auto"): a.auto_agreement} for a in view.items]), hide_index=True, width="stretch")
