"""The classifier's runtime encoder: the e5 folder exported to ONNX, pooling included, run by ONNX Runtime.

`ensure_onnx_encoder` exports the transformers folder (`qa.detect.classifier.encoder`) once, at setup
time, into `<models_dir>/<encoder>-onnx/`: one graph that takes `input_ids` + `attention_mask` and
returns the mean-pooled, L2-normalised hidden states of the head's layers, concatenated, exactly
what `SentenceEncoder.embed(layers=...)` computes in torch. The build checks the two agree
(cosine >= 0.9999 on fixed sentences) and records the source encoder's sha256; a changed encoder
or layer list rebuilds it. The graph stays float32: dynamic int8 quantisation changed decisions
(see models/MODEL_CARD.md).

`OnnxSentenceEncoder` needs neither torch nor transformers at run time: the `tokenizers` library
reads the folder's `tokenizer.json`, texts are sorted by token count so each batch pads little.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Settings, get_settings
from qa.detect.classifier.encoder import (
    BUILD_INFO_FILE,
    CHECKSUM_FILE,
    QUERY_PREFIX,
    VERIFY_SENTENCES,
    EncoderUnavailable,
    describe_encoder,
    ensure_encoder,
    write_checksums,
)

log = logging.getLogger(__name__)

ONNX_FILE = "encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
_MIN_COSINE = 0.9999


def onnx_folder(settings: Settings, layers: tuple[int, ...]) -> Path:
    name = describe_encoder(settings)["name"].replace("/", "_")
    return settings.models_dir / f"{name}-onnx-l{'-'.join(str(v) for v in layers)}"


def _export(source: str, dest: Path, layers: tuple[int, ...], max_length: int) -> None:
    """torch.onnx export of the encoder with pooling over `layers` in the graph (needs the `onnx` package)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    try:
        import onnx  # noqa: F401  # torch's exporter writes through it
    except ImportError as exc:
        raise EncoderUnavailable("building the ONNX encoder needs the PyPI package 'onnx' (pip install onnx)") from exc
    model = AutoModel.from_pretrained(source, attn_implementation="eager").eval()  # eager: traces mask-exactly
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.save_pretrained(str(dest))  # always leaves a fast tokenizer.json beside the graph

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                output_hidden_states=True).hidden_states
            mask = attention_mask.unsqueeze(-1).to(torch.float32)
            count = mask.sum(1).clamp(min=1.0)
            pooled = [torch.nn.functional.normalize((states[i] * mask).sum(1) / count, dim=-1) for i in layers]
            return torch.cat(pooled, dim=-1)

    sample = tokenizer(["query: hello world", "query: 你好"], padding=True, truncation=True,
                       max_length=max_length, return_tensors="pt")
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python-side shape checks; the build verifies outputs
        torch.onnx.export(
            Pooled(), (sample["input_ids"], sample["attention_mask"]), str(dest / ONNX_FILE),
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )


def build_onnx_encoder(source: Path | str, dest: Path, layers: tuple[int, ...], source_sha: str,
                       max_length: int = 128) -> Path:
    """Export, check against the torch encoder, write build info + checksums, rename into place."""
    from qa.detect.classifier.encoder import SentenceEncoder

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        log.info("exporting %s to ONNX (layers %s)", source, layers)
        _export(str(source), tmp, layers, max_length)
        sentences = list(VERIFY_SENTENCES)
        reference = SentenceEncoder(source, max_length=max_length).embed(sentences, layers=layers)
        ours = OnnxSentenceEncoder(tmp, layers, max_length=max_length).embed(sentences, layers=layers)
        cos = (reference * ours).sum(1) / len(layers)  # each layer's slice is unit length
        if float(cos.min()) < _MIN_COSINE:
            raise EncoderUnavailable(f"ONNX encoder disagrees with torch (min cosine {cos.min():.6f} < {_MIN_COSINE})")
        info = {"source": str(source), "source_sha256": source_sha, "layers": list(layers), "max_length": max_length,
                "format": "ONNX opset 17, float32, mean pooling per layer in the graph",
                "torch_cosine_min": float(cos.min())}
        (tmp / BUILD_INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        write_checksums(tmp)
        if _fresh(dest, source_sha, layers, max_length):  # a concurrent build finished first; keep it
            shutil.rmtree(tmp)
            return dest
        if dest.exists():
            shutil.rmtree(dest)  # stale: built from another encoder or layer list
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _build_info(folder: Path) -> dict[str, Any]:
    path = folder / BUILD_INFO_FILE
    if not (path.is_file() and (folder / CHECKSUM_FILE).is_file() and (folder / ONNX_FILE).is_file()):
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _fresh(folder: Path, source_sha: str, layers: tuple[int, ...], max_length: int) -> bool:
    info = _build_info(folder)
    return (info.get("source_sha256") == source_sha and tuple(info.get("layers", ())) == tuple(layers)
            and info.get("max_length") == max_length)


def ensure_onnx_encoder(layers: tuple[int, ...], settings: Settings | None = None, max_length: int = 128) -> Path:
    """The ONNX export of the current encoder for `layers`, built (minutes of CPU, once) if missing or stale."""
    settings = settings or get_settings()
    source = ensure_encoder(settings)
    source_sha = describe_encoder(settings)["sha256"] or str(source)
    folder = onnx_folder(settings, layers)
    if _fresh(folder, source_sha, layers, max_length):
        return folder
    if _build_info(folder):
        log.warning("rebuilding ONNX encoder %s: the encoder or layers changed", folder)
    return build_onnx_encoder(source, folder, layers, source_sha, max_length)


class OnnxSentenceEncoder:
    """`SentenceEncoder.embed` for the exported layers, on ONNX Runtime (CPU)."""

    device = "cpu"  # CUDA machines run the torch encoder in float16 instead (qa.detect.classifier.model)

    def __init__(self, folder: Path, layers: tuple[int, ...], max_length: int = 128, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.source = str(folder)
        self.layers = tuple(layers)
        self.max_length = max_length
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.pad_id = self.tokenizer.token_to_id("<pad>")
        self.pad_id = 1 if self.pad_id is None else self.pad_id
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        # No busy-waiting between runs: on a shared CPU spinning threads take cores from everything else.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1]) // len(self.layers)

    def embed(
        self,
        texts: list[str],
        batch_size: int = 64,
        prefix: str = QUERY_PREFIX,
        progress: Any = None,
        layers: tuple[int, ...] | None = None,
    ) -> np.ndarray:
        """(n, dim * len(layers)) float32; batches of texts with similar token counts."""
        if layers is not None and tuple(layers) != self.layers:
            raise ValueError(f"this ONNX encoder was exported for layers {self.layers}, not {tuple(layers)}")
        out = np.zeros((len(texts), self.dim * len(self.layers)), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch([prefix + (t or "") for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = int(lengths[idx].max())
            ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1
            out[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            if progress is not None:
                progress(len(idx))
        return out
