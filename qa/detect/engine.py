"""Run the detectors and the learned model over a call (or a batch of loose utterances) and fuse them.

The model is imported lazily (torch loads only when it is used) and called once per call with every
utterance, so detection adds little to a call's processing time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.config import Settings, get_settings
from qa.detect.base import Context, Registry, Utterance
from qa.detect.fusion import ModelInfo, Thresholds, fuse_utterance, model_info
from qa.detect.registry import default_registry
from qa.records import LABELS, CallMeta, Finding, Transcript, is_model_only


def get_classifier(settings: Settings | None = None) -> Any | None:
    """The learned classifier `Settings.classifier` names, loaded once per process; None only when the
    site chose `classifier: rules-only`. A missing or mismatched head raises ClassifierUnavailable."""
    from qa.detect.classifier.model import RULES_ONLY, load_classifier

    settings = settings or get_settings()
    if settings.classifier == RULES_ONLY:
        return None
    return load_classifier(settings)


def _predict(classifier: Any, utts: list[Utterance]) -> np.ndarray | None:
    if classifier is None or not utts:
        return None
    probs = np.asarray(classifier.predict([u.text for u in utts], [u.speaker or "" for u in utts]))
    if probs.shape != (len(utts), len(LABELS)):
        raise ValueError(f"classifier returned shape {probs.shape}, expected {(len(utts), len(LABELS))}")
    return probs


@dataclass
class _Judged:
    """One utterance after the rules and the model: its findings, the model's probabilities, fused scores."""
    utt: Utterance
    findings: list[Finding]
    probs: np.ndarray | None
    scores: dict[str, float]


def _run(utts: list[Utterance], meta: CallMeta, settings: Settings, classifier: Any | None,
         registry: Registry, dialogue: bool) -> tuple[list[Finding], list[_Judged]]:
    """Call-level findings, and each utterance judged (model findings not yet explained: `_with_words`)."""
    ctx = Context(meta, utts)
    rule_findings = registry.run(ctx, dialogue=dialogue)
    by_utt: dict[int | None, list[Finding]] = defaultdict(list)
    for f in rule_findings:
        by_utt[f.segment_index].append(f)
    live = [u for u in utts if u.text.strip()]
    probs = _predict(classifier, live)
    row = {u.index: k for k, u in enumerate(live)}
    info: ModelInfo | None = model_info(classifier) if classifier is not None else None
    thresholds = Thresholds(site=settings.thresholds or {},
                            model=getattr(classifier, "thresholds", {}) if classifier is not None else {})
    third_party: dict[int, str] = {}
    if dialogue and probs is not None:
        from qa.detect.recognizers.dialogue import ThirdPartyDisclosure

        tpd = next((d for d in registry.dialogue if isinstance(d, ThirdPartyDisclosure)), None)
        third_party = tpd.third_party_turns(ctx) if tpd else {}
    judged: list[_Judged] = []
    for u in utts:
        p = probs[row[u.index]] if probs is not None and u.index in row else None
        decision = fuse_utterance(u, by_utt.get(u.index, []), p, info, thresholds, third_party.get(u.index))
        judged.append(_Judged(u, decision.findings, p, decision.scores))
    return list(by_utt.pop(None, [])), judged  # call-level findings, if a detector makes any


def _with_words(classifier: Any, judged: list[_Judged]) -> None:
    """Name the words behind every model-only finding (occlusion through the real model), the variants of all
    utterances scored together."""
    from qa.detect.attribution import Request, attach, attribute

    if classifier is None:
        return
    todo = [(j, sorted({f.label for f in j.findings if is_model_only(f)})) for j in judged if j.probs is not None]
    todo = [(j, labels) for j, labels in todo if labels]
    if not todo:
        return
    info = model_info(classifier)
    atts = attribute(classifier, [Request(j.utt, labels, j.probs) for j, labels in todo])
    for (j, _), att in zip(todo, atts):
        j.findings = [attach(f, j.utt, att[f.label], info.name, info.version) if is_model_only(f) else f
                      for f in j.findings]


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.start if f.start is not None else -1.0, f.segment_index or 0, f.label))


