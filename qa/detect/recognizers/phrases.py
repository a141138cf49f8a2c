"""Seed-phrase detectors: threats, harassment, call bombing, self-harm and distress words (lexicons/abuse.yaml).

Direction matters: the same words are misconduct when the agent says them and abuse received when the
customer says them to the agent (`details["direction"] == "to_agent"`, threats as `threat/to_agent`). A
customer speaking of self-harm is `threat/self_harm`, marked urgent.
"""

from __future__ import annotations

from typing import Any

from qa.data import load
from qa.detect.base import Context, Detector, Utterance, make_finding
from qa.records import Finding
from qa.text import PhraseSet


class PhraseDetector(Detector):
    """One rule of abuse.yaml: its phrases, the speakers it applies to, and what it means."""

    def __init__(self, rule_id: str, spec: dict[str, Any], negators: dict[str, list[str]],
                 to_agent_threat: str) -> None:
        self.name = rule_id
        self.label: str = spec["label"]
        self.labels = (self.label,)
        self.subtype: str = spec["subtype"]
        self.speakers: tuple[str, ...] = tuple(spec.get("speakers", ("agent", "customer")))
        self.score = float(spec["score"])
        self.says: str = spec["says"]
        self.urgent = bool(spec.get("urgent", False))
        self.to_agent_threat = to_agent_threat
        self.phrases = PhraseSet.from_spec(spec, negators)

    def detect(self, utt: Utterance, ctx: Context) -> list[Finding]:
        if utt.speaker is not None and utt.speaker not in self.speakers:
            return []
        hits = self.phrases.find_all(utt.views)
        if not hits:
            return []
        view = utt.views.phrase
        first = hits[0]
        span = view.span(first.start, hits[-1].end)
        quoted = ", ".join(f"'{h.text}'" for h in hits[:3])
        how = " (matched by sound: possible ASR slip)" if all(h.how == "pinyin" for h in hits) else ""
        subtype = self.subtype
        details: dict[str, Any] = {"matched": [h.text for h in hits]}
        who = utt.speaker or "speaker"
        if self.urgent:
            details["urgent"] = True
            details["direction"] = "self"
            why = f"{self.says}: {quoted}{how}"
        elif self.label in ("threat", "harassment") and utt.speaker == "customer":
            details["direction"] = "to_agent"
            if self.label == "threat":
                subtype = self.to_agent_threat
            why = f"customer to agent (abuse received), {self.says}: {quoted}{how}"
        else:
            if self.label in ("threat", "harassment") and utt.speaker == "agent":
                details["direction"] = "to_customer"
            why = f"{who}: {self.says}: {quoted}{how}"
        score = self.score - (0.1 if how else 0.0)
        return [make_finding(utt, label=self.label, subtype=subtype, rule=f"rule:{self.name}", score=score,
                             explanation=why, char_span=span, details=details)]


def phrase_detectors() -> list[Detector]:
    lex = load("lexicons/abuse")
    negators = lex.get("negators", {})
    to_agent = lex.get("to_agent_threat_subtype", "threat/to_agent")
    return [PhraseDetector(rid, spec, negators, to_agent) for rid, spec in lex["rules"].items()]
