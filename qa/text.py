"""The one text normaliser and the one phrase matcher of callqa, plus Chinese numerals and time offsets.

ASR output mixes Traditional and Simplified characters, drops punctuation, puts spaces between Chinese
characters and reads numbers as digits, Chinese numerals or a mix ("幺三八 1234 五六七八"). Everything that
matches words (detection recognizers, compliance rules, speaker roles, conversation lexicons) matches on the
same normalised view (`normalize`, `UtteranceText.phrase`) through `PhraseSet`, and reports spans in the
original text: every view keeps, for each of its characters, the index of the original character.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from rapidfuzz import fuzz

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")

#: Chinese digits as read out one by one (phone, ID and card numbers). 幺/洞/拐/勾 are the radio-style
#: readings of 1/0/7/9 common on the phone; 两 is 2. Digit-by-digit readings are mapped character by
#: character: cn2an.transform reads "零二一二" as 212 (drops the leading zero) and "张三" as "张3".
#: Financial capitals (壹贰叁…) are read the same way. This is the one digit table of callqa: digit runs
#: (PII), transcript masking (`qa.access.redact`) and search all read digits through it.
CN_DIGITS = {"零": "0", "〇": "0", "○": "0", "洞": "0", "一": "1", "幺": "1", "壹": "1", "二": "2",
             "两": "2", "兩": "2", "贰": "2", "貳": "2", "三": "3", "叁": "3", "參": "3", "四": "4", "肆": "4",
             "五": "5", "伍": "5", "六": "6", "陆": "6", "陸": "6", "七": "7", "拐": "7", "柒": "7", "八": "8",
             "捌": "8", "九": "9", "勾": "9", "玖": "9"}
#: A regex character class of one spoken or written digit: ASCII, full-width and every `CN_DIGITS` key.
DIGIT_CLASS = "[0-9０-９" + "".join(CN_DIGITS) + "]"
#: The check character X of a resident ID, as ASR writes it.
ID_X = {"x": "X", "X": "X", "叉": "X", "艾克斯": "X"}


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """OpenCC Traditional -> Simplified; kept only when it preserves length (it nearly always does), so
    character offsets stay valid. The one conversion used by ASR output, matching and search."""
    if not text:
        return text
    out = _t2s().convert(text)
    if len(out) == len(text):
        return out
    return "".join(_t2s().convert(ch) if len(_t2s().convert(ch)) == 1 else ch for ch in text)


def read_digits(text: str) -> str:
    """Every digit of `text` as ASCII, read through `CN_DIGITS`: '幺八六', '一八六', '壹捌陆' -> '186'."""
    out = []
    for ch in text:
        ch = CN_DIGITS.get(ch, ch)
        ch = unicodedata.normalize("NFKC", ch)
        if ch.isascii() and ch.isdigit():
            out.append(ch)
    return "".join(out)


def fmt_offset(seconds: float | None, decimals: int = 1, missing: str = "") -> str:
    """An offset into a recording: 'mm:ss.s' (or 'mm:ss' with decimals=0), 'h:mm:ss.s' from one hour on."""
    if seconds is None:
        return missing
    seconds = max(0.0, float(seconds))
    if decimals <= 0:
        seconds = float(int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    sec = f"{secs:0{3 + decimals}.{decimals}f}" if decimals > 0 else f"{int(secs):02d}"
    if hours >= 1:
        return f"{int(hours)}:{int(minutes):02d}:{sec}"
    return f"{int(minutes):02d}:{sec}"


@dataclass
class View:
    """A derived text and, for each of its characters, the index of the original character."""

    text: str
    index: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the view's [start, end)."""
        if not self.index:
            return 0, 0
        end = max(end, start + 1)
        return self.index[min(start, len(self.index) - 1)], self.index[min(end, len(self.index)) - 1] + 1


