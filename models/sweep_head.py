"""Compare head settings on corpus dev only: the logistic head of 1.0-1.2 against hidden-layer heads.

Reads the features of the bundled head's adapter (from the embedding cache `callqa train` fills), fits each
setting as `callqa train` does (`fit_heads` / `fit_mlp_head`), calibrates and thresholds on dev, and prints dev
macro-F1, mean average precision and dev hard negatives labelled. The test split is not read.

    PYTHONPATH=$PWD .venv/bin/python models/sweep_head.py [--hidden 64 256] [--epochs 30 40 60 80] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

from qa.config import get_settings
from qa.detect.classifier import train as T
from qa.detect.classifier.model import BUNDLED_HEAD_DIR, design, hidden_layer
from qa.detect.metrics import matrix_metrics
from qa.records import LABELS


def dev_figures(z_dev: np.ndarray, dev: T.Rows) -> dict[str, float]:
    A, B, thresholds = T.calibrate(z_dev, dev)
    p = T._sigmoid(z_dev * A + B)
    t = np.array([thresholds[lab] for lab in LABELS])
    return {"dev_macro_f1": round(matrix_metrics(dev.y, p >= t)["macro_f1"], 4),
            "dev_mean_ap": round(float(np.mean([average_precision_score(dev.y[:, j], p[:, j])
                                                for j in range(len(LABELS))])), 4),
            "dev_hard_negatives_labelled": T._flag_rate(p, t, dev)["flagged"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[64])
    ap.add_argument("--epochs", type=int, nargs="+", default=[30, 40, 60, 80])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()
    settings = get_settings()
    files = T.public_files(settings.shared_data_dir)
    public = T.public_training_rows(files, 13)
    splits = T.read_corpus(T.DEFAULT_CORPUS)
    cache = T.FeatureCache(settings, settings.models_dir / "embeddings", BUNDLED_HEAD_DIR / "adapter.npz")
    train = [(r, design(cache.features(r), r.speakers)) for r in [*public, splits["train"]]]
    dev = splits["dev"]
    x_dev = design(cache.features(dev), dev.speakers)
    W, b, _, _ = T.fit_heads(train, T.DEFAULT_C, 13)
    print(json.dumps({"head": "logistic", **dev_figures(T.logits(W, b, x_dev), dev)}), flush=True)
    for hidden in args.hidden:
        for epochs in args.epochs:
            z = [T.logits(W, b, hidden_layer(x_dev, W1, b1))
                 for W1, b1, W, b in (T.fit_mlp_head(train, seed, hidden, epochs, members=1) for seed in args.seeds)]
            print(json.dumps({"head": f"{hidden} units, {epochs} epochs", "seeds": args.seeds,
                              "mean_over_seeds": {k: round(float(np.mean([dev_figures(zi, dev)[k] for zi in z])), 4)
                                                  for k in ("dev_macro_f1", "dev_mean_ap")},
                              "average_of_the_nets": dev_figures(np.mean(z, axis=0), dev)}), flush=True)


if __name__ == "__main__":
    main()
