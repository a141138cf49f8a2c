"""The learned utterance classifier: head loading, decisions, and behaviour on telling sentences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.detect.classifier import model as clf_model
from qa.records import LABELS

REPO = Path(__file__).resolve().parents[1]


def _trainer():  # type: ignore[no-untyped-def]
    from qa.detect.classifier import train

    return train


class _FixedEncoder:
    """Stands in for the transformer: one-hot features by keyword, so the head's maths is checkable."""

    def embed(self, texts: list[str], batch_size: int = 64, layers: tuple[int, ...] = (-1,)) -> np.ndarray:
        return np.array([[float("idiot" in t), float("police" in t)] for t in texts], dtype=np.float32)


def _toy_classifier() -> clf_model.TextClassifier:
    w = np.zeros((len(LABELS), 4), dtype=np.float32)  # 2 text features + agent + customer
    w[LABELS.index("harassment"), 0] = 6.0
    w[LABELS.index("threat"), 1] = 3.0
    w[LABELS.index("threat"), 2] = 3.0  # the agent saying it weighs more
    return clf_model.TextClassifier(
        name="toy", version="0", thresholds={lab: 0.5 for lab in LABELS}, encoder=_FixedEncoder(),
        weights=w, bias=np.full(len(LABELS), -4.0, np.float32), calib_a=np.ones(len(LABELS), np.float32),
        calib_b=np.zeros(len(LABELS), np.float32), layers=(-1,),
    )


def test_predict_combines_text_speaker_and_calibration() -> None:
    toy = _toy_classifier()
    p = toy.predict(["you idiot", "the police will come", "the police will come"], ["customer", "agent", "customer"])
    assert p.shape == (3, len(LABELS)) and p.dtype == np.float32
    assert toy.decide(p) == [["harassment"], ["threat"], []]
    assert p[1, LABELS.index("threat")] > p[2, LABELS.index("threat")]
    assert toy.predict([]).shape == (0, len(LABELS))
    with pytest.raises(ValueError):
        toy.predict(["a", "b"], ["agent"])


def test_a_hidden_layer_head_learns_what_a_linear_one_cannot_and_runs_in_numpy_as_trained() -> None:
    """The head's hidden layer: fitted in torch, folded (three nets averaged, standardisation folded in) and run
    by `TextClassifier` in numpy. An exclusive-or of two keywords is a threat, which no linear head can learn."""
    trainer = _trainer()
    texts = ["idiot police", "idiot", "police", "hello"] * 400
    y = np.full((len(texts), len(LABELS)), -1, dtype=np.int8)
    y[:, LABELS.index("threat")] = [int(("idiot" in t) != ("police" in t)) for t in texts]
    rows = trainer.Rows("toy", texts, [""] * len(texts), y)
    x = trainer.design(_FixedEncoder().embed(texts), rows.speakers)
    W1, b1, W, b = trainer.fit_mlp_head([(rows, x)], seed=1, hidden=16, epochs=60, members=3)
    assert W1.shape == (48, x.shape[1]) and W.shape == (len(LABELS), 48)
    toy = _toy_classifier()
    toy.hidden_weights, toy.hidden_bias, toy.weights, toy.bias = W1, b1, W, b
    p = toy.predict(["idiot police", "idiot", "police", "hello"])[:, LABELS.index("threat")]
    assert p[1] > 0.5 and p[2] > 0.5 and p[0] < 0.5 and p[3] < 0.5
    from sklearn.linear_model import LogisticRegression

    linear = LogisticRegression(C=100.0).fit(x, y[:, LABELS.index("threat")])
    assert linear.score(x[:4], y[:4, LABELS.index("threat")]) < 1.0
    import torch

    h = torch.linspace(-4, 4, 81)
    assert np.allclose(clf_model.hidden_layer(h.numpy()[:, None], np.ones((1, 1), np.float32), np.zeros(1, np.float32)),
                       torch.nn.functional.gelu(h).numpy()[:, None], atol=1e-6)


def test_missing_head_says_how_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clf_model, "BUNDLED_HEAD_DIR", tmp_path / "none")
    with pytest.raises(clf_model.ClassifierUnavailable, match="callqa train"):
        clf_model.classifier_dir(Settings(home=tmp_path))


def test_committed_head_is_small_and_complete() -> None:
    folder = REPO / "qa" / "detect" / "classifier" / "head"
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    assert meta["labels"] == list(LABELS)
    assert set(meta["thresholds"]) == set(LABELS) and all(0 < v < 1 for v in meta["thresholds"].values())
    assert all(len(v["sha256"]) == 64 for v in meta["training_data"].values())
    assert sum(p.stat().st_size for p in folder.iterdir()) < 5 * 1024 * 1024


