"""PII masking for roles that do not need to see it (reviewers, managers, their exports), and the search
guard that keeps masked numbers from being recovered through transcript search.

Detection runs on a normalised view of the text: each character NFKC-normalised on its own (full-width,
mathematical, circled and superscript digits become ASCII, `＠` becomes `@`, no-break and thin spaces become
spaces), zero-width and other format characters and combining marks dropped, every Unicode decimal digit
(Arabic-Indic, Devanagari, ...) and every Chinese read-out digit (零〇一二两三...幺洞拐勾, 壹贰叁...) read as its
digit. Every view character remembers the original character it came from, so masking replaces original
characters one for one: the text keeps its length and the positions of flagged spans stay valid.

Masked: runs of at least MIN_DIGITS digits in any of those forms, also spoken English digits ("four five two
zero ...", "double five"), grouped by spaces, `-`, `.`, `_`, `/`, commas and the like (amounts such as
1,200,000 and 1234.56 are not identifiers and stay); e-mail addresses; the text of `privacy/pii_spoken`
findings. Every step is one left-to-right pass: masking is linear in the text length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from qa.access.limits import MAX_SEARCH_CHARS, InputRejected
from qa.text import CN_DIGITS

MASK = "*"
#: Shortest digit run that is masked: 6 catches ID/card/phone/account numbers, not times or amounts
#: written with separators ("1,200", "10:30") nor years ("2024").
MIN_DIGITS = 6
#: At most this many finding spans are looked up per text (a call has a handful).
_MAX_FINDING_SPANS = 500

PII_SPOKEN = "privacy/pii_spoken"

EN_DIGITS: dict[str, str] = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9",
}
_REPEAT = {"double": 2, "triple": 3}
#: Characters that may separate the digit groups of one number (after NFKC: NBSP, thin spaces -> " ").
_SEPARATORS = frozenset(" \t\n\r-‐‑‒–—―−_./\\,，、·・()（）[]+#'")
_MAX_GAP = 3  # separators between two digits of one number
_ID_CHECK = frozenset("xX叉")
_UNIT = re.compile(r"[0-9]+|(?<![a-z])(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)(?![a-z])")
#: Money and decimals are not identifiers: "1,200,000", "12,345.50", "1234.56".
_AMOUNT = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?$|^\d{1,7}\.\d{1,2}$")
_EMAIL_LOCAL = frozenset("._%+-")
_EMAIL_DOMAIN = frozenset(".-")


class SearchRefused(InputRejected):
    """A search term that is too long or could narrow a masked number; the message says which."""

    def __init__(self, reason: str) -> None:  # reason: "too_long" | "digits"
        super().__init__(reason, {
            "too_long": f"search terms have at most {MAX_SEARCH_CHARS} characters / 搜索词最多 {MAX_SEARCH_CHARS} 字",
            "digits": "searching for digits or number words (4, 四, four...) needs the right to see personal data / "
                      "搜索数字或数字读法（4、四、four…）需要查看个人信息的权限",
        }[reason])


@dataclass(frozen=True)
class PiiSpan:
    start: int
    end: int
    kind: str  # number | spoken_number | email | finding


@dataclass
class NormalisedView:
    """The detection view of a text: `text[i]` came from original character `index[i]`; `cn[i]` marks
    a Chinese read-out digit."""

    text: str
    index: list[int]
    cn: list[bool]


def _skip(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat in ("Cf", "Mn", "Me") or ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad"


@lru_cache(maxsize=65536)
def _norm_char(ch: str) -> tuple[str, bool]:
    """What one original character becomes in the view ("" when dropped), and whether it is a Chinese digit."""
    if ch.isascii():
        return (ch.lower() if "A" <= ch <= "Z" else ch), False
    if _skip(ch):
        return "", False
    if ch in CN_DIGITS:
        return CN_DIGITS[ch], True
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if _skip(c):
            continue
        digit = unicodedata.decimal(c, None)
        if digit is not None:
            c = str(digit)
        elif c.isspace():
            c = " "
        elif "A" <= c <= "Z":
            c = c.lower()
        out.append(c)
    return "".join(out), False


def normalise(text: str) -> NormalisedView:
    """NFKC per character, format characters and combining marks dropped, all digit forms as ASCII digits."""
    out: list[str] = []
    index: list[int] = []
    cn: list[bool] = []
    for i, ch in enumerate(text):
        mapped, is_cn = _norm_char(ch)
        if len(mapped) == 1:
            out.append(mapped)
            index.append(i)
            cn.append(is_cn)
        elif mapped:
            out.extend(mapped)
            index.extend([i] * len(mapped))
            cn.extend([is_cn] * len(mapped))
    return NormalisedView("".join(out), index, cn)


def _digit_runs(view: NormalisedView) -> list[tuple[int, int, int, bool]]:
    """(view start, view end, digits, spoken) of every run of digit units joined by short separator gaps."""
    text = view.text
    runs: list[tuple[int, int, int, bool]] = []
    start = end = -1
    digits = 0
    spoken = False
    pending_repeat = 1
    for m in _UNIT.finditer(text):
        s, e = m.span()
        gap_ok = end >= 0 and s - end <= _MAX_GAP and all(c in _SEPARATORS for c in text[end:s])
        if not gap_ok:
            if start >= 0:
                runs.append((start, end, digits, spoken))
            start, digits, spoken, pending_repeat = s, 0, False, 1
        token = m.group()
        if token in _REPEAT:
            pending_repeat = _REPEAT[token]
            spoken = True
        elif token[0].isdigit():
            digits += len(token) + pending_repeat - 1
            pending_repeat = 1
        else:
            digits += pending_repeat
            pending_repeat = 1
            spoken = True
        end = e
    if start >= 0:
        runs.append((start, end, digits, spoken))
    return runs


def _email_spans(view: NormalisedView) -> list[tuple[int, int]]:
    """View ranges of e-mail addresses, found from each '@' outwards (each character visited at most twice)."""
    text, n = view.text, len(view.text)
    spans: list[tuple[int, int]] = []
    floor = 0
    at = text.find("@")
    while at >= 0:
        i = at
        while i > floor and (text[i - 1].isalnum() or text[i - 1] in _EMAIL_LOCAL):
            i -= 1
        j = at + 1
        while j < n and (text[j].isalnum() or text[j] in _EMAIL_DOMAIN):
            j += 1
        while j > at + 1 and text[j - 1] in _EMAIL_DOMAIN:
            j -= 1
        domain = text[at + 1:j]
        if i < at and "." in domain and not domain.startswith("."):
            spans.append((i, j))
        floor = max(at + 1, j)
        at = text.find("@", floor)
    return spans


def find_pii(text: str, finding_spans: Iterable[str] = ()) -> list[PiiSpan]:
    """Character ranges of PII in the original `text`, sorted, possibly overlapping."""
    view = normalise(text)
    spans: list[PiiSpan] = []

    def original(vs: int, ve: int) -> tuple[int, int]:
        return view.index[vs], view.index[ve - 1] + 1

    for vs, ve, digits, spoken in _digit_runs(view):
        if digits < MIN_DIGITS:
            continue
        if not spoken and _AMOUNT.match(view.text[vs:ve]):
            continue
        if ve < len(view.text) and view.text[ve] in _ID_CHECK:
            ve += 1  # the check character of a resident ID
        start, end = original(vs, ve)
        spans.append(PiiSpan(start, end, "spoken_number" if spoken else "number"))
    for vs, ve in _email_spans(view):
        start, end = original(vs, ve)
        spans.append(PiiSpan(start, end, "email"))
    seen: set[str] = set()
    for span in finding_spans:
        span = (span or "").strip()
        if len(span) < 2 or span in seen or len(seen) >= _MAX_FINDING_SPANS:
            continue
        seen.add(span)
        start = text.find(span)
        while start >= 0:
            spans.append(PiiSpan(start, start + len(span), "finding"))
            start = text.find(span, start + len(span))
    return sorted(spans, key=lambda s: (s.start, s.end))


def _keep(ch: str) -> bool:
    """Spaces and plain separators inside a masked span stay, so the text keeps its shape."""
    return ch.isspace() or ch in "-‐–—.,，、·/_()（）"


def mask_pii(text: str | None, finding_spans: Iterable[str] = ()) -> str:
    """`text` with every PII character replaced by MASK (same length); spaces and separators inside kept."""
    if not text:
        return text or ""
    chars = list(text)
    covered = 0  # spans are sorted by start: each character is rewritten at most once
    for span in find_pii(text, finding_spans):
        for i in range(max(span.start, covered), span.end):
            if not _keep(chars[i]):
                chars[i] = MASK
        covered = max(covered, span.end)
    return "".join(chars)


def has_pii(text: str | None) -> bool:
    return bool(text) and bool(find_pii(text or ""))


def narrows_masked_number(term: str) -> bool:
    """True when matching `term` could tell apart digits of a masked number, whatever their written form.

    A digit (any script, Chinese read-out digit or spoken English digit) in the term is harmless only when
    the term itself surrounds it, on both sides, by a word that is not a digit ("看一下", "no one answered"):
    then no match can fall inside a run of digits. Any other digit, of any count, could extend a number.
    """
    text = normalise(term).text
    units = list(_UNIT.finditer(text))
    in_unit = [False] * len(text)
    for m in units:
        for i in range(*m.span()):
            in_unit[i] = True

    def word_at(pos: int, step: int) -> bool:
        i = pos + step
        while 0 <= i < len(text) and text[i] in _SEPARATORS:
            i += step
        return 0 <= i < len(text) and text[i].isalnum() and not in_unit[i]

    return any(m.group() not in _REPEAT and not (word_at(m.start(), -1) and word_at(m.end() - 1, +1))
               for m in units)


def check_search_term(term: str, may_see_pii: bool) -> str:
    """The term to search for, or SearchRefused: too long, or (without the pii right) able to narrow a number."""
    term = term.strip()
    if len(term) > MAX_SEARCH_CHARS:
        raise SearchRefused("too_long")
    if not may_see_pii and narrows_masked_number(term):
        raise SearchRefused("digits")
    return term
