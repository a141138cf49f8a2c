"""Plain records passed between pipeline stages.

Every stage takes and returns these dataclasses; only `qa.store` maps them to the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, Protocol, Sequence

import numpy as np

Role = Literal["agent", "customer"]
ROLES: tuple[Role, Role] = ("agent", "customer")

#: The four detection labels; a clean utterance has none.
LABELS: tuple[str, ...] = ("threat", "harassment", "privacy", "stress")


@dataclass
class CallMeta:
    """What the manifest (or the caller) knows about a recording before it is processed."""

    agent_id: str | None = None
    account_id: str | None = None
    callee: str | None = None  # "debtor" or a relation such as "neighbor", "spouse", "colleague"
    started_at: datetime | None = None  # timezone-aware
    direction: str | None = None  # "outbound" | "inbound"
    jurisdiction: str | None = None  # "cn" | "us" | ...
    agent_channel: int | None = None  # 0 = left, 1 = right; None = site default
    team: str | None = None
    timezone: str | None = None  # the debtor's IANA zone when known (calling-hour rules)


@dataclass
class AudioInfo:
    """What decoding found out about a file."""

    path: str
    sha256: str
    size_bytes: int
    duration: float
    channels: int
    source_rate: int
    codec: str


@dataclass
class DecodedAudio:
    """16 kHz float32 samples, one row per channel."""

    info: AudioInfo
    samples: np.ndarray  # shape (channels, n)
    rate: int = 16000

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0).astype(np.float32)


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float = 1.0


@dataclass
class Segment:
    """One speaker turn (or part of it) in the merged transcript."""

    speaker: Role
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    raw_text: str | None = None  # text before Simplified conversion and cleaning
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    channel: int | None = None
    voice: dict[str, Any] | None = None  # voice measures of this turn (qa.assess.acoustics), "z" vs the baseline

    def to_json(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "words": [
                {"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word,
                 "probability": round(w.probability, 4)}
                for w in self.words
            ],
        }


@dataclass
class SpeakerAssignment:
    """How a stream of audio (a channel or a diarised cluster) was mapped to a role."""

    role: Role
    label: str  # "channel 0", "cluster 1"
    method: str  # "channel", "diarization"
    confidence: float = 1.0
    reason: str = ""
    # The agent's voice embedding in this call (unit GE2E vector), kept only with `agent_voiceprints` on, for the
    # agent's stream, when the attribution is sure or a reviewer named the agent: what the agent's voiceprint for
    # other calls is built from.
    voiceprint: list[float] | None = None


@dataclass
class Transcript:
    call_id: int | None
    language: str  # "zh", "en", "mixed"
    duration: float
    segments: list[Segment]
    speakers: list[SpeakerAssignment] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "language": self.language,
            "duration": round(self.duration, 3),
            "segments": [s.to_json() for s in self.segments],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Transcript:
        """Read back `to_json` (the `callqa transcript --json` format); ValueError names what is wrong."""
        try:
            segments = [Segment(speaker=s["speaker"], start=float(s["start"]), end=float(s["end"]),
                                text=str(s["text"]),
                                words=[Word(float(w["start"]), float(w["end"]), str(w.get("word", "")),
                                            float(w.get("probability", 1.0))) for w in s.get("words", [])])
                        for s in d["segments"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a `callqa transcript --json` transcript: {type(exc).__name__}: {exc}") from None
        duration = float(d.get("duration") or max((s.end for s in segments), default=0.0))
        return cls(call_id=d.get("call_id"), language=str(d.get("language") or "zh"), duration=duration,
                   segments=segments)


@dataclass
class Finding:
    """One flag a reviewer sees, with its evidence."""

    label: str  # threat | harassment | privacy | stress | compliance/<rule>
    subtype: str  # e.g. "threat/violence"
    speaker: Role | None
    start: float | None
    end: float | None
    span: str
    score: float
    source: str  # rule id, or model name and version
    explanation: str
    segment_index: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SELF_HARM = "threat/self_harm"
ABUSE_LABELS = ("threat", "harassment")


class FindingLike(Protocol):
    """What `is_abuse_received` reads: a `Finding` or a stored finding row."""

    label: str
    subtype: str
    speaker: str | None
    details: dict[str, Any] | None


def is_model_only(f: FindingLike) -> bool:
    """A finding the learned model raised without a rule behind it."""
    d = f.details or {}
    return "model_p" in d and "rule_score" not in d


def is_abuse_received(f: FindingLike) -> bool:
    """The one definition of abuse received: threats and harassment by the customer against the agent.

    A customer speaking of harming themself (`threat/self_harm`) is not abuse of the agent; a customer
    reporting that a third party threatened them (`direction: to_third_party`) is not either. Scoring,
    wellbeing, conversation measures and the dashboard's wellbeing page all count abuse with this function.
    """
    if f.label not in ABUSE_LABELS or f.subtype == SELF_HARM:
        return False
    direction = (f.details or {}).get("direction")
    if direction == "to_agent" or f.subtype.endswith("/to_agent"):
        return True
    return f.speaker == "customer" and direction not in ("to_third_party", "self")


# --- history: what the caller reads from the store before analysing a call -----------------------------


@dataclass
class PriorCall:
    """Another stored call on the same account (status done)."""

    call_id: int
    started_at: datetime
    direction: str | None
    callee: str | None
    customer_speech_s: float


@dataclass
class AgentVoiceprint:
    """An agent's voice: the unit mean of their voice embeddings in other calls (`agent_voiceprints` on)."""

    agent_id: str
    embedding: list[float]
    calls: int  # how many calls it rests on


