"""Dialogue logic: third-party disclosure of the debt, and call bombing or a read-out of personal data reported by
the customer.

Third-party disclosure needs the order of turns: the person on the line is not the debtor (the manifest's
`callee`, or they say so: 我是他邻居 / "this is his wife"), and after that the agent mentions the debt, its
amount or overdue status. Asking a third party to pass on a callback request without mentioning the debt
is compliant and never flagged.
"""

from __future__ import annotations

import re
from typing import Any

from qa.data import load
from qa.detect.base import Context, Detector, DialogueDetector, Utterance, make_finding
from qa.detect.recognizers.pii import is_service_line
from qa.records import Finding
from qa.text import PhraseSet, UtteranceText, amounts_to_digits, digit_runs, fmt_offset


class ThirdPartyDisclosure(DialogueDetector):
    name = "third_party_disclosure"
    labels = ("privacy",)

    def __init__(self) -> None:
        spec: dict[str, Any] = load("lexicons/dialogue")["third_party"]
        self.spec = spec
        self.subtype: str = spec["subtype"]
        self.debtor_callees = {str(x).strip().lower() for x in spec["debtor_callees"] if x is not None}
        self.not_debtor = PhraseSet.from_spec(spec["not_debtor"])
        self.is_debtor = PhraseSet.from_spec(spec["is_debtor"])
        self.debt = PhraseSet.from_spec(spec["debt"])
        self.third_person = PhraseSet.from_spec(spec["third_person"])

    def _callee_is_third_party(self, callee: str | None) -> bool:
        return callee is not None and callee.strip().lower() not in self.debtor_callees

    def debt_mention(self, utt: Utterance) -> str | None:
        """The debt word or amount the utterance mentions, or None."""
        m = self.debt.find(utt.views)
        if m:
            return m.text
        if utt.views.has_cjk:  # amounts read in Chinese numerals: 两万三千五百元 -> 23500元
            converted = amounts_to_digits(utt.views.phrase.text)
            if converted != utt.views.phrase.text:
                m = self.debt.find(UtteranceText(converted))
                if m:
                    return m.text
        return None

    def third_party_turns(self, ctx: Context) -> dict[int, str]:
        """Utterance index -> why the listener is believed not to be the debtor, for every turn after that
        became known (used to name the subtype of model-only privacy findings)."""
        return {f.segment_index: f.details.get("established", "") for f in self._scan(ctx, probe=True)
                if f.segment_index is not None}

    def detect_dialogue(self, ctx: Context) -> list[Finding]:
        return self._scan(ctx, probe=False)

    def _scan(self, ctx: Context, probe: bool) -> list[Finding]:
        out: list[Finding] = []
        relation: str | None = None
        established: str | None = None  # why we believe the listener is not the debtor
        score = 0.0
        if self._callee_is_third_party(ctx.meta.callee):
            relation = ctx.meta.callee
            established = f"callee is '{ctx.meta.callee}' (manifest)"
            score = self.spec["score_manifest"]
        callee_known_debtor = bool((ctx.meta.callee or "").strip()) and not relation
        for utt in ctx.utterances:
            if not utt.text.strip():
                continue
            if utt.speaker != "agent":
                if utt.speaker is None:
                    continue
                said = self.not_debtor.find(utt.views)
                if said:
                    if established is None or "manifest" not in established:
                        at = fmt_offset(utt.start)
                        established = f"the other side said '{said.text}'" + (f" at {at}" if at else "")
                        score = self.spec["score_dialogue"]
                        relation = relation or said.text
                elif established and "manifest" not in established and self.is_debtor.find(utt.views):
                    established, relation = None, None  # they corrected themselves: it is the debtor
                continue
            if probe:
                if established:
                    out.append(make_finding(utt, label="privacy", subtype=self.subtype, rule="probe", score=0.0,
                                            explanation="", details={"established": established}))
                continue
            debt = self.debt_mention(utt)
            if not debt:
                continue
            if established:
                out.append(make_finding(
                    utt, label="privacy", subtype=self.subtype, rule="rule:dialogue.third_party_disclosure",
                    score=score, explanation=f"agent mentioned the debt ('{debt}') to a third party: {established}",
                    details={"direction": "to_third_party", "relation": relation, "debt_words": debt}))
            elif not callee_known_debtor:
                third = self.third_person.find(utt.views)
                if third:
                    out.append(make_finding(
                        utt, label="privacy", subtype=self.subtype,
                        rule="rule:dialogue.third_party_disclosure_in_utterance",
                        score=self.spec["score_in_utterance"],
                        explanation=(f"agent spoke of the debt ('{debt}') of someone else to the listener "
                                     f"('{third.text}')"),
                        details={"direction": "to_third_party", "debt_words": debt, "third_person": third.text}))
        return out


_CN_NUM = re.compile(r"^[零一二两三四五六七八九十百]+$")


