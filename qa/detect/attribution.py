"""The words behind a model finding: occlusion through the real encoder and head.

Each word (Latin script) or pair of neighbouring characters (Chinese) is deleted in turn and the utterance
is scored again; a unit's weight is how far the label's calibrated log-odds fall without it (log-odds, not
probability: at p=0.98 three redundant threats each move p by 0.02 but the odds by half). Units whose drop
reaches `DROP_FLOOR` (and at least half the largest drop) are the evidence; neighbouring ones are joined
into phrases. A finding whose largest drop stays under the floor "cannot name its words": it stays on the
call page but does not put the call in the review queue on its own (`qa.assess.scoring.review_decision`).

Cost: one extra batch of at most `MAX_VARIANTS` short texts per utterance that carries a model-only finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qa.detect.base import Utterance
from qa.records import LABELS, Finding

#: A unit must lower the label's log-odds by at least this much (odds / 2.7) to be named as evidence.
DROP_FLOOR = 1.0
MAX_VARIANTS = 48
MAX_PHRASES = 3

_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*|[\u3400-\u9fff\uf900-\ufaff]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass
class Phrase:
    start: int  # character offsets in the utterance text
    end: int
    text: str
    drop: float  # how far the log-odds fall without it
    p_without: float  # the label's probability without it

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "logit_drop": round(self.drop, 3),
                "p_without": round(self.p_without, 3)}


@dataclass
class Attribution:
    label: str
    p: float
    phrases: list[Phrase] = field(default_factory=list)
    max_drop: float = 0.0
    method: str = "occlusion"

    @property
    def named(self) -> bool:
        return bool(self.phrases)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "floor": DROP_FLOOR, "max_drop": round(self.max_drop, 3),
                "words": [p.text for p in self.phrases], "phrases": [p.to_json() for p in self.phrases]}


def _windows(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(units, windows): units are words or single CJK characters; a window deletes one word or two
    neighbouring CJK characters (one Chinese character rarely carries meaning alone)."""
    units = [(m.start(), m.end()) for m in _UNIT.finditer(text)]
    windows: list[tuple[int, int]] = []
    for i, (s, e) in enumerate(units):
        if _CJK.fullmatch(text[s:e]) and i + 1 < len(units) and _CJK.fullmatch(text[units[i + 1][0]:units[i + 1][1]]) \
                and units[i + 1][0] == e:
            windows.append((i, i + 2))
        else:
            windows.append((i, i + 1))
    if len(windows) > MAX_VARIANTS:  # long turns: wider windows, same number of model calls
        step = -(-len(units) // MAX_VARIANTS)
        windows = [(i, min(len(units), i + step + 1)) for i in range(0, len(units), step)]
    return units, windows


def attribute(classifier: Any, utt: Utterance, labels: list[str]) -> dict[str, Attribution]:
    """Occlusion attribution of `labels` for one utterance, through `classifier.predict`."""
    text = utt.text
    units, windows = _windows(text)
    speaker = utt.speaker or ""
    variants = []
    for a, b in windows:
        s, e = units[a][0], units[b - 1][1]
        variants.append((text[:s] + " " + text[e:]).strip() if not _CJK.match(text[s:e]) else text[:s] + text[e:])
    scored = np.asarray(classifier.predict([text, *variants], [speaker] * (1 + len(variants))))
    base, probs = scored[0], scored[1:]
    out: dict[str, Attribution] = {}
    if not windows:
        return {lab: Attribution(lab, float(base[LABELS.index(lab)])) for lab in labels}
    for lab in labels:
        j = LABELS.index(lab)
        drops = _logit(base[j]) - _logit(probs[:, j])
        weight = np.zeros(len(units))
        without = np.ones(len(units))
        for (a, b), d, pw in zip(windows, drops, probs[:, j]):
            better = d > weight[a:b]
            weight[a:b] = np.where(better, d, weight[a:b])
            without[a:b] = np.where(better, pw, without[a:b])
        max_drop = float(drops.max()) if len(drops) else 0.0
        cut = max(DROP_FLOOR, 0.5 * max_drop)
        phrases: list[Phrase] = []
        i = 0
        while i < len(units):
            if weight[i] < cut:
                i += 1
                continue
            k = i
            while k + 1 < len(units) and weight[k + 1] >= cut:
                k += 1
            s, e = units[i][0], units[k][1]
            top = i + int(np.argmax(weight[i:k + 1]))
            phrases.append(Phrase(s, e, text[s:e], float(weight[top]), float(without[top])))
            i = k + 1
        phrases.sort(key=lambda p: -p.drop)
        out[lab] = Attribution(lab, float(base[j]), phrases[:MAX_PHRASES], max_drop)
    return out


def _logit(p: Any) -> Any:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def is_model_only(f: Finding) -> bool:
    """A finding the learned model raised without a rule behind it."""
    return "model_p" in (f.details or {}) and "rule_score" not in (f.details or {})


def explain(f: Finding, att: Attribution, model_name: str, model_version: str) -> tuple[str, str]:
    """(English, Chinese) explanation of a model-only finding, naming its words."""
    head_zh = f"模型 {model_name} {model_version}：p={att.p:.2f}"
    if f.subtype != f.label:
        head_zh += f"（{f.subtype}）"
    if f.details.get("urgent"):
        head_zh = "紧急：客户可能提及自我伤害；" + head_zh
    if att.named:
        en = f.explanation + ", driven by " + ", ".join(f"'{p.text}' (p={p.p_without:.2f} without it)" for p in att.phrases)
        zh = head_zh + "，主要依据" + "、".join(f"「{p.text}」(去掉后 p={p.p_without:.2f})" for p in att.phrases)
    else:
        en = (f.explanation + f"; no words drive it (removing any one lowers the log-odds by at most {att.max_drop:.2f} < {DROP_FLOOR:.1f}): "
              "low confidence, does not flag the call alone")
        zh = (head_zh + f"；无法指出具体用语（去掉任一用语，对数几率最多下降 {att.max_drop:.2f} < {DROP_FLOOR:.1f}）："
              "低置信度，不单独标记通话")
    return en, zh


def attach(f: Finding, utt: Utterance, att: Attribution, model_name: str, model_version: str) -> Finding:
    """The finding with its words: explanation (both languages), attribution details, and a span narrowed to
    the strongest phrase (so the call page highlights it)."""
    en, zh = explain(f, att, model_name, model_version)
    details = {**f.details, "attribution": att.to_json(), "explanation_zh": zh}
    if not att.named:
        details["low_confidence"] = True
        return replace(f, explanation=en, details=details)
    top = att.phrases[0]
    start, end = utt.times(top.start, top.end)
    return replace(f, explanation=en, details=details, span=top.text, start=start, end=end)
