"""The classifier's runtime encoder: the e5 folder exported to ONNX, pooling included, run by OpenVINO.

`ensure_onnx_encoder` exports the transformers folder (`qa.detect.classifier.encoder`) once, at setup
time, into `<models_dir>/<encoder>-onnx/`: one graph that takes the tokens' word embeddings +
`attention_mask` and returns the mean-pooled, L2-normalised hidden states of the head's layers,
concatenated, exactly what `SentenceEncoder.embed(layers=...)` computes in torch. The word-embedding
table (250,002 x 384 float32: 384 MB, four fifths of the model) stays outside the graph in a .npy file
that is memory-mapped and indexed per batch, so a process holds only the rows of the tokens it has seen
instead of the whole table (and the runtime's optimised copy of it). The build checks the export against
torch (cosine >= 0.9999 on fixed sentences, run in float32) and records the source encoder's sha256 and the
format version; a changed encoder, layer list or format rebuilds it. The graph file stays float32.

At run time OpenVINO computes it in bfloat16 where the CPU does so natively (AMX or AVX512-BF16: bfloat16 inputs,
float32 sums), else in float32 (`Settings.classifier_precision`). bfloat16 keeps 8 bits of each number's
mantissa but its own exponent, so unlike int8 (one scale per tensor, which outlier activations wreck: dynamic int8
changed decisions, and heads fitted on static int8 features lost accuracy, models/MODEL_CARD.md) it loses little:
on 2 cores, 579 corpus and COLD lines ran 2.6-2.7x faster than ONNX Runtime in float32 with the same labels and
|dp| <= 0.013 (`benchmarks/classify.py --compare-onnxruntime`).

Tokens come from SentencePiece, with a model written at build time from the same vocabulary, scores and
normalisation table as `tokenizer.json`: the `tokenizers` Unigram model held ~280 MB of memory for this
250k-piece vocabulary, SentencePiece ~10 MB, and tokenises about 5x faster. On 60,000 corpus, COLD, SWSR
and Davidson lines the two gave different ids on 37, each a tie between equal-score splits of repeated
punctuation ("....", "～～～"); tests/test_classifier_onnx.py checks the agreement on the corpus.

`OnnxSentenceEncoder` needs neither torch nor transformers at run time; texts are sorted by token
count so each batch pads little. Batches run side by side, one single-threaded batch per core, rather than one
batch at a time split across the cores (the small matrices of one batch left two threads waiting on each other:
1.3x with ONNX Runtime).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from qa.audio import file_sha256
from qa.config import Settings, get_settings
from qa.detect.classifier.encoder import (
    BUILD_INFO_FILE,
    CHECKSUM_FILE,
    QUERY_PREFIX,
    VERIFY_SENTENCES,
    EncoderUnavailable,
    describe_encoder,
    apply_adapter,
    ensure_encoder,
    length_batches,
    write_checksums,
)

log = logging.getLogger(__name__)

ONNX_FILE = "encoder.onnx"
# Padded tokens per batch: short lines still go 32 at a time, 128-token turns 4 at a time. 64 x 128 tokens held
# ~330 MB and took 15-30% more CPU than 1,024-token batches (~150 MB); 512-token batches, one per core at a time,
# were faster again. OpenVINO keeps a buffer per request sized by the largest batch it has run: in bfloat16,
# 2,048-token batches ran ~10% faster but held ~200 MB more; at 512 it holds what ONNX Runtime did.
BATCH_TOKENS = 512
EMBEDDINGS_FILE = "word_embeddings.npy"
FORMAT_VERSION = 2  # 2: word embeddings outside the graph; older builds are rebuilt
TOKENIZER_FILE = "tokenizer.json"
SPM_FILE = "tokenizer.spm"
_MIN_COSINE = 0.9999
#: A batch started on the engine: call it to wait for its pooled features.
_Pending = Callable[[], np.ndarray]


def onnx_folder(settings: Settings, layers: tuple[int, ...], adapter_sha: str = "") -> Path:
    """One folder per encoder, layer list and adapter (heads with different adapters need different graphs)."""
    name = describe_encoder(settings)["name"].replace("/", "_")
    suffix = f"-a{adapter_sha[:12]}" if adapter_sha else ""
    return settings.models_dir / f"{name}-onnx-l{'-'.join(str(v) for v in layers)}{suffix}"


def _export(source: str, dest: Path, layers: tuple[int, ...], max_length: int, adapter: Path | None = None) -> None:
    """torch.onnx export of the encoder with pooling over `layers` in the graph (needs the `onnx` package)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    try:
        import onnx  # noqa: F401  # torch's exporter writes through it
    except ImportError as exc:
        raise EncoderUnavailable("building the ONNX encoder needs the PyPI package 'onnx' (pip install onnx)") from exc
    model = AutoModel.from_pretrained(source, attn_implementation="eager").eval()  # eager: traces mask-exactly
    if adapter is not None:
        apply_adapter(model, adapter)
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.save_pretrained(str(dest))  # always leaves a fast tokenizer.json beside the graph
    (dest / SPM_FILE).write_bytes(sentencepiece_model(dest / TOKENIZER_FILE))

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                output_hidden_states=True).hidden_states
            mask = attention_mask.unsqueeze(-1).to(torch.float32)
            count = mask.sum(1).clamp(min=1.0)
            pooled = [torch.nn.functional.normalize((states[i] * mask).sum(1) / count, dim=-1) for i in layers]
            return torch.cat(pooled, dim=-1)

    table = model.get_input_embeddings().weight.detach()
    np.save(dest / EMBEDDINGS_FILE, table.numpy().astype(np.float32))
    sample = tokenizer(["query: hello world", "query: 你好"], padding=True, truncation=True,
                       max_length=max_length, return_tensors="pt")
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python-side shape checks; the build verifies outputs
        torch.onnx.export(
            Pooled(), (table[sample["input_ids"]], sample["attention_mask"]), str(dest / ONNX_FILE),
            input_names=["inputs_embeds", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )


def sentencepiece_model(tokenizer_json: Path) -> bytes:
    """A SentencePiece Unigram model (serialised ModelProto) with the ids, scores and normalisation of a
    `tokenizers` Unigram tokenizer.json (XLM-R style: <s> <pad> </s> <unk> first, Precompiled normaliser)."""
    import base64

    from sentencepiece import sentencepiece_model_pb2 as pb

    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model, normalizer = spec["model"], spec["normalizer"] or {}
    if model.get("type") != "Unigram" or normalizer.get("type") != "Precompiled":
        raise EncoderUnavailable(f"{tokenizer_json}: expected a Unigram model with a Precompiled normaliser")
    piece = pb.ModelProto.SentencePiece
    special = {t["id"]: piece.UNKNOWN if t["content"] == "<unk>" else piece.CONTROL
               for t in spec.get("added_tokens", []) if t.get("special")}
    proto = pb.ModelProto()
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(model["vocab"])
    proto.trainer_spec.unk_id = int(model["unk_id"])
    ids = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = ids["<s>"], ids["</s>"]
    proto.trainer_spec.pad_id = ids["<pad>"]
    proto.normalizer_spec.name = "precompiled"
    proto.normalizer_spec.precompiled_charsmap = base64.b64decode(normalizer["precompiled_charsmap"])
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True
    for i, (text, score) in enumerate(model["vocab"]):
        proto.pieces.add(piece=text, score=score, type=special.get(i, piece.NORMAL))
    return proto.SerializeToString()


def build_onnx_encoder(source: Path | str, dest: Path, layers: tuple[int, ...], source_sha: str,
                       max_length: int = 128, adapter: Path | None = None) -> Path:
    """Export, check against the torch encoder, write build info + checksums, rename into place."""
    from qa.detect.classifier.encoder import SentenceEncoder

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        log.info("exporting %s to ONNX (layers %s)", source, layers)
        adapter_sha = _adapter_sha(adapter)
        _export(str(source), tmp, layers, max_length, adapter)
        sentences = list(VERIFY_SENTENCES)
        reference = SentenceEncoder(source, max_length=max_length, adapter=adapter).embed(sentences, layers=layers)
        ours = OnnxSentenceEncoder(tmp, layers, max_length=max_length, precision="f32").embed(sentences, layers=layers)
        cos = (reference * ours).sum(1) / len(layers)  # each layer's slice is unit length
        if float(cos.min()) < _MIN_COSINE:
            raise EncoderUnavailable(f"ONNX encoder disagrees with torch (min cosine {cos.min():.6f} < {_MIN_COSINE})")
        info = {"source": str(source), "source_sha256": source_sha, "layers": list(layers), "max_length": max_length,
                "format_version": FORMAT_VERSION, "adapter_sha256": adapter_sha,
                "format": "ONNX opset 17, float32, mean pooling per layer in the graph; word embeddings in "
                          f"{EMBEDDINGS_FILE}, memory-mapped",
                "torch_cosine_min": float(cos.min())}
        (tmp / BUILD_INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        write_checksums(tmp)
        if _fresh(dest, source_sha, layers, max_length, adapter_sha):  # a concurrent build finished first; keep it
            shutil.rmtree(tmp)
            return dest
        if dest.exists():
            shutil.rmtree(dest)  # stale: built from another encoder or layer list
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def prune_exports(keep: Path) -> list[tuple[Path, int]]:
    """Remove the other ONNX exports of `keep`'s encoder beside it (other layer lists or adapters: what earlier
    heads needed, ~470 MB each) and return them with their sizes in bytes. Only finished exports are touched (a
    build in progress lives in a hidden temporary folder). A process still running on a removed export keeps its
    open files; a head that needs one again rebuilds it on load."""
    prefix = keep.name.split("-onnx-")[0] + "-onnx-"
    out = []
    for folder in sorted(keep.parent.glob(prefix + "l*")):
        if folder.resolve() == keep.resolve() or not folder.is_dir() or not _build_info(folder):
            continue
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder)
        out.append((folder, size))
    return out


def _build_info(folder: Path) -> dict[str, Any]:
    path = folder / BUILD_INFO_FILE
    if not all((folder / f).is_file() for f in (BUILD_INFO_FILE, CHECKSUM_FILE, ONNX_FILE, EMBEDDINGS_FILE, SPM_FILE)):
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _adapter_sha(adapter: Path | None) -> str:
    return file_sha256(adapter) if adapter is not None else ""


def _fresh(folder: Path, source_sha: str, layers: tuple[int, ...], max_length: int, adapter_sha: str = "") -> bool:
    info = _build_info(folder)
    return (info.get("source_sha256") == source_sha and tuple(info.get("layers", ())) == tuple(layers)
            and info.get("max_length") == max_length and info.get("format_version") == FORMAT_VERSION
            and info.get("adapter_sha256", "") == adapter_sha)


def ensure_onnx_encoder(layers: tuple[int, ...], settings: Settings | None = None, max_length: int = 128,
                        adapter: Path | None = None, adapter_sha: str | None = None) -> Path:
    """The ONNX export of the current encoder (with a head's adapter merged, if it has one) for `layers`,
    built (minutes of CPU, once) if missing or stale. `adapter_sha`: the adapter's sha256 when the caller has
    already checked it (`model.head_adapter`), so the file is not hashed twice."""
    settings = settings or get_settings()
    source = ensure_encoder(settings)
    source_sha = describe_encoder(settings)["sha256"] or str(source)
    adapter_sha = _adapter_sha(adapter) if adapter_sha is None else adapter_sha
    folder = onnx_folder(settings, layers, adapter_sha)
    if _fresh(folder, source_sha, layers, max_length, adapter_sha):
        return folder
    if _build_info(folder):
        log.warning("rebuilding ONNX encoder %s: the encoder, layers or format changed", folder)
    return build_onnx_encoder(source, folder, layers, source_sha, max_length, adapter)


#: What runs the exported graph. OpenVINO is the default: on CPUs that compute bfloat16 natively (AMX, AVX512-BF16)
#: it runs the graph in bfloat16, ~2.6x faster than float32 with nearly always the same labels; elsewhere float32, as fast as ONNX
#: Runtime. ONNX Runtime (float32 only on CPU) is the runtime before it, kept as the reference that benchmarks and
#: tests compare against.
ENGINES = ("openvino", "onnxruntime")
PRECISIONS = ("auto", "f32", "bf16")


def default_precision(precision: str = "auto") -> str:
    """The precision OpenVINO runs the encoder in on this CPU for a `Settings.classifier_precision` value, without
    loading it: "bf16" where the CPU computes bfloat16 natively and `precision` is "auto", else `precision`."""
    if precision != "auto":
        return precision
    import openvino as ov

    return str(ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").to_string())


class OnnxSentenceEncoder:
    """`SentenceEncoder.embed` for the exported layers, on OpenVINO or ONNX Runtime (CPU).

    Batches run side by side, one single-threaded batch per core at a time: a batch of short lines is small
    matrices, and two threads on one batch spent much of it waiting on each other."""

    device = "cpu"  # CUDA machines run the torch encoder in float16 instead (qa.detect.classifier.model)

    def __init__(self, folder: Path, layers: tuple[int, ...], max_length: int = 128, threads: int | None = None,
                 engine: str = "openvino", precision: str = "auto") -> None:
        import sentencepiece

        if engine not in ENGINES:
            raise ValueError(f"unknown encoder engine {engine!r}; one of {ENGINES}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown classifier precision {precision!r}; one of {PRECISIONS}")
        self.source = str(folder)
        self.layers = tuple(layers)
        self.max_length = max_length
        self.engine = engine
        self.tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(folder / SPM_FILE))
        self.pad_id, self.bos_id, self.eos_id = (self.tokenizer.pad_id(), self.tokenizer.bos_id(),
                                                 self.tokenizer.eos_id())
        self.workers = max(1, threads or 1)
        self.word_embeddings = np.load(folder / EMBEDDINGS_FILE, mmap_mode="r")  # pages read as tokens need them
        self._lock = threading.Lock()
        if engine == "openvino":
            self._start, self.precision, outputs = self._openvino(folder / ONNX_FILE, precision)
        else:
            if precision == "bf16":
                raise ValueError("ONNX Runtime runs this encoder in float32 only; use the openvino engine for bf16")
            self._start, self.precision, outputs = self._onnxruntime(folder / ONNX_FILE)
        self.dim = outputs // len(self.layers)

    def _openvino(self, graph: Path, precision: str) -> tuple[Callable[[dict[str, np.ndarray]], _Pending], str, int]:
        """One infer request per worker, started and collected from the calling thread: OpenVINO runs them side
        by side on its own threads. (Calling `infer` from several Python threads at once deadlocked a worker:
        two first calls raced on a static initialiser in the Python bindings while one of them held the GIL.)"""
        import openvino as ov

        core = ov.Core()
        # Not pinned to cores: the recogniser and other workers share them.
        config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": self.workers,
                                  "INFERENCE_NUM_THREADS": self.workers, "ENABLE_CPU_PINNING": False}
        if precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = precision
        compiled = core.compile_model(str(graph), "CPU", config)
        used = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        free = deque(compiled.create_infer_request() for _ in range(self.workers))

        def start(inputs: dict[str, np.ndarray]) -> _Pending:
            request = free.popleft()  # `embed` keeps at most one batch per request in flight
            request.start_async(inputs)  # copies the inputs

            def result() -> np.ndarray:
                request.wait()
                out = np.array(request.get_output_tensor(0).data, dtype=np.float32)  # a copy: the buffer is reused
                free.append(request)
                return out

            return result

        return start, used, int(compiled.output(0).get_partial_shape()[-1].get_length())

    def _onnxruntime(self, graph: Path) -> tuple[Callable[[dict[str, np.ndarray]], _Pending], str, int]:
        """One single-threaded `run` per worker thread (ONNX Runtime's `run` is thread-safe and releases the GIL)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # No busy-waiting between runs: on a shared CPU spinning threads take cores from everything else.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory arena: it kept the largest batch's activations for the life of the process.
        options.enable_cpu_mem_arena = False
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        pool = ThreadPoolExecutor(self.workers)

        def start(inputs: dict[str, np.ndarray]) -> _Pending:
            future = pool.submit(session.run, None, inputs)
            return lambda: future.result()[0]

        return start, "f32", int(session.get_outputs()[0].shape[-1])

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

        def keep(idx: np.ndarray, result: _Pending) -> None:
            out[idx] = result()
            if progress is not None:
                progress(len(idx))

        with self._lock:  # one caller at a time drives the requests
            pending: deque[tuple[np.ndarray, _Pending]] = deque()
            for idx, inputs in self.batches(texts, batch_size, prefix):  # one batch per worker in flight
                if len(pending) >= self.workers:
                    keep(*pending.popleft())
                pending.append((idx, self._start(inputs)))
            while pending:
                keep(*pending.popleft())
        return out

    def batches(self, texts: list[str], batch_size: int = 64,
                prefix: str = QUERY_PREFIX) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(row indices, graph inputs) per batch of texts with similar token counts; at least one batch per
        worker when there are enough texts (a call's few lines still use every core)."""
        if not texts:
            return
        encodings = [[self.bos_id, *ids[: self.max_length - 2], self.eos_id]
                     for ids in self.tokenizer.encode([prefix + (t or "") for t in texts])]
        lengths = np.array([len(e) for e in encodings])
        budget = BATCH_TOKENS
        if self.workers > 1:  # a few lines: cut into one batch per worker instead of one batch for a single core
            budget = min(budget, -(-int(lengths.sum()) // self.workers))
        for idx in length_batches(lengths, batch_size, budget):
            width = int(lengths[idx].max())
            ids = np.full((len(idx), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : lengths[i]] = encodings[i]
                mask[row, : lengths[i]] = 1
            yield idx, {"inputs_embeds": np.asarray(self.word_embeddings[ids], dtype=np.float32),
                        "attention_mask": mask}
