"""Personal data spoken on the call: resident IDs, bank cards, phone numbers, SSNs, emails, addresses.

Numbers are validated (python-stdnum: GB 11643 checksum with birth date and place, Luhn, SSN components)
so that amounts, dates and reference numbers are not flagged; long runs that fail validation are still
flagged at lower confidence because ASR garbles spoken digits. Asking for "the last four digits" holds no
long number and is never flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from stdnum import luhn
from stdnum.cn import ric
from stdnum.us import ssn as us_ssn

from qa.data import load
from qa.detect.base import Context, Detector, Utterance, make_finding
from qa.records import Finding
from qa.text import DigitRun, PhraseSet, digit_runs

# --- validators (pure functions over digit strings) ---------------------------------------------------


def valid_cn_resident_id(number: str) -> bool:
    """18 characters, GB 11643 check character, a real birth date and region code."""
    return len(number) == 18 and ric.is_valid(number)


def valid_bank_card(number: str, min_digits: int = 16, max_digits: int = 19) -> bool:
    """16-19 digits with a correct Luhn check digit."""
    return number.isdigit() and min_digits <= len(number) <= max_digits and luhn.is_valid(number)


def valid_cn_mobile(number: str) -> bool:
    """Mainland mobile: 11 digits starting 13-19 (an optional 86 country code is dropped)."""
    if number.startswith("86") and len(number) == 13:
        number = number[2:]
    return re.fullmatch(_PII["cn_mobile"]["pattern"], number) is not None


def valid_us_phone(number: str) -> bool:
    """NANP number: area code and exchange 2-9xx and not N11, optional leading 1."""
    return re.fullmatch(_PII["us_phone"]["pattern"], number) is not None


@lru_cache(maxsize=1)
def _service_prefixes() -> tuple[str, ...]:
    return tuple(str(p) for p in load("lexicons/pii")["service_prefixes"])


def is_service_line(digits: str) -> bool:
    """A business service line (400/800, toll-free; prefixes from the pii lexicon): not personal data."""
    return digits.startswith(_service_prefixes()) and len(digits) in (10, 11)


def valid_us_ssn(number: str) -> bool:
    """Nine digits; area not 000, 666 or 9xx, group not 00, serial not 0000, not a known advertised SSN."""
    return len(number) == 9 and number.isdigit() and us_ssn.is_valid(number)


# --- recognisers -------------------------------------------------------------------------------------

_PII: dict[str, Any] = load("lexicons/pii")["recognizers"]


@dataclass
class _Hit:
    kind: str
    score: float
    span: tuple[int, int]  # `base` view
    note: str
    context: str | None = None


def _context_set(spec: dict[str, Any]) -> PhraseSet:
    return PhraseSet.from_spec({lang: {"literals": words} for lang, words in (spec.get("context") or {}).items()})


class PIIRecognizer(Detector):
    """All PII kinds over one utterance; one finding per number or address found."""

    name = "pii"
    labels = ("privacy",)

    def __init__(self) -> None:
        lex = load("lexicons/pii")
        self.subtype: str = lex["subtype"]
        self.window: str = lex.get("context_window", "previous")
        self.specs: dict[str, Any] = lex["recognizers"]
        self.unverified: dict[str, Any] = lex["unverified_run"]
        self.context = {k: _context_set(v) for k, v in self.specs.items()}
        self.unverified_context = _context_set(self.unverified)
        cb = lex["callback"]
        self.callback_kinds = set(cb["kinds"])
        self.callback = PhraseSet.from_spec(cb)
        self.landline: dict[str, Any] = lex["cn_landline"]
        self.text_patterns = {k: [re.compile(p, re.IGNORECASE) for p in v.get("patterns", [])]
                              for k, v in self.specs.items() if v.get("patterns")}

    # context words in this utterance (and the previous one when configured)
    def _context(self, phrases: PhraseSet, utt: Utterance, ctx: Context) -> str | None:
        m = phrases.find(utt.views)
        if m:
            return m.text
        prev = ctx.previous(utt) if self.window == "previous" else None
        if prev is not None and prev.text:
            m = phrases.find(prev.views)
            if m:
                return m.text
        return None

    def _classify_run(self, run: DigitRun, utt: Utterance, ctx: Context) -> _Hit | None:
        d = run.digits
        span = (run.start, run.end)
        if len(d) == 18 and valid_cn_resident_id(d):
            return _Hit("cn_resident_id", self.specs["cn_resident_id"]["score"], span,
                        "GB 11643 checksum, birth date and region verified")
        card = self.specs["bank_card"]
        if valid_bank_card(d, card["min_digits"], card["max_digits"]):
            known = any(d.startswith(p) for p in card["known_prefixes"])
            return _Hit("bank_card", card["known_prefix_score"] if known else card["score"], span,
                        "Luhn check digit verified" + (", known card prefix" if known else ""))
        if len(d) == 11 and not utt.views.has_cjk and valid_us_phone(d):
            return _Hit("us_phone", self.specs["us_phone"]["score"], span, "valid NANP area code and exchange")
        if valid_cn_mobile(d):
            return _Hit("cn_mobile", self.specs["cn_mobile"]["score"], span, "mainland mobile number format")
        if len(d) in (10, 11) and valid_us_phone(d):
            return _Hit("us_phone", self.specs["us_phone"]["score"], span, "valid NANP area code and exchange")
        if len(d) == 9 and valid_us_ssn(d):
            spec = self.specs["us_ssn"]
            grouped = [len(g) for g in run.groups] == [3, 2, 4]
            if grouped:
                return _Hit("us_ssn", spec["score"], span, "SSN area, group and serial are valid")
            cue = self._context(self.context["us_ssn"], utt, ctx)
            if cue:
                return _Hit("us_ssn", spec["bare_score"], span, "SSN area, group and serial are valid", cue)
            return None
        if re.fullmatch(self.landline["pattern"], d) and "-" in utt.text[slice(*utt.views.base.span(*span))]:
            return _Hit("cn_landline", self.landline["score"], span, "area code and landline number")
        uv = self.unverified
        if len(d.rstrip("X")) >= uv["min_digits"]:
            cue = self._context(self.unverified_context, utt, ctx)
            if utt.speaker == "agent":
                score = uv["agent_score"]
            elif cue:
                score = uv["customer_score"]
            else:
                return None
            kind = "unverified_run"
            return _Hit(kind, score, span, f"{len(d)}-digit number; checksum could not be verified "
                        "(ASR may have garbled the digits)", cue)
        return None

    def detect(self, utt: Utterance, ctx: Context) -> list[Finding]:
        views = utt.views
        base = views.base
        hits: list[_Hit] = []
        for run in digit_runs(base, min_digits=9):
            if is_service_line(run.digits):
                continue
            hit = self._classify_run(run, utt, ctx)
            if hit and hit.kind in self.callback_kinds and utt.speaker == "agent" and self.callback.find(views):
                continue  # the agent gives the company's callback number
            if hit:
                hits.append(hit)
        taken = [h.span for h in hits]
        for kind, patterns in self.text_patterns.items():
            view = base if kind == "email" else views.phrase
            for rx in patterns:
                for m in rx.finditer(view.text):
                    s, e = base_span = (m.start(), m.end())
                    if view is not base:  # map the phrase view back onto the base view's positions
                        os_, oe = view.span(s, e)
                        s, e = _orig_to_base(base.index, os_, oe)
                        base_span = (s, e)
                    if any(s < te and e > ts for ts, te in taken):
                        continue
                    hits.append(_Hit(kind, self.specs[kind]["score"], base_span, "pattern"))
                    taken.append(base_span)
        out: list[Finding] = []
        for h in hits:
            spec = self.specs.get(h.kind) or (self.landline if h.kind == "cn_landline" else self.unverified)
            cue = h.context
            if cue is None and h.kind in self.context:
                cue = self._context(self.context[h.kind], utt, ctx)
            score = h.score + (spec.get("context_boost", 0.0) if cue else 0.0)
            says = spec.get("says", "long number")
            if h.kind == "unverified_run":
                says = "long number (ID, card or account?)"
            o_s, o_e = base.span(*h.span)
            who = utt.speaker or "the speaker"
            why = f"{says} spoken by {who}" + (f" ({h.note})" if h.note != "pattern" else "")
            if cue:
                why += f"; context word '{cue}'"
            out.append(make_finding(
                utt, label="privacy", subtype=self.subtype, rule=f"rule:pii.{h.kind}", score=min(0.99, score),
                explanation=why, char_span=(o_s, o_e),
                details={"pii_kind": h.kind, "verified": h.kind != "unverified_run",
                         **({"context": cue} if cue else {})}))
        return out


def _orig_to_base(base_index: list[int], o_start: int, o_end: int) -> tuple[int, int]:
    """`base`-view positions covering original characters [o_start, o_end)."""
    s = next((k for k, i in enumerate(base_index) if i >= o_start), len(base_index))
    e = next((k for k in range(len(base_index) - 1, -1, -1) if base_index[k] < o_end), s - 1) + 1
    return s, max(e, s)


def pii_detectors() -> list[Detector]:
    return [PIIRecognizer()]