def test_corpus_reader_uses_splits_and_skips_a_partial_last_line(tmp_path: Path) -> None:
    trainer = _trainer()
    lines = [
        {"id": "a", "text": "你再不还钱我就弄死你", "speaker": "agent", "lang": "zh", "labels": ["threat"], "split": "train"},
        {"id": "b", "text": "Please call us back.", "speaker": "agent", "lang": "en", "labels": [], "split": "dev"},
        {"id": "c", "text": "我的身份证号是…", "speaker": "customer", "lang": "zh", "labels": ["privacy", "stress"], "split": "test"},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + '\n{"id": "d", "te', encoding="utf-8")
    splits = trainer.read_corpus(path)
    assert {k: len(v) for k, v in splits.items()} == {"train": 1, "dev": 1, "test": 1}
    assert splits["train"].y.tolist() == [[1, 0, 0, 0]]
    assert splits["test"].y.tolist() == [[0, 0, 1, 1]]
    assert splits["train"].speakers == ["agent"]


def test_training_skips_cleanly_without_shared_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trainer = _trainer()
    assert trainer.main(["--shared", str(tmp_path / "absent"), "--output", str(tmp_path / "out")]) == 0
    assert "shared training data not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_classifier_outputs_calibrated_scores_per_label() -> None:
    clf = clf_model.load_classifier()
    assert clf_model.load_classifier() is clf  # loaded once per process
    p = clf.predict(["您好，请问是李女士吗？", "I'm calling about your account."], ["agent", "agent"])
    assert p.shape == (2, len(LABELS))
    assert np.all((p >= 0) & (p <= 1))
    assert set(clf.thresholds) == set(LABELS)


@pytest.mark.slow
def test_insult_scores_higher_on_harassment_than_politeness() -> None:
    clf = clf_model.load_classifier()
    texts = ["你就是个废物，脑子有病吧", "您好，感谢您的耐心，我们再核对一下信息。",
             "You are a worthless idiot, you stupid deadbeat.", "Thank you for your patience, have a nice day."]
    h = clf.predict(texts, ["agent"] * 4)[:, LABELS.index("harassment")]
    assert h[0] > h[1] and h[2] > h[3]
    assert h[0] >= clf.thresholds["harassment"] and h[2] >= clf.thresholds["harassment"]


@pytest.mark.slow
def test_lawful_consequence_stated_politely_is_not_a_threat() -> None:
    clf = clf_model.load_classifier()
    texts = ["逾期记录会按合同报送征信。", "Overdue records are reported to the credit bureau as the contract allows."]
    threat = clf.predict(texts, ["agent", "agent"])[:, LABELS.index("threat")]
    assert np.all(threat < clf.thresholds["threat"]), threat


