"""Detection metrics, one implementation on scikit-learn: `callqa eval` and the classifier's model card
(`qa.detect.classifier.train`) are computed by these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.records import LABELS


def indicator(label_lists: Sequence[Sequence[str]], labels: Sequence[str] = LABELS) -> np.ndarray:
    """Multi-label lists as a 0/1 matrix (one column per label, in `labels` order; other labels ignored)."""
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=list(labels))
    if not label_lists:
        return np.zeros((0, len(labels)), dtype=int)
    known = set(labels)
    return mlb.fit_transform([[lab for lab in items if lab in known] for items in label_lists])


def matrix_metrics(y: np.ndarray, pred: np.ndarray, labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """{"n", "labels": {label: {precision, recall, f1, support, predicted, tp}}, "macro_f1", "exact_match",
    "clean_lines": {n, labelled, share}} of 0/1 matrices `y` (gold) and `pred` (decisions), one column per label;
    `clean_lines` counts the lines without any gold label that got a label anyway (false alarms).

    Precision with nothing predicted is 0 (and recall with no gold positives is 0), so a label that is
    never predicted or never present pulls the macro average down instead of being skipped.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    y, pred = np.asarray(y, dtype=int), np.asarray(pred, dtype=int)
    if y.shape != pred.shape:
        raise ValueError("gold and predicted lists differ in length")
    n = int(y.shape[0])
    out: dict[str, Any] = {}
    if n:
        p, r, f, support = precision_recall_fscore_support(y, pred, average=None, labels=list(range(len(labels))),
                                                           zero_division=0)
    else:
        p = r = f = support = np.zeros(len(labels))
    for j, lab in enumerate(labels):
        out[lab] = {"precision": round(float(p[j]), 4), "recall": round(float(r[j]), 4),
                    "f1": round(float(f[j]), 4), "support": int(support[j]),
                    "predicted": int(pred[:, j].sum()) if n else 0,
                    "tp": int((y[:, j] & pred[:, j]).sum()) if n else 0}
    macro = float(np.mean([v["f1"] for v in out.values()])) if labels else 0.0
    exact = float(accuracy_score(y, pred)) if n else 0.0  # subset accuracy: every label right
    clean = ~y.any(axis=1)
    n_clean, labelled = int(clean.sum()), int(pred[clean].any(axis=1).sum())
    return {"n": n, "labels": out, "macro_f1": round(macro, 4), "exact_match": round(exact, 4),
            "clean_lines": {"n": n_clean, "labelled": labelled,
                            "share": round(labelled / n_clean, 4) if n_clean else 0.0}}


def label_metrics(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                  labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """`matrix_metrics` of label lists (`callqa eval`: gold `labels` per line against the detectors')."""
    if len(gold) != len(pred):
        raise ValueError("gold and predicted lists differ in length")
    return matrix_metrics(indicator(gold, labels), indicator(pred, labels), labels)


def binary_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy, F1 of the positive class and macro-F1 of one binary decision (e.g. COLD offensive)."""
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "f1_offensive": round(float(f1_score(y, pred, zero_division=0)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4),
        "n": int(len(y)),
    }
