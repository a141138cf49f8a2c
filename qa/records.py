"""Plain records passed between pipeline stages.

Every stage takes and returns these dataclasses; only `qa.store` maps them to the database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

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