def test_a_missing_or_mismatched_head_is_an_error_naming_what_is_missing(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.detect import engine

    half = tmp_path / "half"
    half.mkdir()
    (half / "metadata.json").write_text("{}", encoding="utf-8")
    with pytest.raises(clf_model.ClassifierUnavailable, match=r"half lacks head\.npz"):
        engine.get_classifier(Settings(home=tmp_path, classifier=str(half)))  # no silent fallback to rules
    import qa.detect.classifier.encoder as enc

    monkeypatch.setattr(enc, "describe_encoder", lambda settings=None: {"sha256": "0" * 64})
    with pytest.raises(clf_model.ClassifierUnavailable, match="trained on encoder build"):
        clf_model._load(clf_model.BUNDLED_HEAD_DIR, tmp_path, Settings(home=tmp_path))


def test_rules_only_is_an_explicit_setting(tmp_path: Path) -> None:
    from qa.detect import engine

    assert engine.get_classifier(Settings(home=tmp_path, classifier="rules-only")) is None
    with pytest.raises(clf_model.ClassifierUnavailable, match="rules-only"):
        clf_model.classifier_dir(Settings(home=tmp_path, classifier="rules-only"))


def test_a_head_refuses_an_adapter_it_was_not_trained_with(tmp_path: Path) -> None:
    """A head folder whose adapter.npz is missing or was swapped is an error, never a silent mismatch."""
    import shutil

    folder = tmp_path / "head"
    shutil.copytree(clf_model.BUNDLED_HEAD_DIR, folder)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    assert meta["adapter"]["sha256"] and clf_model.head_adapter(folder, meta) == folder / "adapter.npz"
    np.savez(folder / "adapter.npz", scale=np.array(1.0, np.float32))
    with pytest.raises(clf_model.ClassifierUnavailable, match="not the adapter the head was trained with"):
        clf_model.head_adapter(folder, meta)
    (folder / "adapter.npz").unlink()
    with pytest.raises(clf_model.ClassifierUnavailable, match="adapter.npz is missing"):
        clf_model.head_adapter(folder, meta)
    assert clf_model.head_adapter(folder, {**meta, "adapter": None}) is None  # a 1.0 head reads the frozen encoder


@pytest.mark.slow
def test_a_trained_adapter_merged_into_the_encoder_computes_what_training_computed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter is trained on LoRA modules over cached states, but shipped merged into the weights: both must give
    the head the same features, and layers below the adapted ones must not move."""
    import torch

    from qa.detect.classifier import adapter
    from qa.detect.classifier.encoder import SentenceEncoder, ensure_encoder

    trainer = _trainer()
    monkeypatch.setattr(adapter, "EPOCHS", 1)
    corpus = trainer.read_corpus(trainer.DEFAULT_CORPUS)["train"]
    pick = list(range(0, len(corpus), 25))  # every label has positives and negatives
    rows = trainer.Rows(corpus.source, [corpus.texts[i] for i in pick], [corpus.speakers[i] for i in pick],
                        corpus.y[pick], corpus.weight)
    folder = ensure_encoder()
    frozen = adapter.frozen_pass(folder, [rows], trainer.LAYERS, trainer.MAX_LENGTH)
    W0, b0, _, _ = trainer.fit_heads([(rows, trainer.design(frozen.features[0], rows.speakers))],
                                     trainer.DEFAULT_C, 13)
    info = adapter.train_adapter(frozen, [rows], (W0, b0), tmp_path / "adapter.npz")
    assert info["parameters"] == 221184 and len(info["epoch_losses"]) == 1

    texts = rows.texts[:6]
    before = SentenceEncoder(folder, max_length=trainer.MAX_LENGTH).embed(texts, layers=trainer.LAYERS)
    merged = SentenceEncoder(folder, max_length=trainer.MAX_LENGTH, adapter=tmp_path / "adapter.npz").embed(
        texts, layers=trainer.LAYERS)
    with torch.no_grad():
        trained = adapter._adapted_features(frozen.model.encoder.layer[adapter.FIRST_LAYER:],
                                            (frozen.entering[0], frozen.pooled_frozen[0]), np.arange(6),
                                            trainer.LAYERS).numpy()
    assert np.abs(merged - trained).max() < 1e-4  # what was trained is what ships
    assert np.array_equal(merged[:, :384], before[:, :384])  # layer 6 is below the adapter
    assert np.abs(merged[:, 384:] - before[:, 384:]).max() > 1e-6  # layers 9 and 12 moved


@pytest.mark.slow
def test_training_can_refit_the_head_on_the_shipped_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`callqa train --reuse-adapter`: no adapter is trained; the head is fitted on the given adapter's features, the
    adapter is copied beside it unchanged, and its training record is carried over from the head it came from."""
    import csv

    from qa.audio import file_sha256

    trainer = _trainer()
    monkeypatch.setattr(trainer, "MLP_MEMBERS", 2)
    monkeypatch.setattr(trainer, "MLP_EPOCHS", 5)
    shared = tmp_path / "shared"
    (shared / "cold").mkdir(parents=True)
    for name, n in (("train", 40), ("dev", 20)):
        with (shared / "cold" / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["split", "label", "TEXT"])
            w.writeheader()
            for i in range(n):
                w.writerow({"split": name, "label": i % 2, "TEXT": ("你这个废物" if i % 2 else "今天天气不错") + str(i)})
    rows = [json.loads(line) for line in trainer.DEFAULT_CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[::12]), encoding="utf-8")
    shipped = clf_model.BUNDLED_HEAD_DIR / "adapter.npz"

    meta = trainer.train(output=tmp_path / "head", shared=shared, corpus=corpus, reuse_adapter=shipped)

    assert file_sha256(tmp_path / "head" / "adapter.npz") == file_sha256(shipped)
    recorded = json.loads((clf_model.BUNDLED_HEAD_DIR / "metadata.json").read_text(encoding="utf-8"))["adapter"]
    assert meta["adapter"]["sha256"] == recorded["sha256"] and meta["adapter"]["reused_from"] == str(shipped)
    assert meta["adapter"]["epoch_losses"] == recorded["epoch_losses"]  # how it was trained, carried over
    assert meta["method"].startswith("encoder adapter")
    head = np.load(tmp_path / "head" / "head.npz")
    assert head["W1"].shape[0] == 2 * trainer.MLP_HIDDEN  # the two nets averaged