def detect_transcript(transcript: Transcript, meta: CallMeta, settings: Settings | None = None,
                      classifier: Any = None, use_model: bool = True) -> list[Finding]:
    """Findings over a call's utterances and its dialogue (third-party disclosure, reported call bombing).

    `classifier`: a loaded classifier (anything with `predict(texts, speakers) -> (n, 4)`, `name`, `version`,
    `thresholds`); None loads the one `Settings.classifier` names when `use_model`.
    """
    settings = settings or get_settings()
    if classifier is None and use_model:
        classifier = get_classifier(settings)
    if not use_model:
        classifier = None
    utts = [Utterance.from_segment(i, seg) for i, seg in enumerate(transcript.segments)]
    call_level, judged = _run(utts, meta, settings, classifier, default_registry(), dialogue=True)
    _with_words(classifier, judged)
    return _ordered([*call_level, *(f for j in judged for f in j.findings)])


def classify_items(items: list[dict[str, Any]], classifier: Any = None, *, use_model: bool = True,
                   settings: Settings | None = None) -> list[dict[str, Any]]:
    """`callqa classify` over loose utterances: one result per item, same order.

    Item: {"id", "text", "speaker": "agent"|"customer", "lang" (optional)}. Result: {"id", "labels",
    "scores": {label: fused score}, "findings": [Finding.to_json() with start/end null]}. Each item is judged
    alone (no dialogue context); the model runs once over all items.
    """
    settings = settings or get_settings()
    if classifier is None and use_model:
        classifier = get_classifier(settings)
    if not use_model:
        classifier = None
    utts = [Utterance(i, it.get("speaker"), str(it.get("text") or ""), lang=it.get("lang"))
            for i, it in enumerate(items)]
    # Items are independent: the dialogue detectors see each one alone, the model sees all in one batch.
    live = [u for u in utts if u.text.strip()]
    probs = _predict(classifier, live)
    row = {u.index: k for k, u in enumerate(live)}
    fake = _Fixed(classifier, probs, row) if classifier is not None else None
    registry = default_registry()
    per_item: list[tuple[list[Finding], _Judged]] = []
    for u in utts:
        single = Utterance(0, u.speaker, u.text, lang=u.lang)
        call_level, judged = _run([single], CallMeta(), settings, fake.for_item(u.index) if fake else None,
                                  registry, dialogue=True)
        per_item.append((call_level, judged[0]))
    _with_words(classifier, [j for _, j in per_item])
    results: list[dict[str, Any]] = []
    for it, (call_level, judged) in zip(items, per_item):
        findings = _ordered([*call_level, *judged.findings])
        results.append({
            "id": it.get("id"),
            "labels": [lab for lab in LABELS if any(f.label == lab for f in findings)],
            "scores": {lab: judged.scores[lab] for lab in LABELS},
            "findings": [{**f.to_json(), "segment_index": None} for f in findings],
        })
    return results


class _Fixed:
    """Serves precomputed probabilities through the classifier interface (one batch for many items)."""

    def __init__(self, classifier: Any, probs: np.ndarray | None, row: dict[int, int]) -> None:
        self.probs, self.row = probs, row
        self.name = getattr(classifier, "name", "model")
        self.version = getattr(classifier, "version", "?")
        self.thresholds = getattr(classifier, "thresholds", {})
        self.source = getattr(classifier, "source", f"{self.name}@{self.version}")
        self._item: int | None = None

    def for_item(self, index: int) -> _Fixed:
        clone = _Fixed.__new__(_Fixed)
        clone.__dict__.update(self.__dict__)
        clone._item = index
        return clone

    def predict(self, texts: list[str], speakers: list[str] | None = None) -> np.ndarray:
        if self.probs is None or self._item not in self.row:
            return np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        return self.probs[[self.row[self._item]] * len(texts)]
