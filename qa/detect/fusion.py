"""Rules + learned model -> one calibrated decision per label per utterance, with the evidence kept.

Score: noisy-OR of the strongest rule confidence r and the model's calibrated probability p,
    s = 1 - (1 - r) * (1 - p),
i.e. the label is absent only if both the rule and the model are wrong. It never scores below either
source (a validated ID number stays at r even when the model sees a bland sentence), agreement raises it,
and with no rule hit it is exactly the model's calibrated p, so the model's thresholds keep their meaning.
(Max would ignore agreement; averaging would let a bland-looking sentence drown a checksum-verified number.)

Decision: a rule-backed finding is kept when s >= the site's threshold for its subtype or label (default
0.5); a model-only finding when p >= the site's threshold for the label, else the classifier's own
threshold chosen on held-out data. Rule hits are always shown as the evidence of the decision (source =
the rule id, the model's p in `details`); model-only findings say "model <name> <version>: p=0.87", with the
subtype named from lexicon hints where they match, else the bare label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from qa.data import load
from qa.detect.base import Utterance, make_finding
from qa.records import LABELS, Finding
from qa.text import PhraseSet

DEFAULT_THRESHOLD = 0.5
#: Labels the model learned from the agent's lines only (the corpus defines `stress` as the agent's distress; a
#: customer stressed about money is a hard negative): on a customer's line the model's score for them has no
#: training support, so it makes no model-only finding there (it stays in the line's scores).
AGENT_ONLY_MODEL_LABELS = ("stress",)


def noisy_or(r: float, p: float | None) -> float:
    return r if p is None else 1.0 - (1.0 - r) * (1.0 - float(p))


@dataclass
class Thresholds:
    """Site thresholds (`Settings.thresholds`, keys: a label or a subtype) over the model's own."""

    site: Mapping[str, float] = field(default_factory=dict)
    model: Mapping[str, float] = field(default_factory=dict)

    def rule(self, label: str, subtype: str) -> float:
        for key in (subtype, label):
            if key in self.site:
                return float(self.site[key])
        return DEFAULT_THRESHOLD

    def model_only(self, label: str) -> float:
        if label in self.site:
            return float(self.site[label])
        return float(self.model.get(label, DEFAULT_THRESHOLD))


@dataclass
class ModelInfo:
    name: str
    version: str
    source: str


def model_info(classifier: Any) -> ModelInfo:
    name, version = str(getattr(classifier, "name", "model")), str(getattr(classifier, "version", "?"))
    return ModelInfo(name, version, str(getattr(classifier, "source", f"{name}@{version}")))


@lru_cache(maxsize=1)
def _hints() -> dict[str, list[tuple[str, tuple[str, ...] | None, PhraseSet]]]:
    out: dict[str, list[tuple[str, tuple[str, ...] | None, PhraseSet]]] = {}
    for label, subs in load("lexicons/hints")["hints"].items():
        out[label] = [(sub, tuple(spec["speakers"]) if spec.get("speakers") else None, PhraseSet.from_spec(spec))
                      for sub, spec in subs.items()]
    return out


def infer_subtype(label: str, utt: Utterance, third_party: str | None = None) -> tuple[str, str | None]:
    """(subtype, hint word) for a model-only finding."""
    if label == "privacy" and third_party and utt.speaker == "agent":
        return "privacy/third_party_disclosure", None
    for sub, speakers, phrases in _hints().get(label, []):
        if speakers and utt.speaker not in speakers:
            continue
        m = phrases.find(utt.views)
        if m:
            if label == "threat" and utt.speaker == "customer" and sub != "threat/self_harm":
                return "threat/to_agent", m.text
            return sub, m.text
    if label == "threat" and utt.speaker == "customer":
        return "threat/to_agent", None
    return label, None


@dataclass
class UtteranceDecision:
    findings: list[Finding]
    scores: dict[str, float]  # fused score per label


def _merge_same_subtype(findings: list[Finding]) -> list[Finding]:
    """One finding per subtype: the strongest, with the others listed as further evidence."""
    best: dict[str, Finding] = {}
    extra: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: -f.score):
        if f.subtype in best:
            extra.setdefault(f.subtype, []).append(f)
        else:
            best[f.subtype] = f
    out = []
    for sub, f in best.items():
        more = extra.get(sub, [])
        if more:
            f = replace(f, details={**f.details, "also": [
                {"span": m.span, "source": m.source, "score": m.score} for m in more]},
                explanation=f.explanation + f" (+{len(more)} more)")
        out.append(f)
    return out


def fuse_utterance(utt: Utterance, rule_findings: Sequence[Finding], probs: np.ndarray | None,
                   model: ModelInfo | None, thresholds: Thresholds,
                   third_party: str | None = None) -> UtteranceDecision:
    """Fuse the rule findings of one utterance with the model's probabilities (LABELS order) for it."""
    findings: list[Finding] = []
    scores: dict[str, float] = {}
    for j, label in enumerate(LABELS):
        p = None if probs is None else float(probs[j])
        rules = [f for f in rule_findings if f.label == label]
        label_score = 0.0 if p is None else p
        for f in _merge_same_subtype(rules):
            s = noisy_or(f.score, p)
            label_score = max(label_score, s)
            if s < thresholds.rule(label, f.subtype):
                continue
            details = {**f.details, "rule_score": f.score}
            why = f.explanation
            if p is not None and model is not None:
                details["model_p"] = round(p, 4)
                details["model"] = model.source
                if p >= thresholds.model_only(label):
                    why += f"; model agrees (p={p:.2f})"
            findings.append(replace(f, score=round(s, 4), explanation=why, details=details))
        agent_only = label in AGENT_ONLY_MODEL_LABELS and utt.speaker == "customer"
        if not rules and p is not None and model is not None and p >= thresholds.model_only(label) and not agent_only:
            subtype, hint = infer_subtype(label, utt, third_party)
            details: dict[str, Any] = {"model_p": round(p, 4), "model": model.source}
            if label in ("threat", "harassment") and utt.speaker == "customer" and subtype != "threat/self_harm":
                details["direction"] = "to_agent"
            elif label in ("threat", "harassment") and utt.speaker == "agent":
                details["direction"] = "to_customer"
            if subtype == "threat/self_harm":
                details["urgent"] = True
            why = f"model {model.name} {model.version}: p={p:.2f}"
            if hint:
                why += f" ({subtype}: '{hint}')"
            elif subtype == "privacy/third_party_disclosure":
                why += f" (listener is not the debtor: {third_party})"
            if subtype == "threat/self_harm":
                why = "URGENT: customer may be speaking of self-harm; " + why
            findings.append(make_finding(utt, label=label, subtype=subtype, rule=model.source, score=p,
                                         explanation=why, details=details))
        scores[label] = round(label_score, 4)
    return UtteranceDecision(findings, scores)
