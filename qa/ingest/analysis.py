"""Analyse a call and store the result: the one way ingest, watch, Ray workers and the CLI run analysis.

    history = read_history(session, call_id)              # qa.store reads
    analysis = qa.pipeline.analyze(source, meta, history)   # pure, no database
    store_analysis(session, call_id, analysis, settings)    # qa.store writes (findings, QA scorecard), then the
                                                            # agent's wellbeing day

`reanalyze` does the same for a stored call from its stored transcript (no re-transcription).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from qa.config import Settings, get_settings
from qa.pipeline import analyze
from qa.records import CallAnalysis, CallHistory, DecodedAudio
from qa.store import calls as store
from qa.store import reports, scorecards
from qa.store.models import Call
from qa.store.reviews import Reconciled, active_findings

log = logging.getLogger(__name__)

#: Findings the assessment stage makes (re-made by `callqa assess`); every other finding is a detector's.
ASSESSED_PREFIX = "compliance/"
VOICE_SUBTYPE = "stress/voice"


def site_zone(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.default_timezone)
    except Exception:  # noqa: BLE001
        log.warning("unknown site time zone %r; agent days use UTC", settings.default_timezone)
        return ZoneInfo("UTC")


def read_history(session: Session, call_id: int, voiceprint: bool = False) -> CallHistory:
    """The account's other calls and the agent's voice baseline, as the analysis of `call_id` needs them;
    `voiceprint`: also the agent's voiceprint (a recording about to be transcribed, voiceprints on)."""
    from qa.assess.acoustics import load_config

    return reports.call_history(session, call_id, int(load_config()["baseline"]["max_calls"]), voiceprint)


def update_agent_day(session: Session, agent_id: str, day: date, settings: Settings,
                     include_call_id: int | None = None) -> None:
    """Recompute one agent-day (site local day) and its day and week alerts from the stored calls."""
    from qa.assess.wellbeing import AgentCall, assess_day, load_config, week_alerts

    zone = site_zone(settings)
    start, end = reports.day_bounds_utc(day, zone)
    calls = [AgentCall.of(c) for c in reports.agent_calls_between(session, agent_id, start, end, include_call_id)]
    cfg = load_config()
    result = assess_day(agent_id, day, calls, zone, cfg)
    reports.save_agent_day(session, result)
    reports.sync_alerts(session, agent_id, day, cfg["alerts"].keys(), result.alerts)
    session.flush()
    monday = day - timedelta(days=day.weekday())
    week = reports.week_days(session, agent_id, monday, monday + timedelta(days=6))
    reports.sync_alerts(session, agent_id, monday, cfg["week_alerts"].keys(), week_alerts(agent_id, week, cfg))


def store_analysis(session: Session, call_id: int, analysis: CallAnalysis, settings: Settings) -> Reconciled:
    """Persist `analysis` and bring the agent's wellbeing day up to date, in the caller's transaction."""
    done = store.save_analysis(session, call_id, analysis)
    if analysis.scorecard is not None:  # people's item changes (keyed by call, form, item) stay applied
        scorecards.save_scorecard(session, replace(analysis.scorecard, call_id=call_id))
    call = session.get(Call, call_id)
    assert call is not None
    if call.agent_id and call.started_at is not None:
        day = call.started_at.astimezone(site_zone(settings)).date()
        update_agent_day(session, call.agent_id, day, settings, include_call_id=call.id)
    if done.superseded or done.deleted:
        log.info("call %s: %d findings kept, %d new, %d superseded (reviewed), %d dropped", call_id, done.kept,
                 done.added, done.superseded, done.deleted)
    return done


def reanalyze(session: Session, call_id: int, settings: Settings | None = None, *, detect: bool = True,
              audio: DecodedAudio | None = None) -> CallAnalysis | None:
    """Analyse a stored call again from its stored transcript; None if there is no such call.

    `detect=False` keeps the stored detector findings and re-runs the rest (compliance rules, measures, voice
    stress, scores, wellbeing): `callqa assess`. `audio`: re-measure voices on it (else the stored measures).
    """
    settings = settings or get_settings()
    call = session.get(Call, call_id)
    transcript = store.load_transcript(session, call_id)
    if call is None or transcript is None:
        return None
    detected = None if detect else [f for f in active_findings(session, call_id)
                                    if not f.label.startswith(ASSESSED_PREFIX) and f.subtype != VOICE_SUBTYPE]
    analysis = analyze(transcript, store.call_meta(call), read_history(session, call_id), settings,
                       audio=audio, detected=detected)
    store_analysis(session, call_id, analysis, settings)
    return analysis


def enrol_reviewed_agent(session: Session, call_id: int, settings: Settings | None = None) -> bool:
    """After a reviewer named the agent (`callqa set-agent`), keep that voice as the call's agent voiceprint
    (`agent_voiceprints` on): the audio of the agent's lines, embedded. False when voiceprints are off, the call
    has no agent id, the recording cannot be read, or the agent's lines hold too little speech."""
    from qa.assess.acoustics import segment_samples
    from qa.audio import AudioError, decode
    from qa.speakers.diarize import stored_embedding, voiceprint

    settings = settings or get_settings()
    call = session.get(Call, call_id)
    if not settings.agent_voiceprints or call is None or not call.agent_id:
        return False
    try:
        audio = decode(call.path, settings)
    except (AudioError, OSError) as exc:
        log.warning("call %s: no voiceprint from the reviewed agent: %s", call_id, exc)
        return False
    pieces = [segment_samples(audio, seg) for seg in call.segments if seg.speaker == "agent"]
    found = voiceprint(np.concatenate(pieces)) if pieces else None
    agent = next((sp for sp in call.speakers if sp.role == "agent"), None)
    if found is None or agent is None:
        return False
    agent.voiceprint = stored_embedding(found[0])
    return True
