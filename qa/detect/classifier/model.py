"""The learned utterance classifier: frozen multilingual-e5-small features + a small trained head.

This is the only detection module that touches an encoder: at run time the ONNX export run by OpenVINO
(`qa.detect.classifier.onnx_encoder`, built once from the transformers folder; bfloat16 where the CPU computes it
natively), torch only to build, to run on a GPU, or to compare (`qa.detect.classifier.encoder`).
The head (`head.npz` + `metadata.json`, written by `callqa train`) reads mean-pooled encoder layers and the
speaker through one hidden layer (`W1`, `b1`, GELU; absent in linear heads before 1.3), then a linear output per
label (`W`, `b`), with Platt calibration and per-label thresholds chosen on the corpus dev split. A head folder
may also hold `adapter.npz`, a low-rank adapter of the encoder's top layers trained with it; the encoder the head
reads is then the base encoder with the adapter merged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Settings, get_settings, select_compute
from qa.records import LABELS

log = logging.getLogger(__name__)

BUNDLED_HEAD_DIR = Path(__file__).with_name("head")
SPEAKERS = ("agent", "customer")


class ClassifierUnavailable(RuntimeError):
    """No trained head was found, or it does not fit the encoder."""


RULES_ONLY = "rules-only"
HEAD_FILES = ("metadata.json", "head.npz")


def classifier_dir(settings: Settings | None = None) -> Path:
    """The head `Settings.classifier` names: "bundled" prefers a site-trained head under the models
    directory over the one shipped in the package; otherwise the given folder."""
    settings = settings or get_settings()
    if settings.classifier == RULES_ONLY:
        raise ClassifierUnavailable("the classifier is switched off (classifier: rules-only)")
    if settings.classifier == "bundled":
        candidates = [settings.models_dir / "classifier", BUNDLED_HEAD_DIR]
    else:
        candidates = [Path(settings.classifier).expanduser()]
    for folder in candidates:
        if all((folder / name).is_file() for name in HEAD_FILES):
            return folder
    missing = "; ".join(f"{folder} lacks {', '.join(n for n in HEAD_FILES if not (folder / n).is_file())}"
                        for folder in candidates)
    raise ClassifierUnavailable(
        f"no trained classifier head ({missing}); run `callqa train`, point `classifier` (CALLQA_CLASSIFIER) "
        f"at a head folder, or set it to '{RULES_ONLY}' to detect with rules alone"
    )


def speaker_features(speakers: list[str]) -> np.ndarray:
    """The head's speaker inputs: one-hot over `SPEAKERS`; any other value (unknown) is all zeros."""
    return np.array([[float(s == name) for name in SPEAKERS] for s in speakers], dtype=np.float32)


def design(x: np.ndarray, speakers: list[str]) -> np.ndarray:
    """The head's input: encoder features, then the speaker one-hot."""
    return np.hstack([x, speaker_features(speakers)])


def hidden_layer(x: np.ndarray, weights: np.ndarray | None, bias: np.ndarray | None) -> np.ndarray:
    """The head's hidden layer, GELU (the exact, erf form torch uses); the identity for a linear head."""
    if weights is None:
        return x
    from scipy.special import erf

    h = x @ weights.T + bias
    return (0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))).astype(np.float32)


def head_adapter(folder: Path, meta: dict[str, Any]) -> Path | None:
    """The head's encoder adapter, checked against the sha256 its metadata recorded; None for a head without one."""
    from qa.audio import file_sha256
    from qa.detect.classifier.encoder import ADAPTER_FILE

    recorded = (meta.get("adapter") or {}).get("sha256")
    path = folder / ADAPTER_FILE
    if not recorded:
        return None
    if not path.is_file():
        raise ClassifierUnavailable(f"{folder}: the head was trained with an encoder adapter, but {path} is missing")
    actual = file_sha256(path)
    if actual != recorded:
        raise ClassifierUnavailable(f"{folder}: {ADAPTER_FILE} is not the adapter the head was trained with "
                                    f"(sha256 {actual[:12]}, expected {recorded[:12]}); retrain or restore it")
    return path


