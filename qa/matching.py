"""Phrase matching that tolerates ASR noise: normalised text, regex patterns and fuzzy literals.

Used by the compliance rules (disclosures, impersonation) and by the conversation lexicons.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

_PUNCT = re.compile(r"[^\w\s']+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalize(text: str) -> str:
    """Lowercase, NFKC, punctuation to spaces, single spaces; spaces between CJK characters dropped."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _PUNCT.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    # ASR often inserts spaces between Chinese characters; remove them so literals match.
    return re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", text)


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@lru_cache(maxsize=2048)
def _literal_regex(literal: str) -> re.Pattern[str]:
    lit = normalize(literal)
    # Word boundaries only against Latin letters and digits: "12378" must match in "打12378投诉".
    left = r"(?<![a-z0-9])" if lit[:1].isascii() and lit[:1].isalnum() else ""
    right = r"(?![a-z0-9])" if lit[-1:].isascii() and lit[-1:].isalnum() else ""
    return re.compile(left + re.escape(lit) + right)


@dataclass
class PhraseSet:
    """Literals (matched exactly, then fuzzily when long enough) and regex patterns."""

    literals: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    fuzzy_ratio: float = 0.8  # SequenceMatcher ratio for a fuzzy literal hit
    fuzzy_min_len: int = 4  # literals shorter than this are never matched fuzzily

    def find(self, text: str) -> str | None:
        """The first phrase found in `text` (the matched text), or None."""
        norm = normalize(text)
        if not norm:
            return None
        for lit in self.literals:
            m = _literal_regex(lit).search(norm)
            if m:
                return m.group(0)
        for pat in self.patterns:
            m = _compile(pat).search(norm)
            if m:
                return m.group(0)
        for lit in self.literals:
            hit = fuzzy_find(normalize(lit), norm, self.fuzzy_ratio, self.fuzzy_min_len)
            if hit:
                return hit
        return None

    def find_all(self, text: str) -> list[str]:
        """Every distinct literal/pattern hit (exact only), in order of appearance."""
        norm = normalize(text)
        hits: list[tuple[int, str]] = []
        for lit in self.literals:
            hits += [(m.start(), m.group(0)) for m in _literal_regex(lit).finditer(norm)]
        for pat in self.patterns:
            hits += [(m.start(), m.group(0)) for m in _compile(pat).finditer(norm)]
        return [h for _, h in sorted(set(hits))]


def fuzzy_find(needle: str, haystack: str, ratio: float = 0.8, min_len: int = 4) -> str | None:
    """A window of `haystack` that is at least `ratio` similar to `needle` (for ASR-garbled phrases)."""
    n = len(needle)
    if n < min_len or len(haystack) < n - 1:
        return None
    best, best_text = 0.0, None
    for width in {n - 1, n, n + 1}:
        if width <= 0:
            continue
        for i in range(0, max(1, len(haystack) - width + 1)):
            window = haystack[i : i + width]
            r = SequenceMatcher(None, needle, window, autojunk=False).ratio()
            if r > best:
                best, best_text = r, window
    return best_text if best >= ratio else None
