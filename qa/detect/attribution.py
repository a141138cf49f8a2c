"""The words behind a model finding: occlusion through the real encoder and head.

Each word (Latin script) or pair of neighbouring characters (Chinese) is deleted in turn and the utterance
is scored again; a unit's weight is how far the label's calibrated log-odds fall without it (log-odds, not
probability: at p=0.98 three redundant threats each move p by 0.02 but the odds by half). Units whose drop
reaches `DROP_FLOOR` (and at least half the largest drop) are the evidence; neighbouring ones are joined
into phrases. A finding whose largest drop stays under the floor "cannot name its words": it stays on the
call page but does not put the call in the review queue on its own (`qa.assess.scoring.review_decision`).

Cost: at most `MAX_VARIANTS` short texts per utterance that carries a model-only finding (more only when no
single word reaches the floor), scored together with those of every other such utterance of the call.
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
MAX_VARIANTS = 40
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


def _units(text: str) -> list[tuple[int, int]]:
    """Words (Latin script) and single CJK characters, as character spans."""
    return [(m.start(), m.end()) for m in _UNIT.finditer(text)]


def _windows(text: str, units: list[tuple[int, int]], width: int) -> list[tuple[int, int]]:
    """Sliding windows of `width` units (CJK characters count half: a Chinese word is about two of them),
    at most MAX_VARIANTS of them (wider steps on long turns)."""
    cjk = sum(1 for s, e in units if _CJK.fullmatch(text[s:e]))
    w = width * 2 if cjk > len(units) / 2 else width
    w = max(1, min(w, len(units)))
    starts = list(range(0, max(1, len(units) - w + 1)))
    if len(starts) > MAX_VARIANTS:
        step = -(-len(starts) // MAX_VARIANTS)
        starts = starts[::step]
    return [(i, min(len(units), i + w)) for i in starts]


def _delete(text: str, span: tuple[int, int]) -> str:
    s, e = span
    return text[:s] + text[e:] if _CJK.match(text[s:e]) else (text[:s].rstrip() + " " + text[e:].lstrip()).strip()


@dataclass
class Request:
    """One utterance whose model-only findings need their words: `labels`, and the probabilities the model
    already gave the whole utterance (`base`, one per label in LABELS order)."""
    utt: Utterance
    labels: list[str]
    base: np.ndarray


def attribute(classifier: Any, requests: list[Request]) -> list[dict[str, Attribution]]:
    """Occlusion attribution for each request, through `classifier.predict`.

    One word (two CJK characters) at a time first; when no window reaches the floor for a label (the
    evidence is repeated, e.g. three threats in one turn), windows of 3 and then 6 words are tried. The
    variants of every utterance at one width are scored in one call, so the encoder batches them by length."""
    units = [_units(r.utt.text) for r in requests]
    todo = [list(r.labels) for r in requests]
    out: list[dict[str, Attribution]] = [{} for _ in requests]
    for width in (1, 3, 6):
        live = [k for k in range(len(requests)) if todo[k]]
        spans: dict[int, list[tuple[int, int]]] = {}
        texts: list[str] = []
        speakers: list[str] = []
        for k in live:
            text = requests[k].utt.text
            spans[k] = [(units[k][a][0], units[k][b - 1][1]) for a, b in _windows(text, units[k], width)] if units[k] else []
            texts += [_delete(text, sp) for sp in spans[k]]
            speakers += [requests[k].utt.speaker or ""] * len(spans[k])
        scored = np.asarray(classifier.predict(texts, speakers)) if texts else np.zeros((0, len(LABELS)))
        row = 0
        for k in live:
            probs = scored[row: row + len(spans[k])]
            row += len(spans[k])
            for lab in list(todo[k]):
                att = _phrases(requests[k].utt.text, spans[k], requests[k].base, probs, lab)
                prev = out[k].get(lab)
                out[k][lab] = replace(att, max_drop=max(att.max_drop, prev.max_drop if prev else 0.0))
                if att.named:
                    todo[k].remove(lab)
            if len(units[k]) <= width:
                todo[k] = []
        if not any(todo):
            break
    return out


def _phrases(text: str, spans: list[tuple[int, int]], base: np.ndarray, probs: np.ndarray, lab: str) -> Attribution:
    """The label's evidence among the deleted `spans`: those whose deletion lowers its log-odds by at least the
    floor (and half the largest drop), overlapping or touching ones joined into phrases."""
    j = LABELS.index(lab)
    drops = _logit(base[j]) - _logit(probs[:, j]) if len(spans) else np.zeros(0)
    max_drop = float(drops.max()) if len(drops) else 0.0
    cut = max(DROP_FLOOR, 0.5 * max_drop)
    chosen = sorted((sp, float(d), float(pw)) for sp, d, pw in zip(spans, drops, probs[:, j] if len(spans) else [])
                    if d >= cut)
    phrases: list[Phrase] = []
    for (s, e), d, pw in chosen:
        if phrases and s <= phrases[-1].end + 1:
            last = phrases[-1]
            last.end = max(last.end, e)
            last.text = text[last.start:last.end]
            if d > last.drop:
                last.drop, last.p_without = d, pw
        else:
            phrases.append(Phrase(s, e, text[s:e], d, pw))
    phrases.sort(key=lambda p: -p.drop)
    return Attribution(lab, float(base[j]), phrases[:MAX_PHRASES], max_drop)


def _logit(p: Any) -> Any:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


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
