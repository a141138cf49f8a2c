"""Text views of one utterance that survive ASR noise, each mapped back to the original characters.

ASR output mixes Traditional and Simplified characters, drops punctuation, puts spaces between Chinese
characters and reads numbers as digits, Chinese numerals or a mix ("幺三八 1234 五六七八"). Detectors match
on normalised views and report spans in the original text, so every view keeps, for each of its characters,
the index of the original character it came from.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")

#: Chinese digits as read out one by one (phone, ID and card numbers). 幺/洞/拐/勾 are the radio-style
#: readings of 1/0/7/9 common on the phone; 两 is 2. Digit-by-digit readings are mapped character by
#: character: cn2an.transform reads "零二一二" as 212 (drops the leading zero) and "张三" as "张3".
CN_DIGITS = {"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
             "四": "4", "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9", "勾": "9"}
#: The check character X of a resident ID, as ASR writes it.
ID_X = {"x": "X", "X": "X", "叉": "X", "艾克斯": "X"}


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """OpenCC Traditional -> Simplified; kept only when it preserves length (it nearly always does)."""
    out = _t2s().convert(text)
    if len(out) == len(text):
        return out
    return "".join(_t2s().convert(ch) if len(_t2s().convert(ch)) == 1 else ch for ch in text)


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