def _is_punct(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return (cat.startswith("P") or cat.startswith("S")) and ch != "'"


@dataclass
class UtteranceText:
    """The original text of an utterance and its normalised views (computed on first use)."""

    original: str
    _base: View = field(init=False, repr=False)

    def __post_init__(self) -> None:
        simp = to_simplified(self.original)
        chars: list[str] = []
        index: list[int] = []
        for i, ch in enumerate(simp):
            for c in unicodedata.normalize("NFKC", ch).lower().replace("’", "'"):
                chars.append(c)
                index.append(i)
        self._base = View("".join(chars), index)

    @property
    def base(self) -> View:
        """Simplified, NFKC, lowercase; punctuation and spaces kept (emails, phone formats)."""
        return self._base

    @cached_property
    def phrase(self) -> View:
        """`base` with punctuation as spaces, single spaces, and no spaces between Chinese characters."""
        out: list[str] = []
        idx: list[int] = []
        text, index = self._base.text, self._base.index
        for k, ch in enumerate(text):
            if ch.isspace() or _is_punct(ch):
                if out and out[-1] != " ":
                    out.append(" ")
                    idx.append(index[k])
                continue
            if out and out[-1] == " " and CJK.match(ch) and len(out) >= 2 and CJK.match(out[-2]):
                out.pop()
                idx.pop()
            out.append(ch)
            idx.append(index[k])
        while out and out[-1] == " ":
            out.pop()
            idx.pop()
        return View("".join(out), idx)

    @cached_property
    def has_cjk(self) -> bool:
        return bool(CJK.search(self.original))

    @cached_property
    def has_latin(self) -> bool:
        return bool(LATIN.search(self.original))

    @cached_property
    def pinyin(self) -> str:
        """Toneless pinyin of `phrase`, one '|'-separated item per `phrase` character.

        Matching literals on pinyin catches ASR homophone slips (打到你接为止 heard as 打到你接位置).
        """
        from pypinyin import lazy_pinyin

        text = self.phrase.text
        sylls = lazy_pinyin(text, errors=lambda s: list(s))
        if len(sylls) != len(text):  # one item per character is what the error handler gives; be safe
            sylls = [lazy_pinyin(ch, errors=lambda s: list(s))[0] for ch in text]
        return "|" + "|".join(sylls) + "|"


def pinyin_key(literal: str) -> str | None:
    """'|da|dao|ni|' for a Chinese literal (None when it holds no Chinese)."""
    if not CJK.search(literal):
        return None
    from pypinyin import lazy_pinyin

    return "|" + "|".join(lazy_pinyin(literal, errors=lambda s: list(s))) + "|"


def find_pinyin(utt: UtteranceText, key: str) -> tuple[int, int] | None:
    """`phrase`-view [start, end) of the first syllable run equal to `key`, or None."""
    joined = utt.pinyin
    pos = joined.find(key)
    if pos < 0:
        return None
    start = joined.count("|", 0, pos)  # syllables before the match
    n = key.count("|") - 1
    return start, start + n


# --- numbers -----------------------------------------------------------------------------------------

_DIGIT_CHARS = set("0123456789") | set(CN_DIGITS)
_RUN_SEPARATORS = set(" -.,，、·()")


@dataclass
class DigitRun:
    """A spoken or written number: its digits (and a trailing ID check X) and its `base`-view span."""

    digits: str
    start: int
    end: int
    cn_digits: int  # how many digits were read as Chinese numerals
    groups: list[str] = field(default_factory=list)  # digit groups as separated in the text


def digit_runs(view: View, min_digits: int = 4) -> list[DigitRun]:
    """Runs of digits (ASCII or Chinese read-out digits) across single separators, as ASR writes them.

    "一三八 1234 五六七八" is one run of 11 digits. A trailing x/叉 after 17 digits is kept as an ID check
    character. Chinese digit characters count only in runs of at least three of them, so words such as
    一天 or 两个 are never read as numbers.
    """
    text = view.text
    runs: list[DigitRun] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] not in _DIGIT_CHARS:
            i += 1
            continue
        start = i
        groups: list[str] = []
        cur: list[str] = []
        cn = 0
        j = i
        last_digit_end = i
        while j < n:
            ch = text[j]
            if ch in _DIGIT_CHARS:
                cur.append(CN_DIGITS.get(ch, ch))
                cn += ch in CN_DIGITS
                j += 1
                last_digit_end = j
            elif ch in _RUN_SEPARATORS and cur:
                # one to three separators between groups: "138-1234", "(415) 555", "138 - 1234"
                k = j
                while k < n and k - j < 3 and text[k] in _RUN_SEPARATORS:
                    k += 1
                if k < n and text[k] in _DIGIT_CHARS:
                    groups.append("".join(cur))
                    cur = []
                    j = k
                else:
                    break
            else:
                break
        if cur:
            groups.append("".join(cur))
        digits = "".join(groups)
        end = last_digit_end
        # A trailing check character X (resident ID).
        if len(digits) == 17:
            rest = text[end:end + 4].lstrip(" -")
            for token, value in ID_X.items():
                if rest.startswith(token):
                    digits += value
                    end = text.index(token, end) + len(token)
                    break
        # Drop short runs of Chinese digits inside words (一天, 三四个) and whole runs below the minimum.
        if not (cn and cn == len(digits.rstrip("X")) and cn < 3) and len(digits.rstrip("X")) >= min_digits:
            runs.append(DigitRun(digits, start, end, cn, groups))
        i = max(j, i + 1)
    return runs