@dataclass
class CallHistory:
    """Plain records of earlier work the analysis of one call depends on (read by the caller, via qa.store).

    `account_calls`: the account's other stored calls (calling-frequency and third-party rules).
    `agent_voice`: voice measures of the agent's turns in their most recent earlier calls, most recent first
    (the agent's own voice baseline).
    `agent_voiceprint`: the agent's voiceprint from their other calls, which tells which voice of a mono call is
    theirs (None when voiceprints are off or none is stored yet).
    """

    account_calls: list[PriorCall] = field(default_factory=list)
    agent_voice: list[list[dict[str, Any]]] = field(default_factory=list)
    agent_voiceprint: AgentVoiceprint | None = None


@dataclass
class CallExposure:
    """What one call adds to its agent's wellbeing day."""

    abuse: list[tuple[str, float]] = field(default_factory=list)  # (subtype, score) of abuse received
    stress_voice: int = 0  # stress/voice findings on the agent
    arousal: float | None = None  # mean positive z of the agent's core voice markers in this call
    self_harm: bool = False


@dataclass
class CallAnalysis:
    """Everything `qa.pipeline.analyze` finds out about one call; `qa.store.calls.save_analysis` persists it.

    `findings` are the active findings of this run (detector, compliance and voice stress); scores and
    exposure are computed from them alone.
    """

    transcript: Transcript  # segments carry their voice measures
    findings: list[Finding]
    measures: dict[str, Any]  # conversation measures, with the voice summary under "voice"
    risk: float
    complaint_risk: float
    score_reasons: list[dict[str, Any]]
    exposure: CallExposure
    audio: AudioInfo | None = None  # set when the analysis started from a recording
    asr_model: str | None = None
    scorecard: Scorecard | None = None  # the call scored against its QA form (None: no form applies)
    flagged: bool = False  # a finding reached its kind's review threshold: the call enters the review queue
    flag_reasons: list[dict[str, Any]] = field(default_factory=list)  # the findings that flagged it, and why


@dataclass
class StoredCall:
    """A stored call read back for an agent-day: when, how long, its risk, measures and active findings."""

    call_id: int
    started_at: datetime  # aware
    duration: float
    risk: float | None
    measures: dict[str, Any]
    findings: list[Finding]


@dataclass
class AlertSpec:
    kind: str
    severity: str  # info | warning | critical
    message: str
    day: date
    evidence: dict[str, Any]


@dataclass
class DayResult:
    agent_id: str
    day: date
    calls: int
    wellbeing: float
    metrics: dict[str, Any]
    alerts: list[AlertSpec]


# --- QA scorecards (qa.assess.forms scores a call against a form; qa.store keeps people's changes) ----------

Result = Literal["pass", "fail", "na"]
RESULTS: tuple[str, ...] = ("pass", "fail", "na")


@dataclass
class Evidence:
    start: float | None
    end: float | None
    speaker: str | None
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"start": None if self.start is None else round(self.start, 3),
                "end": None if self.end is None else round(self.end, 3), "speaker": self.speaker, "text": self.text}


