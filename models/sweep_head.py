"""Compare head settings on corpus dev only: the logistic head of 1.0-1.2 against hidden-layer heads.

Reads the features of the bundled head's adapter (from the embedding cache `callqa train` fills), fits each
setting as `callqa train` does (`fit_heads` / `fit_mlp_head`), calibrates and thresholds on dev, and prints dev
macro-F1, mean average precision and dev hard negatives labelled. The test split is not read.

    PYTHONPATH=$PWD .venv/bin/python models/sweep_head.py [--hidden 64 256] [--epochs 30 40 60 80] [--seeds 1 2 3]
    PYTHONPATH=$PWD .venv/bin/python models/sweep_head.py --members 1 3 5 10 15 30 [--nets 30]

`--members` compares how many nets the head averages: `--nets` single nets of the shipped size (seeds 1..nets)
are fitted once, then averaged in disjoint groups of each size; it prints each group's dev figures and their mean.
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


def compare_members(train: list, x_dev: np.ndarray, dev: T.Rows, sizes: list[int], nets: int) -> None:
    """Dev figures of heads that average `m` nets (of `T.MLP_HIDDEN` units, `T.MLP_EPOCHS` epochs), for each m
    in `sizes`: disjoint groups of m among `nets` single nets seeded 1..nets."""
    z = []
    for seed in range(1, nets + 1):
        W1, b1, W, b = T.fit_mlp_head(train, seed, T.MLP_HIDDEN, T.MLP_EPOCHS, members=1)
        z.append(T.logits(W, b, hidden_layer(x_dev, W1, b1)))
    for m in sizes:
        groups = [dev_figures(np.mean(z[g:g + m], axis=0), dev) for g in range(0, nets - m + 1, m)]
        print(json.dumps({"nets_averaged": m, "groups": len(groups),
                          "mean": {k: round(float(np.mean([f[k] for f in groups])), 4) for k in groups[0]},
                          "per_group": groups}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[64])
    ap.add_argument("--epochs", type=int, nargs="+", default=[30, 40, 60, 80])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--members", type=int, nargs="+", help="compare heads averaging this many nets instead")
    ap.add_argument("--nets", type=int, default=30, help="single nets fitted for --members")
    args = ap.parse_args()
    settings = get_settings()
    files = T.public_files(settings.shared_data_dir)
    public = T.public_training_rows(files, 13)
    splits = T.read_corpus(T.DEFAULT_CORPUS)
    cache = T.FeatureCache(settings, settings.models_dir / "embeddings", BUNDLED_HEAD_DIR / "adapter.npz")
    train = [(r, design(cache.features(r), r.speakers)) for r in [*public, splits["train"]]]
    dev = splits["dev"]
    x_dev = design(cache.features(dev), dev.speakers)
    if args.members:
        compare_members(train, x_dev, dev, args.members, args.nets)
        return
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