@lru_cache(maxsize=4096)
def amounts_to_digits(text: str) -> str:
    """Chinese quantities to Arabic numbers with cn2an (欠款两万三千五百元 -> 欠款23500元), for amount cues."""
    if not CJK.search(text):
        return text
    try:
        import warnings

        import cn2an

        with warnings.catch_warnings():  # cn2an warns on every fragment it cannot read ("千")
            warnings.simplefilter("ignore")
            return str(cn2an.transform(text, "cn2an"))
    except Exception:  # noqa: BLE001 - cn2an raises on some odd inputs; the text is then used as is
        return text


# --- phrase matching ---------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """The normalised text every phrase is matched on: Simplified, NFKC, lowercase, punctuation as single
    spaces, no spaces between Chinese characters (`UtteranceText.phrase`)."""
    return UtteranceText(text).phrase.text if text else ""


def is_cjk(text: str) -> bool:
    return bool(CJK.search(text))


LANGS = ("zh", "en")
ANY = ""  # phrases of a spec without language sections: tried on every text


@dataclass
class Match:
    """A hit in the `phrase` view of an utterance ([start, end) of `UtteranceText.phrase`)."""

    start: int
    end: int
    text: str
    how: str  # "literal" | "pattern" | "pinyin" | "fuzzy"


@lru_cache(maxsize=4096)
def _literal_rx(literal: str) -> re.Pattern[str]:
    # Word boundaries only against Latin letters and digits, and only at an edge that is one:
    # "ssn" must not match inside "lessness", but "12378" must match in "打12378投诉".
    left = r"(?<![a-z0-9])" if literal[:1].isascii() and literal[:1].isalnum() else ""
    right = r"(?![a-z0-9])" if literal[-1:].isascii() and literal[-1:].isalnum() else ""
    return re.compile(left + re.escape(literal) + right)


def fuzzy_find(needle: str, haystack: str, ratio: float = 0.8, min_len: int = 4) -> tuple[int, int] | None:
    """[start, end) of the window of `haystack` (one character shorter than `needle`, as long, or one longer)
    most similar to `needle`, when at least `ratio` similar (Indel similarity, 2*LCS/(len a + len b)) and
    `needle` has at least `min_len` characters: ASR-garbled phrases."""
    n = len(needle)
    if n < min_len or len(haystack) < n - 1:
        return None
    best, best_span = 0.0, None
    for width in (n - 1, n, n + 1):
        for i in range(0, max(1, len(haystack) - width + 1)):
            score = fuzz.ratio(needle, haystack[i:i + width], score_cutoff=best)
            if score > best:
                best, best_span = score, (i, min(i + width, len(haystack)))
    return best_span if best >= 100 * ratio - 1e-9 else None


@dataclass
class PhraseSet:
    """Phrases matched on the normalised `phrase` view of a text, per language section.

    - `literals`: matched exactly (Latin/digit edges only at word boundaries);
    - `patterns`: regular expressions (case-insensitive) on the same view;
    - pinyin: Chinese literals of at least `pinyin_min_len` characters also match on toneless pinyin, which
      catches ASR homophone slips (None: off);
    - fuzzy: `find` falls back to literals at least `fuzzy_ratio` similar when no exact hit is found, for
      literals of at least `fuzzy_min_len` characters (None: off);
    - `negators` that end just before a hit cancel it ("我们不会上门", "nobody is going to arrest you").

    The "zh" section is tried only on text holding Chinese, "en" only on text holding Latin letters; a spec
    without sections (top-level `literals`/`patterns`) is tried on every text. Build with `from_spec`.
    """

    literals: dict[str, list[str]] = field(default_factory=dict)  # lang -> normalised literals
    patterns: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)
    negators: dict[str, list[str]] = field(default_factory=dict)
    pinyin_min_len: int | None = 4
    fuzzy_ratio: float = 0.8
    fuzzy_min_len: int | None = None
    _pinyin: list[tuple[str, str, str]] = field(default_factory=list)  # (lang, key, literal)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None, negators: Mapping[str, Iterable[str]] | None = None, *,
                  pinyin_min_len: int | None = 4, fuzzy_min_len: int | None = None,
                  fuzzy_ratio: float = 0.8) -> PhraseSet:
        """From a lexicon entry: `{zh: {literals, patterns, negators}, en: {...}}` and/or top-level
        `literals`/`patterns`; `pinyin_min_len`, `fuzzy_min_len` and `fuzzy_ratio` in the spec override
        the arguments."""
        spec = spec or {}
        pmin = spec.get("pinyin_min_len", pinyin_min_len)
        fmin = spec.get("fuzzy_min_len", fuzzy_min_len)
        ps = cls(pinyin_min_len=None if pmin is None else int(pmin),
                 fuzzy_min_len=None if fmin is None else int(fmin),
                 fuzzy_ratio=float(spec.get("fuzzy_ratio", fuzzy_ratio)))
        sections: dict[str, Mapping[str, Any]] = {lang: spec.get(lang) or {} for lang in LANGS}
        sections[ANY] = spec
        for lang, part in sections.items():
            lits = [normalize(str(x)) for x in part.get("literals", []) or []]
            ps.literals[lang] = [x for x in dict.fromkeys(lits) if x]
            ps.patterns[lang] = [re.compile(p, re.IGNORECASE) for p in part.get("patterns", []) or []]
            neg = list((negators or {}).get(lang, [])) + list(part.get("negators", []) or [])
            ps.negators[lang] = [n for n in (normalize(str(x)) for x in neg) if n]
            if ps.pinyin_min_len is not None:
                for lit in ps.literals[lang]:
                    key = pinyin_key(lit) if len(lit) >= ps.pinyin_min_len else None
                    if key:
                        ps._pinyin.append((lang, key, lit))
        return ps

    def __bool__(self) -> bool:
        return any(self.literals.values()) or any(self.patterns.values())

    def _negated(self, text: str, start: int, lang: str) -> bool:
        negators = self.negators.get(lang, [])
        if not negators:
            return False
        zh = lang == "zh" or (lang == ANY and is_cjk(text[max(0, start - 1):start + 1]))
        window = text[max(0, start - (8 if zh else 30)):start]
        return any(window.rstrip().endswith(n) or (zh and len(n) >= 2 and n in window) for n in negators)

    def _langs(self, utt: UtteranceText) -> list[str]:
        return [ANY] + [lang for lang, ok in (("zh", utt.has_cjk), ("en", utt.has_latin)) if ok]

    def find_all(self, text: str | UtteranceText) -> list[Match]:
        """Every exact (literal, pattern, pinyin), non-negated, non-overlapping hit, in text order; of
        overlapping hits the longest (then a literal) wins."""
        utt = text if isinstance(text, UtteranceText) else UtteranceText(text)
        view = utt.phrase.text
        if not view:
            return []
        hits: list[Match] = []
        for lang in self._langs(utt):
            for lit in self.literals.get(lang, []):
                hits += [Match(m.start(), m.end(), m.group(0), "literal") for m in _literal_rx(lit).finditer(view)
                         if not self._negated(view, m.start(), lang)]
            for rx in self.patterns.get(lang, []):
                hits += [Match(m.start(), m.end(), m.group(0), "pattern") for m in rx.finditer(view)
                         if m.end() > m.start() and not self._negated(view, m.start(), lang)]
        if utt.has_cjk:
            for lang, key, _lit in self._pinyin:
                r = find_pinyin(utt, key)
                if r and not self._negated(view, r[0], lang):
                    hits.append(Match(r[0], r[1], view[r[0]:r[1]], "pinyin"))
        hits.sort(key=lambda m: (m.start, -(m.end - m.start), m.how != "literal"))
        out: list[Match] = []
        for h in hits:
            if out and h.start < out[-1].end:
                continue
            out.append(h)
        return out

    def find(self, text: str | UtteranceText, fuzzy: bool = True) -> Match | None:
        """The first exact hit in text order; else, with `fuzzy` and a `fuzzy_min_len`, a fuzzy literal."""
        utt = text if isinstance(text, UtteranceText) else UtteranceText(text)
        hits = self.find_all(utt)
        if hits:
            return hits[0]
        if not fuzzy or self.fuzzy_min_len is None:
            return None
        view = utt.phrase.text
        for lang in self._langs(utt):
            for lit in self.literals.get(lang, []):
                r = fuzzy_find(lit, view, self.fuzzy_ratio, self.fuzzy_min_len)
                if r and not self._negated(view, r[0], lang):
                    return Match(r[0], r[1], view[r[0]:r[1]], "fuzzy")
        return None
