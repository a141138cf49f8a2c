"""Conversation measures of one call from its transcript: who talked how much, silences and holds,
overtalk and interruptions, speech rate, how the call ended, and customer anger / complaint intent words.

Intervals come from word timestamps where the ASR gave them (segments include pauses), else from segments.
Lexicons and thresholds: `qa/data/conversation.yaml`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from qa.data import load_file
from qa.data import path as data_path
from qa.records import Segment
from qa.text import PhraseSet

CONFIG = data_path("conversation")
Interval = tuple[float, float]
_LATIN_WORD = re.compile(r"[a-zA-Z']+")
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


@dataclass
class ConversationConfig:
    long_hold_s: float
    interruption_min_overlap_s: float
    effective_min_customer_speech_s: float
    hangup_tail_s: float
    anger: PhraseSet
    complaint: PhraseSet
    farewell: PhraseSet


@lru_cache(maxsize=4)
def load_config(path: Path = CONFIG) -> ConversationConfig:
    data = load_file(path)

    def phrases(key: str) -> PhraseSet:
        return PhraseSet.from_spec(data.get(key), pinyin_min_len=None, fuzzy_min_len=4)

    return ConversationConfig(
        long_hold_s=float(data.get("long_hold_s", 20.0)),
        interruption_min_overlap_s=float(data.get("interruption_min_overlap_s", 0.3)),
        effective_min_customer_speech_s=float(data.get("effective_min_customer_speech_s", 5.0)),
        hangup_tail_s=float(data.get("hangup_tail_s", 1.5)),
        anger=phrases("customer_anger"), complaint=phrases("complaint_intent"), farewell=phrases("farewell"),
    )


def is_connected(customer_speech_s: float | None, config: ConversationConfig | None = None) -> bool:
    """A connected call: the customer spoke at least `effective_min_customer_speech_s` (conversation.yaml).

    The one definition of a connected (effective) call: conversation measures, the daily limit on effective
    calls, the third-party rules and the disclosure check all ask this function."""
    cfg = config or load_config()
    return float(customer_speech_s or 0.0) >= cfg.effective_min_customer_speech_s


@dataclass
class LexiconHit:
    phrase: str
    speaker: str
    start: float
    end: float
    segment_index: int


@dataclass
class ConversationMeasures:
    duration_s: float
    talk_s: dict[str, float]
    talk_share: dict[str, float]
    silence_s: float
    silence_ratio: float
    long_holds: list[dict[str, float]]
    overtalk_s: float
    interruptions: dict[str, int]  # who interrupted: agent/customer -> count
    interruption_times: list[dict[str, Any]]
    speech_rate_sps: dict[str, float | None]  # syllables per second of own talk time
    turns: dict[str, int]
    customer_speech_s: float
    connected: bool  # the customer spoke for at least `effective_min_customer_speech_s`
    last_speaker: str | None
    trailing_silence_s: float | None
    ended_with_farewell: bool
    ended_by: str | None  # heuristic: the speaker whose words were cut off by the end of the line, else None
    customer_anger: list[LexiconHit] = field(default_factory=list)
    complaint_intent: list[LexiconHit] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["customer_anger_count"] = len(self.customer_anger)
        data["complaint_intent_count"] = len(self.complaint_intent)
        return data


# --- interval arithmetic -----------------------------------------------------------------------------


def union(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[list[float]] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def total(intervals: Sequence[Interval]) -> float:
    return sum(b - a for a, b in intervals)


def intersect(x: Sequence[Interval], y: Sequence[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(x) and j < len(y):
        a, b = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if b > a:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def speech_intervals(seg: Segment) -> list[Interval]:
    """The segment's words as time intervals; the segment's own span when no word has a duration (Whisper can
    give every word of a short segment the same start and end)."""
    spans = [(w.start, w.end) for w in seg.words if w.end > w.start]
    return spans or [(seg.start, seg.end)]


def syllables(text: str) -> int:
    """Approximate syllables: one per Chinese character, vowel groups per English word (at least one)."""
    n = len(_CJK_CHAR.findall(text))
    for word in _LATIN_WORD.findall(text.lower()):
        groups = len(_VOWEL_GROUPS.findall(word))
        if word.endswith("e") and groups > 1 and not word.endswith(("le", "ee")):
            groups -= 1
        n += max(1, groups)
    return n


# --- measures ----------------------------------------------------------------------------------------


def _hits(phrases: PhraseSet, segments: Sequence[Segment], speaker: str) -> list[LexiconHit]:
    out = []
    for i, seg in enumerate(segments):
        if seg.speaker != speaker:
            continue
        for hit in phrases.find_all(seg.text):
            out.append(LexiconHit(phrase=hit.text, speaker=speaker, start=round(seg.start, 2),
                                  end=round(seg.end, 2), segment_index=i))
    return out


def measure(segments: Sequence[Segment], duration: float | None = None,
            config: ConversationConfig | None = None) -> ConversationMeasures:
    """Conversation measures of a call; `segments` in transcript order, `duration` of the recording."""
    cfg = config or load_config()
    segments = sorted(segments, key=lambda s: (s.start, s.end))
    end_of_speech = max((s.end for s in segments), default=0.0)
    dur = max(float(duration or 0.0), end_of_speech)
    by_role = {r: union(iv for s in segments if s.speaker == r for iv in speech_intervals(s))
               for r in ("agent", "customer")}
    talk = {r: round(total(iv), 2) for r, iv in by_role.items()}
    talk_total = sum(talk.values())
    share = {r: round(t / talk_total, 3) if talk_total else 0.0 for r, t in talk.items()}
    anyone = union(by_role["agent"] + by_role["customer"])
    silence = max(0.0, dur - total(anyone))
    holds = [{"start": round(a[1], 2), "end": round(b[0], 2), "seconds": round(b[0] - a[1], 2)}
             for a, b in zip(anyone, anyone[1:]) if b[0] - a[1] >= cfg.long_hold_s]
    overtalk = total(intersect(by_role["agent"], by_role["customer"]))

    interruptions = {"agent": 0, "customer": 0}
    times: list[dict[str, Any]] = []
    for seg in segments:
        other = by_role["customer" if seg.speaker == "agent" else "agent"]
        t0 = speech_intervals(seg)[0][0]
        for a, b in other:
            if a < t0 < b and min(b, seg.end) - t0 >= cfg.interruption_min_overlap_s:
                interruptions[seg.speaker] += 1
                times.append({"speaker": seg.speaker, "at": round(t0, 2)})
                break

    rate: dict[str, float | None] = {}
    for role in ("agent", "customer"):
        syl = sum(syllables(s.text) for s in segments if s.speaker == role)
        rate[role] = round(syl / talk[role], 2) if talk[role] > 1.0 else None

    last = segments[-1] if segments else None
    tail = round(dur - last.end, 2) if last else None
    farewell = any(cfg.farewell.find(s.text) for s in segments[-2:])
    ended_by = last.speaker if last and tail is not None and tail <= cfg.hangup_tail_s and not farewell else None

    return ConversationMeasures(
        duration_s=round(dur, 2), talk_s=talk, talk_share=share, silence_s=round(silence, 2),
        silence_ratio=round(silence / dur, 3) if dur else 0.0, long_holds=holds, overtalk_s=round(overtalk, 2),
        interruptions=interruptions, interruption_times=times[:50], speech_rate_sps=rate,
        turns={r: sum(1 for s in segments if s.speaker == r) for r in ("agent", "customer")},
        customer_speech_s=talk["customer"], connected=is_connected(talk["customer"], cfg),
        last_speaker=last.speaker if last else None, trailing_silence_s=tail, ended_with_farewell=farewell,
        ended_by=ended_by, customer_anger=_hits(cfg.anger, segments, "customer"),
        complaint_intent=_hits(cfg.complaint, segments, "customer"),
    )