@dataclass
class ItemResult:
    id: str
    section: str
    result: Result
    auto: bool
    confidence: float
    evidence: list[Evidence]
    rule: str  # the check or the detector/model that decided
    weight: float
    fatal: bool
    text: str = ""
    text_en: str = ""
    coaching: str | None = None
    auto_result: Result | None = None  # what the automatic check said, when a person changed it
    changed_by: str | None = None
    change_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `callqa scorecard --json` item contract."""
        return {"id": self.id, "section": self.section, "result": self.result, "auto": self.auto,
                "confidence": round(self.confidence, 3), "evidence": [e.to_json() for e in self.evidence]}

    def to_record(self) -> dict[str, Any]:
        """Everything, for storage."""
        return {**self.to_json(), "rule": self.rule, "weight": self.weight, "fatal": self.fatal, "text": self.text,
                "text_en": self.text_en, "coaching": self.coaching, "auto_result": self.auto_result,
                "changed_by": self.changed_by, "change_reason": self.change_reason}

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> ItemResult:
        return cls(id=d["id"], section=d["section"], result=d["result"], auto=bool(d["auto"]),
                   confidence=float(d["confidence"]),
                   evidence=[Evidence(e.get("start"), e.get("end"), e.get("speaker"), e.get("text", ""))
                             for e in d.get("evidence", [])],
                   rule=d.get("rule", ""), weight=float(d.get("weight", 0)), fatal=bool(d.get("fatal", False)),
                   text=d.get("text", ""), text_en=d.get("text_en", ""), coaching=d.get("coaching"),
                   auto_result=d.get("auto_result"), changed_by=d.get("changed_by"),
                   change_reason=d.get("change_reason"))


@dataclass
class SectionScore:
    id: str
    score: float
    max_score: float
    fatal_failed: bool


@dataclass
class Scorecard:
    call_id: int | None
    form: str
    form_version: int
    score: float
    max_score: float
    fatal_failed: bool
    items: list[ItemResult]
    sections: list[SectionScore] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.score / self.max_score, 1) if self.max_score else None

    def item(self, item_id: str) -> ItemResult | None:
        return next((i for i in self.items if i.id == item_id), None)

    def to_json(self) -> dict[str, Any]:
        """Exactly the `callqa scorecard --json` contract."""
        return {"call_id": self.call_id, "form": self.form, "form_version": self.form_version,
                "score": self.score, "max_score": self.max_score, "fatal_failed": self.fatal_failed,
                "items": [i.to_json() for i in self.items]}


def totals(card: Scorecard) -> Scorecard:
    """Section and total scores from the item results: points of passed items out of the applicable items'
    points; any failed fatal item fails the call (score 0)."""
    sections: dict[str, SectionScore] = {}
    for it in card.items:
        sec = sections.setdefault(it.section, SectionScore(it.section, 0.0, 0.0, False))
        if it.result == "na":
            continue
        sec.max_score += it.weight
        if it.result == "pass":
            sec.score += it.weight
        elif it.fatal:
            sec.fatal_failed = True
    fatal = any(s.fatal_failed for s in sections.values())
    max_score = sum(s.max_score for s in sections.values())
    score = 0.0 if fatal else sum(s.score for s in sections.values())
    return replace(card, score=round(score, 2), max_score=round(max_score, 2), fatal_failed=fatal,
                   sections=list(sections.values()))


@dataclass(frozen=True)
class Change:
    """A person's decision on one item (a reviewer's override, or an accepted dispute)."""

    item_id: str
    result: Result
    by: str
    reason: str


def apply_overrides(card: Scorecard, changes: Sequence[Change]) -> Scorecard:
    """The scorecard with people's decisions applied (the latest per item wins) and the scores recomputed."""
    latest = {c.item_id: c for c in changes}
    items = []
    for it in card.items:
        c = latest.get(it.id)
        if c is None:
            items.append(it)
        else:
            items.append(replace(it, result=c.result, auto=False, confidence=1.0,
                                 auto_result=it.auto_result or it.result, changed_by=c.by, change_reason=c.reason))
    return totals(replace(card, items=items))


VERDICT_HOLDOUT_SHARE = 0.2  # share of judged lines kept out of verdict training (picked by a hash of the line)


@dataclass
class VerdictLine:
    """A reviewer's latest confirm/dismiss verdict on a detector finding, with the utterance it was raised on:
    one label for `callqa train --with-verdicts` (read by `qa.store.reviews.verdict_lines`)."""

    text: str
    speaker: str
    label: str
    positive: bool  # confirmed (True) or dismissed (False)
    finding_id: int = 0

    @property
    def holdout(self) -> bool:
        """In the fixed verdict hold-out (never trained on): the hash of the line picks it, so it never changes
        as verdicts accumulate."""
        h = int(hashlib.sha256(f"{self.text}|{self.speaker}|{self.label}".encode()).hexdigest()[:8], 16)
        return h / 0xFFFFFFFF < VERDICT_HOLDOUT_SHARE
