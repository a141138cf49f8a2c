"""Score a bare transcript against a QA form: detection, conversation measures and the jurisdiction's
compliance rules over the transcript (nothing stored), then `forms.score_call_form`.

Used by `callqa scorecard --transcript` (writing and testing forms) and the form-agreement benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qa.assess.forms import Scorecard, load_forms, score_call_form, select_form
from qa.config import Settings, get_settings
from qa.records import CallMeta, Finding, Segment, Transcript, Word


@dataclass
class TranscriptAnalysis:
    findings: list[Finding]
    measures: dict[str, Any]


def transcript_from_json(d: dict[str, Any]) -> Transcript:
    """A Transcript from the `callqa transcript --json` format."""
    try:
        segments = [Segment(speaker=s["speaker"], start=float(s["start"]), end=float(s["end"]), text=str(s["text"]),
                            words=[Word(float(w["start"]), float(w["end"]), str(w.get("word", "")),
                                        float(w.get("probability", 1.0))) for w in s.get("words", [])])
                    for s in d["segments"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a `callqa transcript --json` transcript: {type(exc).__name__}: {exc}") from None
    duration = float(d.get("duration") or max((s.end for s in segments), default=0.0))
    return Transcript(call_id=d.get("call_id"), language=str(d.get("language") or "zh"), duration=duration,
                      segments=segments)


def analyze_transcript(transcript: Transcript, meta: CallMeta, settings: Settings | None = None,
                       use_model: bool = True) -> TranscriptAnalysis:
    """Detector findings (rules, dialogue logic, the learned model when `use_model`), conversation measures
    and compliance findings (without account history) of a transcript."""
    from qa.assess.compliance import CallFacts, RulePackError, check_call, load_pack
    from qa.assess.conversation import measure
    from qa.detect.engine import detect_transcript

    settings = settings or get_settings()
    findings = detect_transcript(transcript, meta, settings, use_model=use_model)
    conv = measure(transcript.segments, transcript.duration)
    try:
        pack = load_pack(meta.jurisdiction or settings.default_jurisdiction)
    except RulePackError:
        pack = None
    if pack is not None:
        facts = CallFacts(call_id=transcript.call_id, started_at=meta.started_at, timezone=meta.timezone,
                          account_id=meta.account_id, agent_id=meta.agent_id, callee=meta.callee,
                          direction=meta.direction, duration=transcript.duration,
                          customer_speech_s=conv.customer_speech_s, segments=transcript.segments, findings=findings)
        findings = [*findings, *check_call(pack, facts, [])]
    return TranscriptAnalysis(findings=findings, measures=conv.to_json())


def score_transcript(transcript: Transcript, meta: CallMeta, form_id: str | None = None,
                     settings: Settings | None = None, use_model: bool = True) -> Scorecard:
    settings = settings or get_settings()
    form = select_form(load_forms(settings.forms_dir), meta, form_id)
    analysis = analyze_transcript(transcript, meta, settings, use_model)
    return score_call_form(transcript, analysis.findings, analysis.measures, meta, form)
