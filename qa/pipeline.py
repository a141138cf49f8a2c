"""The one path from a recording (or a transcript) to every result about a call.

    analysis = analyze(audio_or_transcript, meta, history, settings)

Pure: no database. The caller reads the account's and agent's history from `qa.store` beforehand
(`qa.store.reports.call_history`) and persists the result afterwards (`qa.store.calls.save_analysis`).
Ingest, watch, Ray workers, `callqa detect`, `set-agent` and `assess` all come through here, so a
re-analysis is the same code as a first analysis.

Stages, in order: decode checks -> speakers + ASR (recordings only) -> detection -> voice measures and voice
stress -> conversation measures -> compliance rule pack -> call risk and complaint risk -> wellbeing exposure
-> QA form scorecard.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from qa.audio import AudioError, is_silent
from qa.config import Settings, get_settings
from qa.records import (
    AgentVoiceprint,
    CallAnalysis,
    CallHistory,
    CallMeta,
    DecodedAudio,
    Finding,
    Scorecard,
    Segment,
    Transcript,
)

log = logging.getLogger(__name__)


def transcribe(audio: DecodedAudio, meta: CallMeta, settings: Settings, transcriber: Any = None,
               voiceprint: AgentVoiceprint | None = None) -> tuple[Transcript, str]:
    """Speakers and ASR: the merged transcript and the ASR model's name. Raises AudioError on no speech."""
    from qa.asr.engine import get_transcriber
    from qa.asr.transcribe import transcribe_call

    if is_silent(audio.samples):
        raise AudioError("silent recording: no speech to transcribe")
    asr = transcriber or get_transcriber(settings)
    on = settings.agent_voiceprints  # biometric data: compared and kept only where the site turned it on
    transcript = transcribe_call(audio, meta, asr, voiceprint if on else None, keep_voiceprint=on)
    if not transcript.segments:
        raise AudioError("no speech was recognised in the recording")
    return transcript, asr.spec.name


def _voice(segments: list[Segment], raw: list[dict[str, Any] | None], history: CallHistory,
           detector: list[Finding]) -> tuple[list[Segment], list[Finding], dict[str, object]]:
    """Z-score agent turns' voice measures (`raw`, one per segment) against the agent's baseline, and find
    voice-stress passages."""
    from qa.assess.acoustics import build_baseline, load_config, stress_findings, zscores
    from qa.assess.scoring import is_abuse_received

    baseline = build_baseline(history.agent_voice)
    core = list(load_config()["flag"]["core"])
    arousal: list[float] = []
    voices: list[dict[str, Any] | None] = []
    out: list[Segment] = []
    for seg, measured in zip(segments, raw):
        v = dict(measured) if measured else None
        stored = v
        if v is not None:
            v.pop("z", None)
            stored = dict(v)
            if seg.speaker == "agent":
                z = zscores(v, baseline)
                got = [z[k] for k in core if k in z]
                if got:
                    arousal.append(sum(got) / len(got))
                stored = {**v, "z": z}
        voices.append(v)
        out.append(replace(seg, voice=stored))
    corroborating = [f for f in detector if is_abuse_received(f) or (f.label == "stress" and f.speaker == "agent")]
    found = stress_findings(out, voices, baseline, corroborating)
    summary = {"baseline": baseline.source, "baseline_calls": baseline.n_calls, "turns_measured": len(arousal),
               "agent_arousal": round(sum(arousal) / len(arousal), 2) if arousal else None}
    return out, found, summary


def _compliance(call_id: int | None, meta: CallMeta, transcript: Transcript, detector: list[Finding],
                customer_speech_s: float, history: CallHistory, settings: Settings) -> list[Finding]:
    from qa.assess.compliance import CallFacts, RulePackError, check_call, load_pack

    code = meta.jurisdiction or settings.default_jurisdiction
    try:
        pack = load_pack(code)
    except RulePackError as exc:
        log.error("call %s: %s; compliance rules skipped", call_id, exc)
        return []
    facts = CallFacts(
        call_id=call_id, started_at=meta.started_at, timezone=meta.timezone, account_id=meta.account_id,
        agent_id=meta.agent_id, callee=meta.callee, direction=meta.direction, duration=transcript.duration,
        customer_speech_s=customer_speech_s, segments=transcript.segments, findings=detector)
    return check_call(pack, facts, history.account_calls)


def _scorecard(transcript: Transcript, findings: list[Finding], measures: dict[str, Any], meta: CallMeta,
               settings: Settings, form_id: str | None) -> Scorecard | None:
    """The call scored against its QA form (`form_id`, else the form that applies to the call). A named form
    that cannot be used raises FormError; when none applies the call has no scorecard (logged)."""
    from qa.assess.forms import FormError, load_forms, score_call_form, select_form

    try:
        form = select_form(load_forms(settings.forms_dir), meta, form_id)
    except FormError as exc:
        if form_id is not None:
            raise
        log.error("call %s: %s; no QA scorecard", transcript.call_id, exc)
        return None
    return score_call_form(transcript, findings, measures, meta, form)


