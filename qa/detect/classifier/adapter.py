"""A low-rank adapter (LoRA) of the encoder's top layers, trained on the head's labels.

The frozen encoder's features taught the head well on the call corpus but transfer less well to public
abuse data (COLD). Tuning the encoder's top layers narrows that; a tuned copy of those layers would be
megabytes in the repository, while a rank-8 adapter on every linear map of layers 9-12 is 221,184 numbers
(0.9 MB) and, merged into the weights (`encoder.apply_adapter`), costs nothing at run time.

Training: `frozen_pass` runs the frozen encoder once over the training rows (the hidden states entering the
first adapted layer are kept, and the frozen features on which `train.py` fits a starting head);
`train_adapter` then trains the adapted layers together with a linear head that starts as that head, with
AdamW on the head's partial labels: COLD rows teach `harassment` only, corpus train rows all four labels with
a larger loss weight, rare labels balanced as in the head. The head that ships is fitted afterwards on the
adapted features (since 1.3 with a hidden layer; Platt scaling, thresholds), exactly as for the frozen encoder. Only
torch is needed, at training time; deterministic for a seed and thread count.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.detect.classifier.encoder import QUERY_PREFIX, length_batches, mean_pool
from qa.records import LABELS

if TYPE_CHECKING:  # pragma: no cover
    from qa.detect.classifier.train import Rows

log = logging.getLogger(__name__)

#: 0-based index of the first adapted encoder layer: layers 9-12 of 12 (the head reads 6, 9 and 12).
FIRST_LAYER = 8
RANK = 8
ALPHA = 16.0
EPOCHS = 2
LEARNING_RATE = 5e-4
#: Loss weight of a corpus batch against a COLD batch (10,000 COLD rows, 1,311 corpus rows).
CORPUS_LOSS_WEIGHT = 4.0
#: The linear maps adapted in each layer, by their module path inside a transformers `BertLayer`.
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")


def settings_summary() -> dict[str, Any]:
    """What the metadata records about how the adapter was trained."""
    return {"layers": list(range(FIRST_LAYER + 1, 13)), "rank": RANK, "alpha": ALPHA, "targets": list(TARGETS),
            "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "corpus_loss_weight": CORPUS_LOSS_WEIGHT,
            "method": "LoRA, AdamW, linear warm-up and decay, masked BCE on partial labels"}


@dataclass
class FrozenPass:
    """One pass of the frozen encoder over the training rows: what the adapter trains from, and the frozen
    features the starting head is fitted on."""

    model: Any
    layers: tuple[int, ...]
    entering: list[list[Any]]  # per row set, per text: hidden states entering FIRST_LAYER (float16, unpadded)
    features: list[np.ndarray]  # per row set: the frozen encoder's head features (all head layers)

    @property
    def pooled_frozen(self) -> list[Any]:
        """Per row set: the head layers at or below FIRST_LAYER, which the adapter never changes (torch views)."""
        import torch

        width = self.model.config.hidden_size * sum(1 for v in self.layers if v <= FIRST_LAYER)
        return [torch.from_numpy(x[:, :width]) for x in self.features]


def frozen_pass(encoder_folder: Path, training: list[Rows], layers: tuple[int, ...], max_length: int) -> FrozenPass:
    """Run the frozen encoder once over every training text (minutes on 2 cores for ~11,000 texts)."""
    from transformers import AutoTokenizer, BertModel

    if list(layers) != sorted(layers) or max(layers) <= FIRST_LAYER:
        raise ValueError(f"the head's layers must be in order and reach above layer {FIRST_LAYER}, got {layers}")
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_folder))
    model = BertModel.from_pretrained(str(encoder_folder), add_pooling_layer=False, attn_implementation="eager")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    entering, features = [], []
    for rows in training:
        states, feats = _frozen_states(model, tokenizer, rows.texts, max_length, layers)
        entering.append(states)
        features.append(feats.numpy())
    log.info("adapter: frozen pass over %d texts in %.0f s", sum(len(r) for r in training),
             time.perf_counter() - started)
    return FrozenPass(model, tuple(layers), entering, features)


def train_adapter(frozen: FrozenPass, training: list[Rows], head_init: tuple[np.ndarray, np.ndarray], output: Path,
                  seed: int = 13) -> dict[str, Any]:
    """Train the adapter on `training` (public rows, then corpus train rows last), starting from the frozen
    encoder and the head `head_init` = (W, b) fitted on its features, and write it to `output`."""
    import torch

    torch.manual_seed(seed)
    started = time.perf_counter()
    model, layers = frozen.model, frozen.layers
    states = list(zip(frozen.entering, frozen.pooled_frozen))
    lora_cls = _lora_module()
    adapters: dict[str, Any] = {}
    top = model.encoder.layer[FIRST_LAYER:]
    for k, layer in enumerate(top):
        for target in TARGETS:
            parent_name, attr = target.rsplit(".", 1)
            parent = layer.get_submodule(parent_name)
            adapters[f"encoder.layer.{FIRST_LAYER + k}.{target}"] = lora = lora_cls(getattr(parent, attr), RANK, ALPHA)
            setattr(parent, attr, lora)
    head = torch.nn.Linear(model.config.hidden_size * len(layers) + 2, len(LABELS))
    with torch.no_grad():  # start where the frozen encoder's head is: the adapter only has to improve on it
        head.weight.copy_(torch.from_numpy(np.asarray(head_init[0], dtype=np.float32)))
        head.bias.copy_(torch.from_numpy(np.asarray(head_init[1], dtype=np.float32)))
    params = [p for a in adapters.values() for p in (a.A, a.B)] + list(head.parameters())

    corpus_y = training[-1].y
    pos_weight = torch.tensor([1.0 if label == "harassment" else
                               min(float((corpus_y[:, j] == 0).sum()) / max(int((corpus_y[:, j] == 1).sum()), 1), 10.0)
                               for j, label in enumerate(LABELS)])
    batches = [(s, idx) for s in range(len(training))
               for idx in length_batches([len(x) for x in states[s][0]], 16 if s == len(training) - 1 else 32)]
    steps = EPOCHS * len(batches)
    optimiser = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda i: min(1.0, i / 50) * max(0.0, 1 - i / steps))
    rng = random.Random(seed)
    losses = []
    for epoch in range(EPOCHS):
        rng.shuffle(batches)
        total = 0.0
        for s, idx in batches:
            rows = training[s]
            z = head(torch.cat([_adapted_features(top, states[s], idx, layers), _speakers(rows, idx)], 1))
            y = torch.tensor(rows.y[idx], dtype=torch.float32)
            known = (y >= 0).float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                z, y.clamp(min=0), reduction="none", pos_weight=pos_weight)
            loss = (loss * known).sum() / known.sum().clamp(min=1.0)
            loss = loss * (CORPUS_LOSS_WEIGHT if s == len(training) - 1 else 1.0)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        losses.append(round(total / len(batches), 4))
        log.info("adapter: epoch %d, loss %.4f, %.0f s", epoch + 1, losses[-1], time.perf_counter() - started)

    arrays = {"scale": np.array(ALPHA / RANK, dtype=np.float32)}
    for name, lora in adapters.items():
        arrays[f"{name}.A"] = lora.A.detach().numpy().astype(np.float32)
        arrays[f"{name}.B"] = lora.B.detach().numpy().astype(np.float32)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as f:
        np.savez(f, **arrays)
    return {**settings_summary(), "parameters": int(sum(a.size for k, a in arrays.items() if k != "scale")),
            "epoch_losses": losses, "seconds": round(time.perf_counter() - started, 1), "seed": seed}


def _lora_module() -> type:
    import torch

    class LoRA(torch.nn.Module):
        """y = base(x) + scale * x A^T B^T, with B starting at zero (the frozen layer)."""

        def __init__(self, base: torch.nn.Linear, rank: int, alpha: float) -> None:
            super().__init__()
            self.base = base
            self.A = torch.nn.Parameter(torch.empty(rank, base.in_features))
            torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
            self.B = torch.nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale

    return LoRA


def _frozen_states(model: Any, tokenizer: Any, texts: list[str], max_length: int,
                   layers: tuple[int, ...]) -> tuple[list[Any], Any]:
    """Per text: the hidden states entering the first adapted layer (float16, unpadded); and the frozen
    encoder's pooled head layers (n, hidden * len(layers))."""
    import torch

    ids = tokenizer([QUERY_PREFIX + t for t in texts], truncation=True, max_length=max_length)["input_ids"]
    entering: list[Any] = [None] * len(ids)
    pooled = torch.zeros(len(ids), model.config.hidden_size * len(layers))
    with torch.inference_mode():
        for idx in length_batches([len(x) for x in ids], 64):
            batch = tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
            hidden = model(**batch, output_hidden_states=True).hidden_states
            pooled[idx] = torch.cat([mean_pool(hidden[v], batch["attention_mask"]) for v in layers], 1)
            for row, i in enumerate(idx):
                entering[i] = hidden[FIRST_LAYER][row, : len(ids[i])].half().clone()
    return entering, pooled


def _adapted_features(top: Any, state: tuple[list[Any], Any], idx: np.ndarray, layers: tuple[int, ...]) -> Any:
    """The head's features for rows `idx`: frozen pooled layers, then the adapted layers run and pooled."""
    import torch

    entering, pooled = state
    seqs = [entering[i] for i in idx]
    width = max(x.shape[0] for x in seqs)
    x = torch.zeros(len(seqs), width, seqs[0].shape[1])
    mask = torch.zeros(len(seqs), width)
    for row, s in enumerate(seqs):
        x[row, : s.shape[0]] = s.float()
        mask[row, : s.shape[0]] = 1.0
    additive = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
    out = [pooled[idx]]
    for k, layer in enumerate(top):
        x = layer(x, attention_mask=additive)
        if FIRST_LAYER + k + 1 in layers:
            out.append(mean_pool(x, mask))
    return torch.cat(out, 1)


def _speakers(rows: Rows, idx: np.ndarray) -> Any:
    import torch

    from qa.detect.classifier.model import speaker_features

    return torch.from_numpy(speaker_features([rows.speakers[i] for i in idx]))
