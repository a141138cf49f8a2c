"""The exported encoder gives the classifier the same decisions as the torch reference it was exported from: on
ONNX Runtime and OpenVINO in float32 the same numbers, on OpenVINO's default (bfloat16 where the CPU computes it
natively) the same labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.detect.classifier import model as clf_model
from qa.records import LABELS

TEXTS = [
    "你再不还钱我就去你单位找你，让你身败名裂。",
    "您好，我是催收中心的工作人员，请问是张先生本人吗？",
    "If you don't pay today we will send someone to your house.",
    "Could you ask him to call us back at this number, please?",
    "我最近压力很大，每天都睡不着觉，真的不想活了。",
    "你老婆的电话我们也有，你欠钱的事我们会告诉她。",
    "",
    "逾期记录会按合同报送征信。" * 30,  # longer than max_length: both truncate the same way
]
SPEAKERS = ["agent", "agent", "agent", "agent", "customer", "agent", "customer", "agent"]
CORPUS = Path(__file__).resolve().parents[1] / "qa" / "data" / "corpus" / "collection_corpus.jsonl"


@pytest.fixture(scope="module")
def both() -> tuple[clf_model.TextClassifier, clf_model.TextClassifier]:
    """The torch reference and the default runtime."""
    try:
        return clf_model.load_classifier(runtime="torch"), clf_model.load_classifier()
    except Exception as exc:  # noqa: BLE001 - encoder packages absent on this machine
        pytest.skip(f"classifier unavailable: {exc}")


def _exported(clf: clf_model.TextClassifier, engine: str, precision: str) -> clf_model.TextClassifier:
    """The same head on the same export, run by `engine` at `precision`."""
    from dataclasses import replace

    from qa.detect.classifier.onnx_encoder import OnnxSentenceEncoder

    enc = clf.encoder
    return replace(clf, encoder=OnnxSentenceEncoder(Path(enc.source), enc.layers, enc.max_length, threads=enc.workers,
                                                    engine=engine, precision=precision))


@pytest.mark.slow
def test_the_export_keeps_every_decision_of_the_torch_encoder_in_float32(both) -> None:  # type: ignore[no-untyped-def]
    torch_clf, clf = both
    assert type(clf.encoder).__name__ == "OnnxSentenceEncoder" and clf.encoder.engine == "openvino"  # the default
    p_torch = torch_clf.predict(TEXTS, SPEAKERS)
    for engine in ("onnxruntime", "openvino"):
        exported = _exported(clf, engine, "f32")
        assert exported.encoder.precision == "f32"
        p = exported.predict(TEXTS, SPEAKERS)
        assert exported.decide(p) == torch_clf.decide(p_torch), engine
        assert float(np.abs(p - p_torch).max()) < 1e-3, engine
        assert "threat" in exported.decide(p)[0]  # and the threatening line is still caught


@pytest.mark.slow
def test_the_default_precision_keeps_the_labels_of_float32_on_the_held_out_corpus(both) -> None:  # type: ignore[no-untyped-def]
    """OpenVINO's default (bfloat16 on CPUs that compute it natively, else float32) against ONNX Runtime in float32
    on the corpus test split: the same labels on (nearly) every line, probabilities within a few hundredths."""
    import json

    _, clf = both
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    test = [r for r in rows if r.get("split") == "test"]
    texts, speakers = [r["text"] for r in test], [r.get("speaker", "customer") for r in test]
    p_ref = _exported(clf, "onnxruntime", "f32").predict(texts, speakers)
    p = clf.predict(texts, speakers)
    same = [a == b for a, b in zip(clf.decide(p), clf.decide(p_ref))]
    assert sum(same) >= 0.99 * len(test), f"{len(test) - sum(same)} of {len(test)} lines labelled differently"
    assert float(np.abs(p - p_ref).max()) < 0.05


@pytest.mark.slow
def test_scores_do_not_depend_on_batch_neighbours(both) -> None:  # type: ignore[no-untyped-def]
    _, clf = both
    alone = np.vstack([clf.predict([t], [s]) for t, s in zip(TEXTS, SPEAKERS)])
    together = clf.predict(TEXTS, SPEAKERS)  # padded to the longest in a batch
    assert float(np.abs(alone - together).max()) < 1e-4
    assert together.shape == (len(TEXTS), len(LABELS))


@pytest.mark.slow
def test_a_few_lines_still_use_every_core(both) -> None:  # type: ignore[no-untyped-def]
    """Batches run side by side, one single-threaded batch per core: three lines are cut into one batch per core."""
    _, clf = both
    assert len(list(clf.encoder.batches(TEXTS[:3]))) >= min(3, clf.encoder.workers)


def test_unknown_engine_or_precision_is_refused() -> None:
    from qa.detect.classifier.onnx_encoder import OnnxSentenceEncoder

    with pytest.raises(ValueError, match="precision"):
        OnnxSentenceEncoder(Path("/nonexistent"), (6, 9, 12), precision="int8")
    with pytest.raises(ValueError, match="engine"):
        OnnxSentenceEncoder(Path("/nonexistent"), (6, 9, 12), engine="tensorrt")


@pytest.mark.slow
def test_onnx_encoder_refuses_layers_it_was_not_exported_for(both) -> None:  # type: ignore[no-untyped-def]
    _, clf = both
    with pytest.raises(ValueError, match="exported for layers"):
        clf.encoder.embed(["hello"], layers=(-1,))


def test_sentencepiece_tokens_match_the_tokenizer_json_they_were_built_from() -> None:
    """The runtime tokenizer (SentencePiece, written from tokenizer.json at build time) gives the ids the encoder
    was trained with: identical on the verification sentences and on all but ties in the corpus."""
    import json
    from pathlib import Path

    from tokenizers import Tokenizer

    from qa.detect.classifier.encoder import QUERY_PREFIX, VERIFY_SENTENCES
    from qa.detect.classifier.onnx_encoder import OnnxSentenceEncoder, ensure_onnx_encoder

    folder = ensure_onnx_encoder((6, 9, 12))
    ours = OnnxSentenceEncoder(folder, (6, 9, 12)).tokenizer
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    corpus = Path(__file__).resolve().parents[1] / "qa" / "data" / "corpus" / "collection_corpus.jsonl"
    lines = [json.loads(row)["text"] for row in corpus.read_text(encoding="utf-8").splitlines() if row.strip()]
    texts = [QUERY_PREFIX + t for t in [*VERIFY_SENTENCES, *TEXTS[:-1], *lines]]
    expected = [e.ids for e in reference.encode_batch(texts)]
    got = [[0, *ids, 2] for ids in ours.encode(texts)]
    assert got[: len(VERIFY_SENTENCES) + len(TEXTS) - 1] == expected[: len(VERIFY_SENTENCES) + len(TEXTS) - 1]
    same = sum(a == b for a, b in zip(got, expected))
    assert same >= 0.999 * len(texts), f"{len(texts) - same} of {len(texts)} lines tokenised differently"


def test_prune_removes_only_the_finished_exports_the_head_does_not_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`callqa models --prune`: earlier heads' exports of the same encoder go; the one in use, a build in
    progress, a half-written folder and another encoder's export stay."""
    from qa.detect.classifier import encoder as enc
    from qa.detect.classifier import onnx_encoder as ox

    def export(name: str, complete: bool = True) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        files = (enc.BUILD_INFO_FILE, enc.CHECKSUM_FILE, ox.ONNX_FILE, ox.EMBEDDINGS_FILE, ox.SPM_FILE)
        for f in files if complete else files[:2]:
            (folder / f).write_text('{"layers": [6, 9, 12]}' if f == enc.BUILD_INFO_FILE else "x" * 1000)
        return folder

    keep = export("multilingual-e5-small-onnx-l6-9-12-ab7bd231b17c2")
    old = [export("multilingual-e5-small-onnx-l6-9-12"), export("multilingual-e5-small-onnx-l6-9-12-a0123456789ab")]
    stays = [export("multilingual-e5-small-onnx-l6-9-12-afedcba987654", complete=False),
             export(".multilingual-e5-small-onnx-l6-9-12-abuilding-x1y2"), export("other-encoder-onnx-l6-9-12")]
    removed = ox.prune_exports(keep)
    assert sorted(p for p, _ in removed) == sorted(old)
    assert all(n >= 4000 for _, n in removed)
    assert keep.is_dir() and all(p.is_dir() for p in stays) and not any(p.exists() for p in old)


_CONCURRENT = """
import sys, threading
import numpy as np
from qa.detect.classifier.model import load_classifier
clf = load_classifier()
texts = sys.argv[1:]
def work(out):
    for _ in range(5):
        out.append(clf.predict(texts))
results = [[], [], []]
threads = [threading.Thread(target=work, args=(r,)) for r in results]
for t in threads: t.start()
for t in threads: t.join()
ref = clf.predict(texts)
assert all(len(r) == 5 for r in results)
assert max(float(np.abs(p - ref).max()) for r in results for p in r) < 1e-4
print("ok")
"""


@pytest.mark.slow
def test_threads_can_share_the_encoder_from_its_first_call(both) -> None:  # type: ignore[no-untyped-def]
    """Three threads classifying at once from a fresh process (the dashboard and batch workers do): every call
    returns the single-threaded scores, and none waits forever (OpenVINO's first calls from several threads once
    deadlocked a worker). In a subprocess, so that a hang fails the test instead of the run."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _CONCURRENT, *TEXTS[:6]], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]