def analyze(source: DecodedAudio | Transcript, meta: CallMeta, history: CallHistory | None = None,
            settings: Settings | None = None, *, audio: DecodedAudio | None = None,
            detected: list[Finding] | None = None, transcriber: Any = None,
            classifier: Any = None, use_model: bool = True, call_id: int | None = None,
            form_id: str | None = None) -> CallAnalysis:
    """Every result about one call.

    `source`: the decoded recording (transcribed here) or a stored transcript (no re-transcription).
    `history`: the account's other calls and the agent's earlier voice turns (empty when not given).
    `audio`: with a transcript source, the recording to measure voices on; without it, each segment's
    stored voice measures are used.
    `detected`: detector findings already decided (`callqa assess`: rules and scores re-run, detection not);
    None runs detection. `transcriber`, `classifier`: loaded models to reuse (loaded once per process if None);
    `use_model=False` detects with rules and dialogue logic only.
    `call_id`: the stored call's id, when there is one (named in explanations and logs).
    `form_id`: score against this QA form (FormError if it cannot be used); None: the form that applies.
    """
    from qa.assess.acoustics import measure_segments
    from qa.assess.conversation import measure
    from qa.assess.scoring import review_config, review_decision, score_call
    from qa.assess.wellbeing import call_exposure
    from qa.detect import detect_transcript
    from qa.speakers.attribution import attribution, with_doubt

    settings = settings or get_settings()
    history = history or CallHistory()
    asr_model: str | None = None
    if isinstance(source, DecodedAudio):
        audio = source
        transcript, asr_model = transcribe(source, meta, settings, transcriber, history.agent_voiceprint)
    else:
        transcript = source
    if call_id is not None:
        transcript = replace(transcript, call_id=call_id)
    if audio is not None:  # the recording's length, as stored on the call (measures and rules use it)
        transcript = replace(transcript, duration=float(audio.info.duration))

    # Voice measures (pyin over the recording) run beside text detection: neither needs the other's result.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice") as pool:
        measured = pool.submit(measure_segments, audio, transcript.segments) if audio is not None else None
        detector = list(detected) if detected is not None else detect_transcript(transcript, meta, settings,
                                                                                 classifier=classifier,
                                                                                 use_model=use_model)
        raw = measured.result() if measured is not None else [s.voice for s in transcript.segments]
    segments, stress, voice_summary = _voice(transcript.segments, raw, history, detector)
    transcript = replace(transcript, segments=segments)
    conv = measure(segments, transcript.duration)
    measures = conv.to_json()
    measures["voice"] = voice_summary
    compliance = _compliance(transcript.call_id, meta, transcript, detector, conv.customer_speech_s, history,
                             settings)
    # A weak speaker attribution (mono, similar voices) lowers the findings that depend on who spoke.
    findings = with_doubt([*detector, *compliance, *stress], attribution(transcript))
    review_rules = review_config(settings)
    score = score_call(findings, measures, model_only=review_rules["model_only"])
    review = review_decision(findings, review_rules)
    log.info("analysed call %s: risk %.0f, complaint %.2f, %d detector, %d compliance, %d voice-stress findings, "
             "%s", transcript.call_id, score.risk, score.complaint_risk, len(detector), len(compliance), len(stress),
             "flagged for review" if review.flagged else "below the review threshold")
    return CallAnalysis(
        transcript=transcript, findings=findings, measures=measures, risk=score.risk,
        complaint_risk=score.complaint_risk, score_reasons=score.reasons_json(),
        exposure=call_exposure(findings, measures), audio=audio.info if audio is not None else None,
        asr_model=asr_model, scorecard=_scorecard(transcript, findings, measures, meta, settings, form_id),
        flagged=review.flagged, flag_reasons=review.reasons)


def score_transcript(transcript: Transcript, meta: CallMeta, form_id: str | None = None,
                     settings: Settings | None = None, use_model: bool = True) -> Scorecard:
    """A bare transcript's QA scorecard, through `analyze` (nothing stored; no account history): for writing
    and testing forms (`callqa scorecard --transcript`, benchmarks/form_agreement.py). FormError when no form
    applies or `form_id` cannot be used."""
    from qa.assess.forms import load_forms, select_form

    settings = settings or get_settings()
    form = select_form(load_forms(settings.forms_dir), meta, form_id)  # raises with the reason
    card = analyze(transcript, meta, settings=settings, use_model=use_model, form_id=form.id).scorecard
    assert card is not None
    return card
