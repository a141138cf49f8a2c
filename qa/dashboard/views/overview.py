"""Overview: calls processed, flagged share by label, risk distribution, trends, top rules."""

import altair as alt
import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views.overview import overview

user = ui.page_guard("overview")
st.title(ui.t("page_overview"))
filters = ui.sidebar_filters(user)
data = ui.cached_query(overview, user, filters)

if not data.processed:
    st.info(ui.t("no_calls"))
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric(ui.t("calls_processed"), f"{data.processed:,}")
c2.metric(ui.t("flagged_calls"), f"{data.flagged:,}", f"{data.flagged / data.processed:.0%}", delta_color="off")
c3.metric(ui.t("avg_risk"), f"{data.avg_risk:.1f}" if data.avg_risk is not None else "–")
c4.metric(ui.t("failed_calls"), f"{data.failed:,}")

left, right = st.columns(2)
with left:
    st.subheader(ui.t("flagged_share_by_label"))
    shares = pd.DataFrame([{"label": ui.label_name(lb), "share": n / data.processed, "calls": n}
                           for lb, n in sorted(data.label_calls.items(), key=lambda kv: -kv[1])])
    if shares.empty:
        st.caption(ui.t("no_findings"))
    else:
        st.altair_chart(alt.Chart(shares).mark_bar().encode(
            x=alt.X("share:Q", title=ui.t("share"), axis=alt.Axis(format="%")),
            y=alt.Y("label:N", title=ui.t("label"), sort="-x"),
            tooltip=[alt.Tooltip("label:N", title=ui.t("label")), alt.Tooltip("calls:Q", title=ui.t("calls")),
                     alt.Tooltip("share:Q", title=ui.t("share"), format=".1%")],
        ), width="stretch")
with right:
    st.subheader(ui.t("risk_distribution"))
    hist = pd.DataFrame([{"bucket": f"{b}-{b + 10}", "calls": n} for b, n in data.risk_histogram.items()])
    st.altair_chart(alt.Chart(hist).mark_bar().encode(
        x=alt.X("bucket:N", title=ui.t("risk_score"), sort=None), y=alt.Y("calls:Q", title=ui.t("calls")),
        tooltip=[alt.Tooltip("bucket:N", title=ui.t("risk_score")), alt.Tooltip("calls:Q", title=ui.t("calls"))],
    ), width="stretch")

st.subheader(ui.t("trend"))
if data.trend:
    trend = pd.DataFrame(data.trend)
    long = trend.melt(id_vars=["day"], value_vars=["calls", "flagged"], var_name="series", value_name="n")
    long["series"] = long["series"].map({"calls": ui.t("calls"), "flagged": ui.t("flagged")})
    long["day"] = pd.to_datetime(long["day"])
    st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("day:T", title=ui.t("day")), y=alt.Y("n:Q", title=ui.t("calls")),
        color=alt.Color("series:N", title=ui.t("series")),
        tooltip=[alt.Tooltip("day:T", title=ui.t("day")), alt.Tooltip("series:N", title=ui.t("series")),
                 alt.Tooltip("n:Q", title=ui.t("calls"))],
    ), width="stretch")

st.subheader(ui.t("top_rules"))
if data.top_rules:
    st.dataframe(pd.DataFrame([{
        ui.t("source"): ui.tr(source), ui.t("subtype"): ui.tr(subtype), ui.t("label"): ui.tr(label),
        ui.t("findings"): r.findings, ui.t("calls"): r.calls,
    } for r in data.top_rules for source, subtype, label in [r.names]]), hide_index=True, width="stretch")
else:
    st.caption(ui.t("no_findings"))
