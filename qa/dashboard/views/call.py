"""Call detail: audio, transcript with highlighted flags, voice measures, verdicts, coaching notes, export."""

import html

import altair as alt
import pandas as pd
import streamlit as st

from qa.dashboard import ui
from qa.views import call as q
from qa.views.common import VERDICTS
from qa.views.i18n import named

user = ui.page_guard("call")
call_id = st.session_state.get("call_id") or st.query_params.get("call")
try:
    call_id = int(call_id) if call_id is not None else None
    if call_id is not None and not 0 < call_id < 2**63:
        raise ValueError
except ValueError:
    # a bad ?call= gives a plain message and is forgotten, never a traceback
    st.session_state.pop("call_id", None)
    st.query_params.pop("call", None)
    st.title(ui.t("page_call"))
    st.warning(ui.t("bad_call_param"))
    st.stop()
if call_id is None:
    st.title(ui.t("page_call"))
    st.info(ui.t("no_call_selected"))
    st.stop()
st.session_state["call_id"] = call_id
st.query_params["call"] = str(call_id)

opened = st.session_state.setdefault("opened_calls", set())
if call_id not in opened:  # one open_call audit event per call per sign-in, not per rerun
    ui.run_query(q.record_open_call, user, call_id)
    opened.add(call_id)
d = ui.run_query(q.call_detail, user, call_id)

st.title(ui.t("call_title", call_id=d.call_id))
flash = st.session_state.pop("call_flash", None)
if flash:
    st.success(flash)
if d.masked:
    st.caption(ui.t("pii_masked_note"))
if d.attribution_uncertain:
    st.warning(ui.t("attribution_uncertain", confidence=f"{d.attribution:.2f}", reason=d.attribution_reason))
m = st.columns(5)
m[0].metric(ui.t("risk_score"), f"{d.risk_score:.0f}" if d.risk_score is not None else "–")
m[1].metric(ui.t("complaint_risk"), f"{d.complaint_risk:.0%}" if d.complaint_risk is not None else "–")
m[2].metric(ui.t("agent"), d.agent_id or "–")
m[3].metric(ui.t("duration"), ui.fmt_time(d.duration))
m[4].metric(ui.t("language_col"), f"{d.language or '–'} / {d.jurisdiction or '–'}")
st.caption(" · ".join(f"{ui.t(k)}: {v}" for k, v in (("started", ui.fmt_dt(d.started_at)), ("team", d.team), ("account", d.account_id),
                                                       ("callee", d.callee),
                                                       ("direction", d.direction and ui.tr(named("direction", d.direction))),
                                                       ("status", ui.tr(named("status", d.status)))) if v))
if d.score_reasons:
    with st.expander(ui.t("why_risk")):
        for reason in d.score_reasons:
            points = f" (+{reason.points:g})" if reason.points is not None and reason.kind == "risk" else ""
            evidence = f" · {reason.evidence}" if reason.evidence else ""
            st.markdown(f"- {ui.tr(reason.text)}{points}{evidence}")

# ------------------------------------------------------------ audio
audio_key = f"audio_{call_id}"


def play(start: float = 0.0, finding_id: int | None = None) -> None:
    path = ui.run_query(q.audio_for_playback, user, call_id, start, finding_id)
    st.session_state[audio_key] = {"path": path, "start": start}


st.subheader(ui.t("audio"))
if not d.audio_available:
    st.caption(ui.t("audio_missing"))
else:
    if st.button(ui.t("play_recording"), key="play_all"):
        play(0.0)
    state = st.session_state.get(audio_key)
    if state and state["path"]:
        if d.masked:
            st.caption(ui.t("audio_redacted_note"))
        ui.audio_player(state["path"], state["start"])
    elif state:
        st.warning(ui.t("audio_missing"))

# ------------------------------------------------------------ findings and verdicts
verdict_names = {v: ui.t("verdict_" + v) for v in VERDICTS}  # fixed at render time: one language per run
left, right = st.columns([3, 2])
with right:
    st.subheader(ui.t("findings_title"))
    if not d.findings:
        st.info(ui.t("no_findings"))
    for f in d.findings:
        with st.container(border=True):
            st.markdown(ui.chip_html(f.label) + f" <b>{html.escape(ui.tr(f.subtype_name))}</b> · "
                        f"{ui.t('score')} {f.score:.2f}", unsafe_allow_html=True)
            st.markdown(f"**{ui.t('explanation')}:** {ui.tr(f.explanation)}")
            st.caption(f"{ui.t('speaker')}: {ui.t('speaker_' + f.speaker) if f.speaker else '–'} · "
                       f"{ui.t('time')}: {ui.fmt_time(f.start)}–{ui.fmt_time(f.end)} · {ui.t('source')}: {ui.tr(f.source_name)}")
            st.markdown(f"> {f.span}")
            if d.audio_available and f.start is not None:
                if st.button(ui.t("play_from", at=ui.fmt_time(f.start)), key=f"play_{f.id}"):
                    play(max(0.0, f.start - 1.0), f.id)
                    st.rerun()
            if f.verdicts:
                st.caption(ui.t("verdict_history"))
                ui.plain("\n".join(f"{ui.t('verdict_' + v.verdict)} · {v.user} · {ui.fmt_dt(v.at)}"
                                   + (f" ({v.note})" if v.note else "") for v in f.verdicts))
            if user.can("verdict"):
                with st.form(f"verdict_{f.id}"):
                    current = f.latest if f.latest in VERDICTS else VERDICTS[0]
                    choice = st.radio(ui.t("verdict"), VERDICTS, index=VERDICTS.index(current), horizontal=True,
                                      format_func=verdict_names.__getitem__, key=f"vchoice_{f.id}")
                    note = st.text_input(ui.t("note"), key=f"vnote_{f.id}")
                    if st.form_submit_button(ui.t("save_verdict")):
                        ui.run_query(q.save_verdict, user, f.id, choice, note)
                        st.session_state["call_flash"] = ui.t("verdict_saved")
                        st.rerun()
            else:
                st.caption(f"{ui.t('verdict')}: {ui.t('verdict_' + f.latest) if f.latest else ui.t('verdict_none')}")

