"""Detector framework: utterances in, `Finding` records out; detectors are small classes in a registry.

Like Presidio's recognizers, each detector owns its patterns (from YAML), validators and context words, and
every result says why it fired. Utterance detectors look at one utterance at a time (and may read the
previous one for context); dialogue detectors look at the whole call (third-party disclosure).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from qa.records import CallMeta, Finding, Role, Segment, Word
from qa.text import UtteranceText

log = logging.getLogger(__name__)


@dataclass
class Utterance:
    """One turn to analyse: a transcript segment, or one line given to `callqa classify`."""

    index: int
    speaker: Role | None
    text: str
    start: float | None = None
    end: float | None = None
    words: list[Word] = field(default_factory=list)
    lang: str | None = None

    @cached_property
    def views(self) -> UtteranceText:
        return UtteranceText(self.text)

    @classmethod
    def from_segment(cls, index: int, seg: Segment) -> Utterance:
        return cls(index, seg.speaker, seg.text or "", seg.start, seg.end, list(seg.words))

    def times(self, char_start: int, char_end: int) -> tuple[float | None, float | None]:
        """Start/end seconds of original characters [char_start, char_end): from word timings when the
        words can be found in the text in order, else the whole utterance."""
        if not self.words or self.start is None:
            return self.start, self.end
        pos = 0
        first: float | None = None
        last: float | None = None
        for w in self.words:
            token = w.word.strip()
            if not token:
                continue
            at = self.text.find(token, pos)
            if at < 0:
                continue
            w_end = at + len(token)
            if w_end > char_start and at < char_end:
                first = w.start if first is None else first
                last = w.end
            pos = w_end
            if at >= char_end:
                break
        if first is None or last is None:
            return self.start, self.end
        return first, last


@dataclass
class Context:
    """What detectors may read besides the utterance itself."""

    meta: CallMeta
    utterances: Sequence[Utterance]

    def previous(self, utt: Utterance) -> Utterance | None:
        return self.utterances[utt.index - 1] if 0 < utt.index <= len(self.utterances) else None


def make_finding(utt: Utterance, *, label: str, subtype: str, rule: str, score: float, explanation: str,
                 char_span: tuple[int, int] | None = None, speaker: Role | None | str = "utterance",
                 details: dict[str, Any] | None = None) -> Finding:
    """A finding on `utt` whose span is the given original characters (or the whole utterance)."""
    s, e = char_span if char_span else (0, len(utt.text))
    start, end = utt.times(s, e)
    who = utt.speaker if speaker == "utterance" else speaker
    return Finding(label=label, subtype=subtype, speaker=who, start=start, end=end,  # type: ignore[arg-type]
                   span=utt.text[s:e].strip() or utt.text, score=round(min(1.0, max(0.0, score)), 4),
                   source=rule, explanation=explanation, segment_index=utt.index, details=details or {})


class Detector:
    """An utterance detector. Subclasses set `name` and `labels` and implement `detect`."""

    name: str = "detector"
    labels: tuple[str, ...] = ()

    def detect(self, utt: Utterance, ctx: Context) -> list[Finding]:
        raise NotImplementedError


class DialogueDetector:
    """A detector over the whole call (needs the order of turns and who said what)."""

    name: str = "dialogue"
    labels: tuple[str, ...] = ()

    def detect_dialogue(self, ctx: Context) -> list[Finding]:
        raise NotImplementedError


@dataclass
class Registry:
    """The detectors in use; sites can add their own (`register`) or drop some by name (`without`)."""

    utterance: list[Detector] = field(default_factory=list)
    dialogue: list[DialogueDetector] = field(default_factory=list)

    def register(self, detector: Detector | DialogueDetector) -> None:
        if isinstance(detector, DialogueDetector):
            self.dialogue.append(detector)
        else:
            self.utterance.append(detector)

    def without(self, names: Iterable[str]) -> Registry:
        drop = set(names)
        return Registry([d for d in self.utterance if d.name not in drop],
                        [d for d in self.dialogue if d.name not in drop])

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.utterance] + [d.name for d in self.dialogue]

    def run(self, ctx: Context, dialogue: bool = True) -> list[Finding]:
        out: list[Finding] = []
        for utt in ctx.utterances:
            if not utt.text.strip():
                continue
            for det in self.utterance:
                out += det.detect(utt, ctx)
        if dialogue:
            for ddet in self.dialogue:
                out += ddet.detect_dialogue(ctx)
        return out
