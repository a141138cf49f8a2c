"""How far a call's speaker attribution (who said each line) can be trusted: one 0..1 figure and its reason.

Stereo calls are attributed by channel (1.0). Mono calls multiply two independent doubts:
- voice: how distinct the two diarised voices are (centroid cosine; similar voices such as two women of one
  family on a telephone line sit near the same-speaker threshold), or one voice heard in a call long enough to
  hold two parties;
- role: how sure the content evidence is about which voice is the agent (`qa.speakers.roles.AgentChoice`).

Each `SpeakerAssignment` of a call carries the call's figure in `confidence` and the explanation in `reason`;
later stages call `attribution(transcript)` rather than reading the fields themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from qa.records import Finding, Transcript
from qa.speakers.diarize import SAME_SPEAKER_COS, Diarization
from qa.speakers.roles import AgentChoice

# Below this, speaker-dependent findings should carry the doubt (shown as "speaker attribution uncertain").
LOW_CONFIDENCE = 0.6
_DISTINCT_COS = 0.55  # voice centroids at or below this cosine are clearly two people
_ONE_VOICE_MIN_SPEECH_S = 8.0  # a mono call with this much speech and one voice may have merged two parties


@dataclass
class Attribution:
    confidence: float  # 0..1: how likely each line's speaker role is right
    reason: str

    @property
    def uncertain(self) -> bool:
        return self.confidence < LOW_CONFIDENCE


def voice_confidence(d: Diarization, speech_seconds: float) -> tuple[float, str]:
    """0.5 (voices indistinguishable) .. 1.0 (clearly two people), with the reason."""
    if d.voices == 2 and d.voice_similarity is not None:
        span = (SAME_SPEAKER_COS - d.voice_similarity) / (SAME_SPEAKER_COS - _DISTINCT_COS)
        conf = 0.5 + 0.5 * min(1.0, max(0.0, span))
        return conf, f"two voices told apart (voice similarity {d.voice_similarity:.2f})"
    if d.voices == 1 and speech_seconds >= _ONE_VOICE_MIN_SPEECH_S:
        return 0.3, (f"only one voice found in {speech_seconds:.0f} s of speech ({d.note}): "
                     "another party's lines may be attributed to this speaker")
    return 1.0, f"one speaker ({d.note})" if d.note else "one speaker"


def mono_attribution(d: Diarization, choice: AgentChoice, speech_seconds: float) -> Attribution:
    voice, voice_why = voice_confidence(d, speech_seconds)
    role = choice.confidence if d.voices == 2 else 1.0  # one voice: its role is the whole question of `voice`
    return Attribution(round(voice * role, 3), f"{voice_why}; agent: {choice.reason} (role confidence "
                                               f"{choice.confidence:.2f})")


def attribution(transcript: Transcript) -> Attribution:
    """The call's speaker-attribution confidence for other stages (detection, scoring, views)."""
    if not transcript.speakers:
        return Attribution(1.0, "no speakers recorded")
    weakest = min(transcript.speakers, key=lambda s: s.confidence)
    return Attribution(round(weakest.confidence, 3), weakest.reason)


SPEAKER_DEPENDENT_LABELS = ("threat", "harassment", "stress")
THIRD_PARTY_DISCLOSURE = "privacy/third_party_disclosure"


def speaker_dependent(f: Finding) -> bool:
    """Findings whose meaning rests on who spoke: threats, harassment and stress (by whom, at whom) and a
    disclosure to a third party (the agent said it). Spoken PII or a missing disclosure do not."""
    return f.speaker is not None and (f.label in SPEAKER_DEPENDENT_LABELS or f.subtype == THIRD_PARTY_DISCLOSURE)


def with_doubt(findings: list[Finding], att: Attribution) -> list[Finding]:
    """Carry an uncertain speaker attribution into the findings that depend on it.

    A finding such as "the agent threatened the customer" is right only if the words were said and the speaker
    is right, so its score becomes score x attribution confidence, and its explanation says why (both
    languages). The original score stays in `details["score_before_attribution"]`. Confident calls are
    returned unchanged."""
    if not att.uncertain:
        return findings
    out = []
    for f in findings:
        if not speaker_dependent(f):
            out.append(f)
            continue
        details = dict(f.details or {})
        details["score_before_attribution"] = f.score
        details["attribution_confidence"] = att.confidence
        note_en = (f" Speaker attribution is uncertain (confidence {att.confidence:.2f}: {att.reason}); "
                   f"score lowered from {f.score:.2f}.")
        note_zh = f" 说话人归属不确定（置信度 {att.confidence:.2f}），分数由 {f.score:.2f} 下调。"
        if details.get("explanation_zh"):
            details["explanation_zh"] = str(details["explanation_zh"]) + note_zh
        else:
            details["attribution_note_zh"] = note_zh.strip()
        out.append(replace(f, score=round(f.score * att.confidence, 4), explanation=f.explanation + note_en,
                           details=details))
    return out
