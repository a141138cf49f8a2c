"""Call risk (0-100) and complaint risk (0-1) from a call's findings and conversation measures, with the
contributions that produced them. Weights and their rationale: `qa/data/scoring.yaml` (or `CALLQA_SCORING`)."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.config import get_settings
from qa.data import load_file, load_or_site
from qa.records import Finding, is_abuse_received, is_model_only
from qa.text import fmt_offset


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
               weights: Mapping[str, Any] | None = None, model_only: Mapping[str, Any] | None = None) -> CallScore:
    """Risk and complaint risk of one call, with every contribution as a reason (largest first).

    `model_only`: the review queue's model-only rules (`review_config()["model_only"]`, so a site's calibrated
    values apply to both); default the bundled ones."""
    w = weights or load_weights()
    measures = measures or {}
    by_kind: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        k = finding_kind(f)
        if k:
            by_kind[k].append(f)

    if model_only is None:
        model_only = w.get("review", {}).get("model_only", {})
    discount = float(model_only.get("risk_weight_below", 1.0))

    def weight(f: Finding) -> float:
        """A model-only finding the review queue would not act on counts at a discount: it stays in the ranking
        but cannot lift a call above one with rule-backed evidence (garbled ASR makes the model guess)."""
        weak = is_model_only(f) and model_only_held(f, model_only)
        return f.score * (discount if weak else 1.0)

    reasons: list[Reason] = []
    for key, spec in w["risk"]["findings"].items():
        group = by_kind.get(key)
        if not group:
            continue
        best = max(group, key=weight)
        counted = weight(best)
        pts = min(float(spec["cap"]), spec["points"] * counted + spec.get("repeat", 0) * (len(group) - 1))
        at = fmt_offset(best.start, decimals=0)
        evidence = f"{len(group)} finding(s); strongest {best.score:.2f}" + (f" at {at}" if at else "")
        if counted < best.score:
            evidence += f" (model only, below review: counted x{discount:g})"
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


# ---------------------------------------------------------------- review threshold

REVIEW_FILE = "review_thresholds.yaml"


@dataclass
class ReviewDecision:
    """Whether a call enters the review queue, and the findings that put it there."""

    flagged: bool
    reasons: list[dict[str, Any]] = field(default_factory=list)  # findings at or above their kind's threshold
    held_back: int = 0  # findings shown on the call page that do not flag it (low confidence)


def review_config(settings: Any = None) -> dict[str, Any]:
    """Review thresholds: scoring.yaml, then the site's calibrated file, then `Settings.review_thresholds`."""
    settings = settings or get_settings()
    review = load_weights().get("review", {})
    thresholds: dict[str, float | None] = dict(review.get("thresholds", {}))
    model_only = dict(review.get("model_only", {"min_score": 0.8, "need_words": True}))
    calibrated = settings.models_dir / REVIEW_FILE
    if calibrated.is_file():
        site = load_file(calibrated)
        thresholds.update(site.get("thresholds", {}))
        model_only.update(site.get("model_only", {}))
    thresholds.update(settings.review_thresholds or {})
    return {"thresholds": thresholds, "model_only": model_only}


def model_only_held(f: Finding, model_only: Mapping[str, Any], basis: Finding | None = None) -> bool:
    """Whether the review queue holds back a finding that rests on the model alone (`basis`: the model-only
    detector finding a compliance finding is built on; default `f` itself): its kind never flags on the model
    alone, its score is under `model_only.min_score`, or, when `need_words`, it names no words."""
    basis = basis or f
    never = model_only.get("never") or ()
    if finding_kind(f) in never or finding_kind(basis) in never:
        return True
    if f.score < float(model_only.get("min_score", 0.0)):
        return True
    words = ((basis.details or {}).get("attribution") or {}).get("words")
    return bool(model_only.get("need_words", True)) and not words


def review_decision(findings: Sequence[Finding], config: Mapping[str, Any] | None = None) -> ReviewDecision:
    """Flag the call when a finding reaches the review threshold of its kind (see scoring.yaml `review`).

    A model-only finding must also reach `model_only.min_score` and, when `need_words`, name the words that
    drove it; the rest stay on the call page, unflagged."""
    cfg = config or review_config()
    thresholds: Mapping[str, float | None] = cfg["thresholds"]
    model_only = cfg.get("model_only", {})
    w = load_weights()["risk"]["findings"]
    reasons: list[dict[str, Any]] = []
    held = 0
    model_found = {(f.segment_index, f.source): f for f in findings if is_model_only(f)}
    for f in findings:
        kind = finding_kind(f)
        t = thresholds.get(kind) if kind else None
        if t is None:
            held += 1
            continue
        need = float(t)
        words: list[str] | None = None
        # a compliance finding built on a model-only detector finding is only as strong as that finding
        backing = model_found.get((f.segment_index, (f.details or {}).get("detector_source")))
        if is_model_only(f) or backing is not None:
            basis = backing or f
            if model_only_held(f, model_only, basis):
                held += 1
                continue
            need = max(need, float(model_only.get("min_score", 0.0)))
            words = list(((basis.details or {}).get("attribution") or {}).get("words") or [])
        if f.score < need:
            held += 1
            continue
        spec = w.get(kind, {})
        reasons.append({
            "kind": kind, "label": f.label, "subtype": f.subtype, "speaker": f.speaker, "start": f.start,
            "segment_index": f.segment_index, "span": f.span, "score": round(f.score, 3), "threshold": need,
            "source": f.source, "words": words,
            "reason": f"{spec.get('reason', kind)}: {f.score:.2f} >= {need:.2f}",
            "reason_zh": f"{spec.get('reason_zh', kind)}：{f.score:.2f} ≥ {need:.2f}",
        })
    reasons.sort(key=lambda r: -r["score"])
    return ReviewDecision(bool(reasons), reasons, held)


def calibrate_thresholds(judged: Sequence[tuple[str, float, bool]], target_precision: float = 0.9,
                         min_verdicts: int = 5) -> dict[str, dict[str, Any]]:
    """Per finding kind, the lowest review threshold at which reviewers confirmed at least `target_precision`
    of the findings at or above it. `judged`: (kind, score, confirmed). Kinds with fewer than `min_verdicts`
    verdicts, or that never reach the target, get no threshold (the result says why)."""
    by_kind: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for kind, score, ok in judged:
        by_kind[kind].append((float(score), bool(ok)))
    out: dict[str, dict[str, Any]] = {}
    for kind, pairs in sorted(by_kind.items()):
        if len(pairs) < min_verdicts:
            out[kind] = {"threshold": None, "verdicts": len(pairs),
                         "why": f"only {len(pairs)} verdicts (need {min_verdicts})"}
            continue
        best = None
        for t in sorted({s for s, _ in pairs}):
            above = [ok for s, ok in pairs if s >= t]
            if above and sum(above) / len(above) >= target_precision:
                best = (t, sum(above) / len(above), len(above), sum(above))
                break
        if best is None:
            out[kind] = {"threshold": None, "verdicts": len(pairs),
                         "why": f"no score reaches precision {target_precision:.2f}"}
        else:
            t, prec, n_above, n_ok = best
            out[kind] = {"threshold": round(t, 3), "verdicts": len(pairs), "precision": round(prec, 3),
                         "kept": n_above, "confirmed_kept": n_ok,
                         "confirmed_lost": sum(ok for _, ok in pairs) - n_ok}
    return out
