"""Call risk (0-100) and complaint risk (0-1) from a call's findings and conversation measures, with the
contributions that produced them. Weights and their rationale: `qa/data/scoring.yaml` (or `CALLQA_SCORING`)."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


from qa.records import Finding, is_abuse_received
from qa.text import fmt_offset
from qa.config import get_settings
from qa.data import load_or_site


def load_weights(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """`path`, else the site's file (`CALLQA_SCORING`), else the bundled `qa/data/scoring.yaml`."""
    return load_or_site("scoring", path or get_settings().scoring)


@dataclass
class Reason:
    reason: str
    points: float  # risk points; for complaint risk, the log-odds contribution
    kind: str  # "risk" | "complaint"
    key: str
    reason_zh: str = ""
    evidence: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "points": round(self.points, 2), "kind": self.kind, "key": self.key,
                "reason_zh": self.reason_zh, "evidence": self.evidence}


@dataclass
class CallScore:
    risk: float
    complaint_risk: float
    reasons: list[Reason] = field(default_factory=list)

    def reasons_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.reasons]


def finding_kind(f: Finding) -> str | None:
    """The weight key of a finding (see scoring.yaml)."""
    if f.label.startswith("compliance/"):
        return f.label
    if f.subtype == "threat/self_harm":
        return "self_harm"
    if f.label in ("threat", "harassment"):
        if is_abuse_received(f):
            return "abuse_received"
        return "agent_threat" if f.label == "threat" else "agent_harassment"
    if f.label == "privacy":
        return "third_party_disclosure" if f.subtype.startswith("privacy/third_party_disclosure") else "privacy"
    if f.label == "stress":
        return "agent_stress" if f.speaker == "agent" else "customer_distress"
    return None


def score_call(findings: Sequence[Finding], measures: Mapping[str, Any] | None,
               weights: Mapping[str, Any] | None = None) -> CallScore:
    """Risk and complaint risk of one call, with every contribution as a reason (largest first)."""
    w = weights or load_weights()
    measures = measures or {}
    by_kind: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        k = finding_kind(f)
        if k:
            by_kind[k].append(f)

    reasons: list[Reason] = []
    for key, spec in w["risk"]["findings"].items():
        group = by_kind.get(key)
        if not group:
            continue
        best = max(group, key=lambda f: f.score)
        pts = min(float(spec["cap"]), spec["points"] * best.score + spec.get("repeat", 0) * (len(group) - 1))
        at = fmt_offset(best.start, decimals=0)
        evidence = f"{len(group)} finding(s); strongest {best.score:.2f}" + (f" at {at}" if at else "")
        reasons.append(Reason(spec["reason"], pts, "risk", key, spec.get("reason_zh", ""), evidence))
    units = {"complaint_intent_count": len(measures.get("complaint_intent") or []),
             "customer_anger_count": len(measures.get("customer_anger") or []),
             "agent_interruptions": (measures.get("interruptions") or {}).get("agent", 0)}
    for key, spec in w["risk"].get("measures", {}).items():
        n = max(0.0, float(units.get(key, 0)) - float(spec.get("free", 0)))
        if n > 0:
            pts = min(float(spec["cap"]), spec["per_unit"] * n)
            reasons.append(Reason(spec["reason"], pts, "risk", key, spec.get("reason_zh", ""),
                                  f"{units[key]} in the call"))
    risk = min(float(w["risk"]["max"]), sum(r.points for r in reasons))

    violations = {k: len(v) for k, v in by_kind.items() if k.startswith("compliance/")}
    features = {
        **units,
        "agent_misconduct": len(by_kind.get("agent_threat", [])) + len(by_kind.get("agent_harassment", []))
        + len(by_kind.get("compliance/impersonation", [])),
        "contact_violations": violations.get("compliance/calling_hours", 0)
        + violations.get("compliance/call_frequency", 0),
        "third_party_disclosure": len(by_kind.get("third_party_disclosure", []))
        + violations.get("compliance/third_party_contact", 0),
        "other_violations": violations.get("compliance/missing_disclosure", 0),
        "customer_hung_up": 1 if measures.get("ended_by") == "customer" else 0,
    }
    logit = float(w["complaint"]["intercept"])
    complaint_reasons = []
    for key, spec in w["complaint"]["features"].items():
        x = min(float(spec.get("cap", 1e9)), max(0.0, float(features.get(key, 0)) - float(spec.get("free", 0))))
        if x > 0:
            contrib = spec["weight"] * x
            logit += contrib
            complaint_reasons.append(Reason(spec["reason"], contrib, "complaint", key, spec.get("reason_zh", ""),
                                            f"{features[key]} in the call"))
    complaint = 1.0 / (1.0 + math.exp(-logit))
    top = int(w.get("top_reasons", 5))
    reasons.sort(key=lambda r: -r.points)
    complaint_reasons.sort(key=lambda r: -r.points)
    return CallScore(round(risk, 1), round(complaint, 3), reasons[:top] + complaint_reasons[:top])
