"""After detection: voice measures and stress markers, conversation measures, compliance findings, scores,
and the agent's wellbeing day with its alerts, for one stored call. Idempotent: re-running replaces what
it wrote before (compliance/* and stress/voice findings, measures, scores, AgentDay, alerts)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.config import Settings, get_settings
from qa.records import DecodedAudio, Finding, Segment, Word
from qa.store import reports
from qa.store.models import Call, FindingRow, SegmentRow

log = logging.getLogger(__name__)


def _segment(row: SegmentRow) -> Segment:
    return Segment(speaker=row.speaker, start=row.start, end=row.end, text=row.text,  # type: ignore[arg-type]
                   words=[Word(float(w["start"]), float(w["end"]), str(w.get("word", "")),
                               float(w.get("probability", 1.0))) for w in (row.words or [])],
                   channel=row.channel)


def _site_zone(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.default_timezone)
    except Exception:  # noqa: BLE001
        log.warning("unknown site time zone %r; agent days use UTC", settings.default_timezone)
        return ZoneInfo("UTC")


def _voice(session: Session, call: Call, rows: list[SegmentRow], segs: list[Segment],
           audio: DecodedAudio | None, detector: list[Finding]) -> tuple[list[Finding], dict[str, object]]:
    """Measure voices (when audio is given), z-score agent turns against the baseline, find stress passages."""
    from qa.assess.acoustics import build_baseline, load_config, measure_segments, stress_findings, zscores
    from qa.assess.scoring import is_abuse_received

    if audio is not None:
        for row, v in zip(rows, measure_segments(audio, segs)):
            row.voice = v
    turns = [] if not call.agent_id else reports.agent_baseline_turns(
        session, call.agent_id, call, int(load_config()["baseline"]["max_calls"]))
    baseline = build_baseline(turns)
    core = list(load_config()["flag"]["core"])
    arousal = []
    voices = []
    for row in rows:
        v = dict(row.voice) if row.voice else None
        if v is not None and row.speaker == "agent":
            v.pop("z", None)
            z = zscores(v, baseline)
            got = [z[k] for k in core if k in z]
            if got:
                arousal.append(sum(got) / len(got))
            row.voice = {**v, "z": z}
        voices.append(v)
    corroborating = [f for f in detector if is_abuse_received(f) or (f.label == "stress" and f.speaker == "agent")]
    found = stress_findings(segs, voices, baseline, corroborating)
    summary = {"baseline": baseline.source, "baseline_calls": baseline.n_calls, "turns_measured": len(arousal),
               "agent_arousal": round(sum(arousal) / len(arousal), 2) if arousal else None}
    return found, summary


def _compliance(session: Session, call: Call, segs: list[Segment], detector: list[Finding],
                customer_speech_s: float, settings: Settings) -> list[Finding]:
    from qa.assess.compliance import CallFacts, RulePackError, check_call, load_pack

    code = call.jurisdiction or settings.default_jurisdiction
    try:
        pack = load_pack(code)
    except RulePackError as exc:
        log.error("call %s: %s; compliance rules skipped", call.id, exc)
        return []
    facts = CallFacts(
        call_id=call.id, started_at=call.started_at, timezone=call.timezone,
        account_id=call.account_id, agent_id=call.agent_id, callee=call.callee, direction=call.direction,
        duration=call.duration, customer_speech_s=customer_speech_s, segments=segs, findings=detector)
    return check_call(pack, facts, reports.account_history(session, call.account_id, call.id))


def update_agent_day(session: Session, agent_id: str, day: date, settings: Settings,
                     include_call_id: int | None = None) -> None:
    """Recompute one agent-day (site local day) and its day and week alerts."""
    from qa.assess.wellbeing import assess_day, load_config, week_alerts

    zone = _site_zone(settings)
    start, end = reports.day_bounds_utc(day, zone)
    calls = reports.agent_calls_between(session, agent_id, start, end, include_call_id)
    cfg = load_config()
    result = assess_day(agent_id, day, calls, zone, cfg)
    reports.save_agent_day(session, result)
    reports.sync_alerts(session, agent_id, day, cfg["alerts"].keys(), result.alerts)
    session.flush()
    monday = day - timedelta(days=day.weekday())
    week = reports.week_days(session, agent_id, monday, monday + timedelta(days=6))
    reports.sync_alerts(session, agent_id, monday, cfg["week_alerts"].keys(), week_alerts(agent_id, week, cfg))


def assess_call(session: Session, call_id: int, audio: DecodedAudio | None = None,
                settings: Settings | None = None) -> None:
    """Voice measures, conversation measures, compliance and voice-stress findings, scores and the agent's
    wellbeing day for a stored call whose transcript and detector findings are already in `session`."""
    from qa.assess.conversation import measure
    from qa.assess.scoring import review_config, review_decision, score_call

    settings = settings or get_settings()
    call = session.get(Call, call_id)
    if call is None:
        raise ValueError(f"no call with id {call_id}")
    session.flush()
    rows = list(session.scalars(select(SegmentRow).where(SegmentRow.call_id == call_id).order_by(SegmentRow.idx)))
    segs = [_segment(r) for r in rows]
    detector = [reports.finding_record(r) for r in session.scalars(select(FindingRow).where(
        FindingRow.call_id == call_id)) if not r.label.startswith("compliance/") and r.subtype != "stress/voice"]

    stress, voice_summary = _voice(session, call, rows, segs, audio, detector)
    conv = measure(segs, call.duration)
    measures = conv.to_json()
    measures["voice"] = voice_summary
    call.measures = measures

    compliance = _compliance(session, call, segs, detector, conv.customer_speech_s, settings)
    reports.replace_assessed_findings(session, call_id, [*compliance, *stress])

    score = score_call([*detector, *compliance, *stress], measures)
    call.risk_score, call.complaint_risk, call.score_reasons = score.risk, score.complaint_risk, score.reasons_json()
    review = review_decision([*detector, *compliance, *stress], review_config(settings))
    call.flagged, call.flag_reasons = review.flagged, review.reasons
    session.flush()

    if call.agent_id and call.started_at is not None:
        day = call.started_at.astimezone(_site_zone(settings)).date()
        update_agent_day(session, call.agent_id, day, settings, include_call_id=call.id)
    log.info("assessed call %s: risk %.0f, complaint %.2f, %d compliance and %d voice-stress findings",
             call_id, score.risk, score.complaint_risk, len(compliance), len(stress))