def _onnx_export(meta: dict[str, Any], adapter: Path | None, settings: Settings) -> Path:
    """The head's ONNX encoder folder (built if missing); `adapter` comes from `head_adapter`, which has checked it
    against the sha256 in `meta`, so the file is not hashed again."""
    from qa.detect.classifier.onnx_encoder import ensure_onnx_encoder

    enc = meta["encoder"]
    return ensure_onnx_encoder(tuple(int(v) for v in enc["layers"]), settings, max_length=int(enc["max_length"]),
                               adapter=adapter, adapter_sha=meta["adapter"]["sha256"] if adapter else "")


def _on_gpu(settings: Settings) -> bool:
    """Whether `Settings.classifier_device` puts the encoder on a CUDA GPU here."""
    import ctranslate2  # asks the driver for CUDA devices without importing torch

    return select_compute(settings.classifier_device, "auto", ctranslate2.get_cuda_device_count()).device == "cuda"


def _threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


@dataclass
class TextClassifier:
    """Calibrated multi-label probabilities per utterance, columns in `LABELS` order."""

    name: str
    version: str
    thresholds: dict[str, float]
    encoder: Any  # OnnxSentenceEncoder, or SentenceEncoder (torch: the GPU, or for comparison)
    weights: np.ndarray  # output layer: (len(LABELS), hidden units, or features for a linear head)
    bias: np.ndarray
    calib_a: np.ndarray
    calib_b: np.ndarray
    layers: tuple[int, ...]
    hidden_weights: np.ndarray | None = None  # (hidden units, features); None: a linear head
    hidden_bias: np.ndarray | None = None
    batch_size: int = 64
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def source(self) -> str:
        """How a finding names this model."""
        return f"{self.name}@{self.version}"

    def predict(self, texts: list[str], speakers: list[str] | None = None) -> np.ndarray:
        """(n, 4) probabilities. `speakers` entries are "agent"/"customer" (anything else: unknown)."""
        if speakers is not None and len(speakers) != len(texts):
            raise ValueError("speakers must be as long as texts")
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        z = self.features(texts, speakers) @ self.weights.T + self.bias
        p = 1.0 / (1.0 + np.exp(-(z * self.calib_a + self.calib_b)))
        return p.astype(np.float32)

    def features(self, texts: list[str], speakers: list[str] | None = None) -> np.ndarray:
        """What the output layer reads: encoder features and speaker, through the hidden layer if there is one."""
        x = self.encoder.embed(list(texts), batch_size=self.batch_size, layers=self.layers)
        return hidden_layer(design(x, speakers or [""] * len(texts)), self.hidden_weights, self.hidden_bias)

    def decide(self, probabilities: np.ndarray) -> list[list[str]]:
        """Labels at or above their thresholds, per row."""
        t = np.array([self.thresholds[lab] for lab in LABELS])
        return [[lab for lab, hit in zip(LABELS, row) if hit] for row in probabilities >= t]


#: How the encoder runs on a CPU: the ONNX export on "openvino" (the default, at `Settings.classifier_precision`) or on
#: "onnxruntime" (float32, the runtime before), or "torch" (the float32 reference both are checked against).
RUNTIMES = ("openvino", "onnxruntime", "torch")
DEFAULT_RUNTIME = "openvino"


