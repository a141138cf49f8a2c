"""Per-label precision, recall and F1 of multi-label decisions (for `callqa eval`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qa.records import LABELS


def label_metrics(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                  labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """{"labels": {label: {precision, recall, f1, support, predicted, tp}}, "macro_f1", "n"}.

    Precision with nothing predicted is 0 (and recall with no gold positives is 0), so a label that is
    never predicted or never present pulls the macro average down instead of being skipped.
    """
    if len(gold) != len(pred):
        raise ValueError("gold and predicted lists differ in length")
    out: dict[str, Any] = {}
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred) if lab in g and lab in p)
        n_pred = sum(1 for p in pred if lab in p)
        n_gold = sum(1 for g in gold if lab in g)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[lab] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                    "support": n_gold, "predicted": n_pred, "tp": tp}
    macro = sum(v["f1"] for v in out.values()) / len(labels) if labels else 0.0
    exact = sum(1 for g, p in zip(gold, pred) if set(g) == set(p)) / len(gold) if gold else 0.0
    return {"n": len(gold), "labels": out, "macro_f1": round(macro, 4), "exact_match": round(exact, 4)}