def _count(text: str | None) -> int | None:
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if "几" in text:  # 几十 / 十几: "a few dozen"
        return 20 if text.startswith("几") else 10
    if _CN_NUM.match(text):
        try:
            import cn2an

            return int(cn2an.cn2an(text, "smart"))
        except Exception:  # noqa: BLE001
            return None
    return None


class ReportedCallBombing(Detector):
    """The customer says they are called over and over ("你们一天打了二十个电话")."""

    name = "reported_call_bombing"
    labels = ("harassment",)

    def __init__(self) -> None:
        spec = load("lexicons/dialogue")["reported_call_bombing"]
        self.subtype: str = spec["subtype"]
        self.score = float(spec["score"])
        self.min_calls = int(spec["min_calls"])
        self.patterns = {lang: [re.compile(p, re.IGNORECASE) for p in spec.get(lang, {}).get("patterns", [])]
                         for lang in ("zh", "en")}

    def detect(self, utt: Utterance, ctx: Context) -> list[Finding]:
        if utt.speaker != "customer":
            return []
        view = utt.views.phrase
        for lang, ok in (("zh", utt.views.has_cjk), ("en", utt.views.has_latin)):
            if not ok:
                continue
            for rx in self.patterns[lang]:
                for m in rx.finditer(view.text):
                    n = _count(m.groupdict().get("n"))
                    if "n" in rx.groupindex and (n is None or n < self.min_calls):
                        continue
                    what = f"{n} calls" if n else "repeated calls"
                    # speaker None: the misconduct is the caller's, the customer only reports it
                    return [make_finding(
                        utt, label="harassment", subtype=self.subtype, rule="rule:dialogue.reported_call_bombing",
                        score=self.score, speaker=None, char_span=view.span(m.start(), m.end()),
                        explanation=f"customer reports being called over and over ({what}): '{m.group(0)}'",
                        details={"reported_by": "customer", "direction": "to_customer", "calls": n})]
        return []


class ReportedDisclosure(DialogueDetector):
    """The customer objects that their personal data is read out on the call ("这些信息不要在电话里念"). After an
    agent turn holding a long number, that corroborates a disclosure the recogniser may have garbled past any
    checksum; alone, the objection is shown but does not reach the review threshold."""

    name = "reported_disclosure"
    labels = ("privacy",)

    def __init__(self) -> None:
        spec = load("lexicons/dialogue")["reported_disclosure"]
        self.spec = spec
        self.subtype: str = spec["subtype"]
        self.objection = PhraseSet.from_spec({lang: spec[lang] for lang in ("zh", "en") if lang in spec})

    def _recent_number(self, ctx: Context, utt: Utterance) -> tuple[Utterance, str] | None:
        """The latest agent turn with a long digit run shortly before `utt`, and the run."""
        for prev in reversed(ctx.utterances[max(0, utt.index - int(self.spec["lookback_turns"])):utt.index]):
            if prev.speaker != "agent":
                continue
            if utt.start is not None and prev.end is not None and utt.start - prev.end > self.spec["lookback_seconds"]:
                break
            runs = [r for r in digit_runs(prev.views.base, min_digits=int(self.spec["min_digits"]))
                    if not is_service_line(r.digits)]
            if runs:
                return prev, runs[0].digits
        return None

    def detect_dialogue(self, ctx: Context) -> list[Finding]:
        out: list[Finding] = []
        for utt in ctx.utterances:
            if utt.speaker != "customer" or not utt.text.strip():
                continue
            m = self.objection.find(utt.views, fuzzy=False)
            if not m:
                continue
            heard = f"'{m.text}'" + (" (matched by sound)" if m.how == "pinyin" else "")
            heard_zh = f"“{m.text}”" + ("（按读音匹配）" if m.how == "pinyin" else "")
            number = self._recent_number(ctx, utt)
            if number:
                prev, digits = number
                at = fmt_offset(prev.start)
                why = (f"customer objects to their personal data being read out ({heard}) right after the agent "
                       f"spoke a {len(digits)}-digit number" + (f" at {at}" if at else ""))
                why_zh = (f"客户反对在电话里念出其个人信息{heard_zh}，此前坐席" + (f"在 {at} " if at else "")
                          + f"念了一个 {len(digits)} 位数字")
                score = float(self.spec["score_with_number"])
            else:
                why = f"customer objects to their personal data being read out ({heard}); no long number heard before"
                why_zh = f"客户反对在电话里念出其个人信息{heard_zh}；此前未听到长数字"
                score = float(self.spec["score"])
            # speaker None: the disclosure is the agent's, the customer only reports it
            out.append(make_finding(
                utt, label="privacy", subtype=self.subtype, rule="rule:dialogue.reported_disclosure", score=score,
                speaker=None, char_span=utt.views.phrase.span(m.start, m.end), explanation=why,
                details={"explanation_zh": why_zh, "reported_by": "customer",
                         "agent_number_digits": len(number[1]) if number else 0,
                         "agent_number_at": number[0].start if number else None, "match": m.how}))
        return out
