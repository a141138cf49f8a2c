"""PII masking for roles that do not need to see it (reviewers, managers, their exports).

Masks long digit runs (ID, card, phone and account numbers, also with spaces or dashes, full-width
digits, Chinese numerals such as 幺三八 and spoken English digits), e-mail addresses, and the text of
`privacy/pii_spoken` findings. Masking keeps the text's length character by character, so the
positions of flagged spans stay valid after masking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from qa.text import CN_DIGITS, DIGIT_CLASS

MASK = "*"
#: Shortest digit run that is masked: 6 catches ID/card/phone/account numbers, not times or amounts
#: written with separators ("1,200", "10:30") nor years ("2024").
MIN_DIGITS = 6

_DIGIT = DIGIT_CLASS
_SEP = r"[ \u3000\-‐–—.·,，、]?"
_DIGIT_RUN = re.compile(rf"{_DIGIT}(?:{_SEP}{_DIGIT}){{{MIN_DIGITS - 1},}}(?:{_SEP}[xX])?")
_EN_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double\s+\w+)"
_EN_RUN = re.compile(rf"\b{_EN_DIGIT}(?:[\s,\-]+{_EN_DIGIT}){{{MIN_DIGITS - 1},}}\b", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_CN_ONLY_RUN = re.compile("^[" + "".join(CN_DIGITS) + "]+$")
#: Money and decimals are not identifiers: "1,200,000", "12,345.50", "1234.56".
_AMOUNT = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?$|^\d+\.\d{1,2}$")

PII_SPOKEN = "privacy/pii_spoken"


@dataclass(frozen=True)
class PiiSpan:
    start: int
    end: int
    kind: str  # number | spoken_number | email | finding


def find_pii(text: str, finding_spans: Iterable[str] = ()) -> list[PiiSpan]:
    """Character ranges of PII in `text`, sorted, possibly overlapping."""
    spans: list[PiiSpan] = []
    for m in _DIGIT_RUN.finditer(text):
        if _AMOUNT.match(m.group()):
            continue
        run = re.sub(r"[^\w]", "", m.group())
        if _CN_ONLY_RUN.match(run) and len(set(run)) < 3:
            continue  # "一一一一一一" style repetition is not a number someone read out
        spans.append(PiiSpan(m.start(), m.end(), "number"))
    spans += [PiiSpan(m.start(), m.end(), "spoken_number") for m in _EN_RUN.finditer(text)]
    spans += [PiiSpan(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    for span in finding_spans:
        span = (span or "").strip()
        if len(span) < 2:
            continue
        start = text.find(span)
        while start >= 0:
            spans.append(PiiSpan(start, start + len(span), "finding"))
            start = text.find(span, start + len(span))
    return sorted(spans, key=lambda s: (s.start, s.end))


def mask_pii(text: str | None, finding_spans: Iterable[str] = ()) -> str:
    """`text` with every PII character replaced by MASK; spaces and punctuation inside kept."""
    if not text:
        return text or ""
    chars = list(text)
    for span in find_pii(text, finding_spans):
        for i in range(span.start, span.end):
            if chars[i].isalnum() or chars[i] == "@":
                chars[i] = MASK
    return "".join(chars)


def has_pii(text: str | None) -> bool:
    return bool(text) and bool(find_pii(text or ""))