def _load(folder: Path, encoder_folder: Path, settings: Settings, runtime: str = DEFAULT_RUNTIME) -> TextClassifier:
    from qa.detect.classifier.encoder import SentenceEncoder, describe_encoder
    from qa.detect.classifier.onnx_encoder import OnnxSentenceEncoder

    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    if tuple(meta["labels"]) != LABELS:
        raise ClassifierUnavailable(f"{folder}: head labels {meta['labels']} differ from {list(LABELS)}")
    adapter = head_adapter(folder, meta)
    head = np.load(folder / "head.npz")
    enc_meta = meta["encoder"]
    current = describe_encoder(settings).get("sha256")
    if current and enc_meta.get("sha256") and current != enc_meta["sha256"]:
        raise ClassifierUnavailable(
            f"{folder}: the head was trained on encoder build {enc_meta['sha256'][:12]}, but the encoder in "
            f"{encoder_folder} is {current[:12]}; retrain with `callqa train` or restore that encoder build")
    layers = tuple(int(v) for v in enc_meta["layers"])
    max_length = int(enc_meta["max_length"])
    encoder: Any
    if _on_gpu(settings):  # the classifier on the GPU: torch in float16 (the exported graph runs on CPUs)
        encoder = SentenceEncoder(encoder_folder, max_length=max_length, threads=_threads(), device="cuda",
                                  adapter=adapter)
    elif runtime in ("openvino", "onnxruntime"):
        encoder = OnnxSentenceEncoder(_onnx_export(meta, adapter, settings), layers, max_length=max_length,
                                      threads=_threads(), engine=runtime,
                                      precision=settings.classifier_precision if runtime == "openvino" else "f32")
    elif runtime == "torch":
        encoder = SentenceEncoder(encoder_folder, max_length=max_length, threads=_threads(), adapter=adapter)
    else:
        raise ValueError(f"unknown classifier runtime {runtime!r}; one of {RUNTIMES}")
    return TextClassifier(
        name=meta["name"],
        version=meta["version"],
        thresholds={k: float(v) for k, v in meta["thresholds"].items()},
        encoder=encoder,
        weights=head["W"].astype(np.float32),
        bias=head["b"].astype(np.float32),
        calib_a=head["calib_a"].astype(np.float32),
        calib_b=head["calib_b"].astype(np.float32),
        layers=layers,
        hidden_weights=head["W1"].astype(np.float32) if "W1" in head.files else None,
        hidden_bias=head["b1"].astype(np.float32) if "b1" in head.files else None,
        metadata=meta,
    )


_CACHE: dict[tuple[str, str, str, str], TextClassifier] = {}
_LOCK = threading.Lock()


def load_classifier(settings: Settings | None = None, runtime: str = DEFAULT_RUNTIME) -> TextClassifier:
    """The classifier for these settings, loaded once per process (the encoder is the slow part).

    `runtime` "onnxruntime" or "torch" runs the same head on the runtime before or on the transformers encoder,
    for comparison (benchmarks, tests).
    """
    from qa.detect.classifier.encoder import ensure_encoder

    settings = settings or get_settings()
    folder = classifier_dir(settings)
    with _LOCK:
        encoder_folder = ensure_encoder(settings)
        key = (str(folder), str(encoder_folder), runtime, settings.classifier_precision)
        if key not in _CACHE:
            _CACHE[key] = _load(folder, encoder_folder, settings, runtime)
        return _CACHE[key]


def describe_classifier(settings: Settings | None = None) -> dict[str, Any]:
    """Name, version, folder, thresholds and headline metrics of the head, for `callqa models`; builds the
    head's ONNX encoder (`runtime_encoder`) if it is missing, so that setup, not the first call, pays for it."""
    from qa.detect.classifier.onnx_encoder import default_precision

    settings = settings or get_settings()
    folder = classifier_dir(settings)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    return {
        "runtime_encoder": str(_onnx_export(meta, head_adapter(folder, meta), settings)),
        "runtime": ("torch (cuda, float16)" if _on_gpu(settings)
                    else f"{DEFAULT_RUNTIME} ({default_precision(settings.classifier_precision)})"),
        "name": meta["name"],
        "version": meta["version"],
        "path": str(folder),
        "thresholds": meta["thresholds"],
        "adapter_sha256": (meta.get("adapter") or {}).get("sha256", ""),
        "metrics": meta.get("metrics", {}),
    }