# ------------------------------------------------------------ transcript
with left:
    st.subheader(ui.t("transcript"))
    if not d.segments:
        st.info(ui.t("no_transcript"))
    else:
        st.markdown(" ".join(ui.chip_html(lb) for lb in ("threat", "harassment", "privacy", "stress", "compliance")),
                    unsafe_allow_html=True)
        lines = []
        for s in d.segments:
            spans = [(f.span, f.label) for f in d.findings
                     if (f.segment_idx == s.idx) or (f.segment_idx is None and f.start is not None
                                                     and s.start <= f.start < s.end)]
            who = ui.t("speaker_" + s.speaker) if s.speaker in ("agent", "customer") else s.speaker
            color = "#555" if s.speaker == "agent" else "#0b5394"
            lines.append(f'<div style="margin:0.25em 0"><span style="color:#888;font-family:monospace">'
                         f'[{ui.fmt_time(s.start)}]</span> <b style="color:{color}">{who}:</b> '
                         f"{ui.highlight(s.text, spans)}</div>")
        st.markdown("\n".join(lines), unsafe_allow_html=True)

# ------------------------------------------------------------ voice measures
st.subheader(ui.t("voice_measures"))
rows = [{"start": s.start, "speaker": ui.t("speaker_" + s.speaker) if s.speaker in ("agent", "customer") else s.speaker,
         "measure": ui.tr(named("measure", k)), "value": float(v)}
        for s in d.segments for k, v in (s.voice or {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)]
if not rows:
    st.caption(ui.t("no_voice"))
else:
    voice = pd.DataFrame(rows)
    measures = sorted(voice["measure"].unique())
    chosen = st.multiselect(ui.t("measure"), measures, default=measures[:3], key=f"measures_{call_id}")
    shown = voice[voice["measure"].isin(chosen)]
    if not shown.empty:
        chart = alt.Chart(shown).mark_line(point=True).encode(
            x=alt.X("start:Q", title=ui.t("seconds")), y=alt.Y("value:Q", title=ui.t("value")),
            color=alt.Color("speaker:N", title=ui.t("speaker")),
            tooltip=[alt.Tooltip("measure:N", title=ui.t("measure")), alt.Tooltip("start:Q", title=ui.t("seconds")),
                     alt.Tooltip("value:Q", title=ui.t("value"), format=".2f")],
        ).properties(height=140).facet(row=alt.Row("measure:N", title=ui.t("measure"))).resolve_scale(y="independent")
        st.altair_chart(chart)

# ------------------------------------------------------------ coaching notes
st.subheader(ui.t("coaching"))
if not d.notes:
    st.caption(ui.t("coaching_empty"))
for n in d.notes:
    st.caption(f"{n.author} · {ui.fmt_dt(n.at)}")
    ui.plain(n.note)  # plain text: a note's Markdown image or link is shown as typed, never loaded
if user.can("coaching"):
    with st.form(f"coaching_{call_id}", clear_on_submit=True):
        text = st.text_area(ui.t("coaching_add"), key="coaching_text")
        if st.form_submit_button(ui.t("save_note")):
            if not text.strip():
                st.warning(ui.t("empty_note"))
            else:
                ui.run_query(q.add_coaching_note, user, call_id, text)
                st.session_state["call_flash"] = ui.t("coaching_saved")
                st.rerun()

# ------------------------------------------------------------ export
if user.can("export"):
    from qa.views.export import case_file, render_csv, render_html

    st.subheader(ui.t("export_case"))
    export_key = f"export_{call_id}"
    if st.button(ui.t("prepare_export"), key="prepare_export"):
        case = ui.run_query(case_file, user, call_id)
        st.session_state[export_key] = (render_html(case, ui.lang()), render_csv(case))
    if export_key in st.session_state:
        html_doc, csv_doc = st.session_state[export_key]
        c1, c2 = st.columns(2)
        c1.download_button(ui.t("download_html"), html_doc, f"case_{call_id}.html", "text/html", key="dl_html")
        c2.download_button(ui.t("download_csv"), csv_doc.encode("utf-8-sig"), f"case_{call_id}.csv", "text/csv",
                           key="dl_csv")
