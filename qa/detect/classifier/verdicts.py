"""Reviewers' verdicts teach the model: a versioned site head, warm-started from the current one.

`callqa train --with-verdicts` turns confirmed findings into positive labels and dismissed ones into negative
labels (for the finding's label only; the other labels of that line stay unknown), then refits the head's
per-label output weights (the hidden layer, where the head has one, stays as it is) by L-BFGS on

    weighted log-loss(verdict lines x VERDICT_WEIGHT + corpus train lines) + LAMBDA * ||w - w_current||^2

in the calibrated space, so the head moves as far as the verdicts ask and no further (the corpus lines replay
what it already knew; the pull keeps what COLD taught). Calibration and thresholds are kept. Before/after
figures: the corpus test split (fixed, never fitted) and a fixed hold-out of the verdicts (a hash of the line
picks it, so it never changes as verdicts accumulate).

The new head is written to `<models_dir>/classifier/` (it wins over the bundled one) with the previous site
head kept under `<models_dir>/classifier/versions/<version>/`. Stored findings do not change: a new model
reaches past calls only through an explicit re-analysis (`callqa detect --all`), which keeps every verdict.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.detect.metrics import matrix_metrics
from qa.records import LABELS, VerdictLine

__all__ = ["VerdictLine", "VerdictTraining", "train_with_verdicts"]

VERDICT_WEIGHT = 20.0
LAMBDA = 1e-3


@dataclass
class VerdictTraining:
    version: str
    output: Path
    lines: int
    train_lines: int
    holdout_lines: int
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    changed_on_judged: int = 0  # judged lines whose decision for the judged label changed

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def _design(classifier: Any, texts: list[str], speakers: list[str]) -> np.ndarray:
    return classifier.features(list(texts), list(speakers)).astype(np.float64)


def _fit_label(x: np.ndarray, y: np.ndarray, w_sample: np.ndarray, w0: np.ndarray, b0: float, a: float,
               c: float) -> tuple[np.ndarray, float]:
    from scipy.optimize import minimize

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = a * (x @ w + b) + c
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-9
        ll = -(w_sample * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).sum() / w_sample.sum()
        g = (w_sample * (p - y) * a) / w_sample.sum()
        dw = x.T @ g + 2 * LAMBDA * (w - w0)
        db = g.sum() + 2 * LAMBDA * (b - b0)
        return float(ll + LAMBDA * ((w - w0) ** 2).sum() + LAMBDA * (b - b0) ** 2), np.append(dw, db)

    res = minimize(loss, np.append(w0, b0), jac=True, method="L-BFGS-B", options={"maxiter": 300})
    return res.x[:-1], float(res.x[-1])


def _probs(W: np.ndarray, b: np.ndarray, A: np.ndarray, B: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-((x @ W.T + b) * A + B)))


def _judged_accuracy(p: np.ndarray, lines: list[VerdictLine], t: dict[str, float]) -> dict[str, Any]:
    if not lines:
        return {"n": 0, "agree": None}
    hits = [bool(p[i, LABELS.index(v.label)] >= t[v.label]) == v.positive for i, v in enumerate(lines)]
    return {"n": len(lines), "agree": round(sum(hits) / len(hits), 4)}


def train_with_verdicts(lines: list[VerdictLine], settings: Any = None, corpus: Path | None = None,
                        replay_rows: int | None = 600, seed: int = 13) -> VerdictTraining:
    """Refit the current head on the verdicts (+ replayed corpus train rows); write a versioned site head."""
    from qa.config import get_settings
    from qa.detect.classifier import train as trainer
    from qa.detect.classifier.encoder import ADAPTER_FILE
    from qa.detect.classifier.model import classifier_dir, load_classifier

    settings = settings or get_settings()
    if not lines:
        raise ValueError("no confirmed or dismissed findings with a transcript line: nothing to learn from")
    clf = load_classifier(settings)
    src = classifier_dir(settings)
    meta = json.loads((src / "metadata.json").read_text(encoding="utf-8"))
    W0, b0 = clf.weights.astype(np.float64), clf.bias.astype(np.float64)
    A, B = clf.calib_a.astype(np.float64), clf.calib_b.astype(np.float64)
    t = {k: float(v) for k, v in clf.thresholds.items()}

    splits = trainer.read_corpus(corpus or trainer.DEFAULT_CORPUS)
    rng = np.random.default_rng(seed)
    tr = splits["train"]
    keep = np.sort(rng.choice(len(tr), size=min(len(tr), replay_rows or len(tr)), replace=False))
    test = splits["test"]
    x_replay = _design(clf, [tr.texts[i] for i in keep], [tr.speakers[i] for i in keep])
    y_replay = tr.y[keep].astype(np.float64)
    x_test = _design(clf, test.texts, test.speakers)
    train_lines = [v for v in lines if not v.holdout]
    hold_lines = [v for v in lines if v.holdout]
    x_lines = _design(clf, [v.text for v in lines], [v.speaker for v in lines])
    is_hold = np.array([v.holdout for v in lines])

    t_vec = np.array([t[lab] for lab in LABELS])
    p_before_test = _probs(W0, b0, A, B, x_test)
    p_before_lines = _probs(W0, b0, A, B, x_lines)
    before = {"corpus_test": matrix_metrics(test.y, p_before_test >= t_vec)["macro_f1"],
              "verdict_holdout": _judged_accuracy(p_before_lines[is_hold], hold_lines, t),
              "verdict_train": _judged_accuracy(p_before_lines[~is_hold], train_lines, t)}

    W, b = W0.copy(), b0.copy()
    for j, lab in enumerate(LABELS):
        idx = [i for i, v in enumerate(lines) if v.label == lab and not v.holdout]
        if not idx:
            continue
        x = np.vstack([x_replay, x_lines[idx]])
        y = np.concatenate([y_replay[:, j], [float(lines[i].positive) for i in idx]])
        w = np.concatenate([np.ones(len(x_replay)), np.full(len(idx), VERDICT_WEIGHT)])
        W[j], b[j] = _fit_label(x, y, w, W0[j], float(b0[j]), float(A[j]), float(B[j]))

    p_after_test = _probs(W, b, A, B, x_test)
    p_after_lines = _probs(W, b, A, B, x_lines)
    after = {"corpus_test": matrix_metrics(test.y, p_after_test >= t_vec)["macro_f1"],
             "verdict_holdout": _judged_accuracy(p_after_lines[is_hold], hold_lines, t),
             "verdict_train": _judged_accuracy(p_after_lines[~is_hold], train_lines, t)}
    changed = sum(1 for i, v in enumerate(lines)
                  if (p_before_lines[i, LABELS.index(v.label)] >= t[v.label])
                  != (p_after_lines[i, LABELS.index(v.label)] >= t[v.label]))

    out = settings.models_dir / "classifier"
    base_version = str(meta["version"]).split("+")[0]
    n = int(str(meta["version"]).split("+site.")[1]) + 1 if "+site." in str(meta["version"]) else 1
    version = f"{base_version}+site.{n}"
    if (out / "metadata.json").is_file():  # keep the previous site head
        old = json.loads((out / "metadata.json").read_text(encoding="utf-8"))["version"]
        keep_dir = out / "versions" / old
        keep_dir.mkdir(parents=True, exist_ok=True)
        for name in ("head.npz", "metadata.json", ADAPTER_FILE):
            if (out / name).is_file():
                shutil.copy2(out / name, keep_dir / name)
    out.mkdir(parents=True, exist_ok=True)
    if (src / ADAPTER_FILE).is_file() and src != out:  # the head reads the encoder its parent was trained with
        shutil.copy2(src / ADAPTER_FILE, out / ADAPTER_FILE)
    hidden = {} if clf.hidden_weights is None else {"W1": clf.hidden_weights, "b1": clf.hidden_bias}
    np.savez(out / "head.npz", W=W.astype(np.float32), b=b.astype(np.float32), calib_a=A.astype(np.float32),
             calib_b=B.astype(np.float32), **hidden)
    new_meta = {**meta, "version": version, "parent_version": meta["version"],
                "method": meta.get("method", "") + f"; refit on {len(train_lines)} reviewer verdicts "
                f"(weight {VERDICT_WEIGHT}, L2 pull {LAMBDA} to the parent head, {len(x_replay)} corpus rows replayed)",
                "verdicts": {"lines": len(lines), "train": len(train_lines), "holdout": len(hold_lines),
                             "before": before, "after": after}}
    (out / "metadata.json").write_text(json.dumps(new_meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    from qa.detect.classifier import model as model_mod

    model_mod._CACHE.clear()  # the next load in this process sees the new head
    return VerdictTraining(version, out, len(lines), len(train_lines), len(hold_lines), before, after, changed)
