"""Phrase lists from the YAML files in `qa/detect/lexicons/`, matched on normalised utterance views.

A phrase set holds, per language, `literals` (matched exactly on the normalised text; Chinese literals of
at least `pinyin_min_len` characters also match on toneless pinyin, which catches ASR homophone slips) and
`patterns` (regular expressions on the same normalised text: lowercase, Simplified, punctuation removed, no
spaces between Chinese characters). `negators` that end just before a hit cancel it ("我们不会上门",
"nobody is going to arrest you").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


from qa.text import UtteranceText, find_pinyin, pinyin_key
from qa.data import load as load_data

LANGS = ("zh", "en")


@lru_cache(maxsize=None)
def load_lexicon(name: str) -> dict[str, Any]:
    """A YAML file of `qa/detect/lexicons/` (package data), parsed once."""
    return load_data(f"lexicons/{name}")


@lru_cache(maxsize=4096)
def _literal_rx(literal: str, lang: str) -> re.Pattern[str]:
    if lang == "en":  # whole words only: "ssn" must not match inside "lessness"
        return re.compile(r"(?<![a-z0-9])" + re.escape(literal) + r"(?![a-z0-9])")
    return re.compile(re.escape(literal))


@dataclass
class Match:
    """A hit in the `phrase` view of an utterance."""

    start: int
    end: int
    text: str
    how: str  # "literal" | "pattern" | "pinyin"


def _norm(s: str) -> str:
    return UtteranceText(s).phrase.text


@dataclass
class PhraseSet:
    literals: dict[str, list[str]] = field(default_factory=dict)  # lang -> normalised literals
    patterns: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)
    negators: dict[str, list[str]] = field(default_factory=dict)
    pinyin_min_len: int = 4
    _pinyin: list[tuple[str, str]] = field(default_factory=list)  # (key, literal)

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None, negators: dict[str, list[str]] | None = None,
                  pinyin_min_len: int = 4) -> PhraseSet:
        spec = spec or {}
        ps = cls(pinyin_min_len=int(spec.get("pinyin_min_len", pinyin_min_len)))
        for lang in LANGS:
            part = spec.get(lang) or {}
            ps.literals[lang] = [_norm(x) for x in part.get("literals", []) if _norm(x)]
            ps.patterns[lang] = [re.compile(p, re.IGNORECASE) for p in part.get("patterns", [])]
            neg = (negators or {}).get(lang, []) + list(part.get("negators", []))
            ps.negators[lang] = [_norm(x) for x in neg]
        for lit in ps.literals["zh"]:
            key = pinyin_key(lit) if len(lit) >= ps.pinyin_min_len else None
            if key:
                ps._pinyin.append((key, lit))
        return ps

    def _negated(self, text: str, start: int, lang: str) -> bool:
        window = text[max(0, start - (8 if lang == "zh" else 30)):start]
        return any(window.rstrip().endswith(n) or (n in window and lang == "zh" and len(n) >= 2)
                   for n in self.negators.get(lang, []))

    def find_all(self, utt: UtteranceText) -> list[Match]:
        """Every non-overlapping, non-negated hit, in text order."""
        text = utt.phrase.text
        if not text:
            return []
        langs = [lang for lang, ok in (("zh", utt.has_cjk), ("en", utt.has_latin)) if ok]
        hits: list[Match] = []
        for lang in langs:
            for lit in self.literals.get(lang, []):
                found = [(m.start(), m.end()) for m in _literal_rx(lit, lang).finditer(text)]
                hits += [Match(s, e, text[s:e], "literal") for s, e in found if not self._negated(text, s, lang)]
            for rx in self.patterns.get(lang, []):
                hits += [Match(m.start(), m.end(), m.group(0), "pattern") for m in rx.finditer(text)
                         if m.end() > m.start() and not self._negated(text, m.start(), lang)]
        if utt.has_cjk and self._pinyin:
            for key, lit in self._pinyin:
                r = find_pinyin(utt, key)
                if r and not self._negated(text, r[0], "zh"):
                    hits.append(Match(r[0], r[1], text[r[0]:r[1]], "pinyin"))
        hits.sort(key=lambda m: (m.start, -(m.end - m.start), m.how != "literal"))
        out: list[Match] = []
        for h in hits:
            if out and h.start < out[-1].end:
                continue
            out.append(h)
        return out

    def find(self, utt: UtteranceText) -> Match | None:
        hits = self.find_all(utt)
        return hits[0] if hits else None
