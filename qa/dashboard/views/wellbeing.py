"""Agent wellbeing (managers, admin): index over time, abuse received, stress vs baseline, alerts, heat map, notes."""

import json

import altair as alt
import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views.wellbeing import wellbeing_view

user = ui.page_guard("wellbeing")
st.title(ui.t("page_wellbeing"))
filters = ui.sidebar_filters(user)
view = ui.run_query(wellbeing_view, user, filters)

if not view.agents or (not view.days and not view.abuse and not view.alerts):
    st.info(ui.t("no_wellbeing"))
    st.stop()

if view.days:
    days = pd.DataFrame(view.days)
    days["day"] = pd.to_datetime(days["day"])
    st.subheader(ui.t("wellbeing_index"))
    st.altair_chart(alt.Chart(days).mark_line(point=True).encode(
        x=alt.X("day:T", title=ui.t("day")),
        y=alt.Y("wellbeing:Q", title=ui.t("wellbeing"), scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("agent_id:N", title=ui.t("agent")),
        tooltip=[alt.Tooltip("agent_id:N", title=ui.t("agent")), alt.Tooltip("day:T", title=ui.t("day")),
                 alt.Tooltip("wellbeing:Q", title=ui.t("wellbeing"), format=".0f"),
                 alt.Tooltip("calls:Q", title=ui.t("calls"))],
    ), width="stretch")
    st.subheader(ui.t("team_heatmap"))
    heat = days.assign(team=days["team"].fillna("–")).groupby(["team", "day"], as_index=False)["wellbeing"].mean()
    st.altair_chart(alt.Chart(heat).mark_rect().encode(
        x=alt.X("yearmonthdate(day):O", title=ui.t("day")), y=alt.Y("team:N", title=ui.t("team")),
        color=alt.Color("wellbeing:Q", title=ui.t("wellbeing"), scale=alt.Scale(scheme="redyellowgreen",
                                                                                   domain=[0, 100])),
        tooltip=[alt.Tooltip("team:N", title=ui.t("team")), alt.Tooltip("day:T", title=ui.t("day")),
                 alt.Tooltip("wellbeing:Q", title=ui.t("wellbeing"), format=".0f")],
    ), width="stretch")

left, right = st.columns(2)
with left:
    st.subheader(ui.t("abuse_received"))
    abuse = pd.DataFrame(view.abuse)
    if not abuse.empty:
        abuse["day"] = pd.to_datetime(abuse["day"])
        st.altair_chart(alt.Chart(abuse).mark_bar().encode(
            x=alt.X("yearmonthdate(day):O", title=ui.t("day")), y=alt.Y("abusive_findings:Q",
                                                                        title=ui.t("abusive_findings")),
            color=alt.Color("agent_id:N", title=ui.t("agent")),
            tooltip=[alt.Tooltip("agent_id:N", title=ui.t("agent")),
                     alt.Tooltip("abusive_findings:Q", title=ui.t("abusive_findings")),
                     alt.Tooltip("calls:Q", title=ui.t("calls"))],
        ), width="stretch")
with right:
    st.subheader(ui.t("stress_trend"))
    agent = st.selectbox(ui.t("choose_agent"), view.agents, key="wb_agent")
    stress = pd.DataFrame([s for s in view.stress if s.agent_id == agent])
    if not stress.empty:
        stress["day"] = pd.to_datetime(stress["day"])
        long = stress.melt(id_vars=["day"], value_vars=["rate", "baseline"], var_name="series", value_name="v")
        long["series"] = long["series"].map({"rate": ui.t("stress_rate"), "baseline": ui.t("baseline")})
        st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
            x=alt.X("day:T", title=ui.t("day")), y=alt.Y("v:Q", title=ui.t("stress_rate")),
            color=alt.Color("series:N", title=ui.t("series")), strokeDash="series:N",
        ), width="stretch")

why = view.why.get(agent)
if why is not None:
    st.subheader(ui.t("wellbeing_why", agent=agent, day=ui.fmt_dt(why.day), index=f"{why.wellbeing:.0f}"))
    if not why.penalties:
        st.caption(ui.t("wellbeing_no_penalty"))
    for p in why.penalties:
        st.markdown(f"- {ui.tr(p.reason)} ({p.value:g}): −{p.points:g}")

st.subheader(ui.t("alerts"))
if not view.alerts:
    st.info(ui.t("no_alerts"))
for a in view.alerts:
    with st.expander(f"{ui.tr(a.severity_name)} · {a.agent_id} · {ui.tr(a.kind_name)} · {ui.fmt_dt(a.day)}"):
        st.write(ui.tr(a.message))
        if a.evidence:
            st.code(json.dumps(a.evidence, ensure_ascii=False, indent=1, default=str), language="json")

st.subheader(ui.t("coaching") + f" · {agent}")
notes = [n for n in view.notes if n.agent_id == agent]
if not notes:
    st.caption(ui.t("coaching_empty"))
for n in notes:
    st.caption(f"{n.author} · {ui.fmt_dt(n.at)} · {ui.t('call')} {n.call_id}")
    ui.plain(n.note)
