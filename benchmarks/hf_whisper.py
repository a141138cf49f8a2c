"""Rebuild the offline Whisper base as a Hugging Face transformers model, for the side-by-side benchmark.

The only Whisper base weights available offline are the CTranslate2 build that `qa.asr.model.build_base`
reassembles (float16, 212 variables). This module inverts CTranslate2's transformers converter
(`ctranslate2/converters/transformers.py`, `WhisperLoader`): it splits the fused attention projections
back into q/k/v (CTranslate2 padded the absent k bias with zeros), renames layer norms (gamma/beta ->
weight/bias), convolutions, position tables and the tied output projection, and writes a
`WhisperForConditionalGeneration` folder (openai/whisper-base architecture, float32 safetensors) with a
tokenizer, feature extractor and generation config built from the CTranslate2 folder's own files.

The build is checked numerically against CTranslate2 on the same input (encoder output and the language
probabilities, which run the decoder and output projection), so a mapping mistake cannot pass silently.

    .venv/bin/python benchmarks/hf_whisper.py [--ct2 DIR] [--out DIR] [--transcribe FILE --language en]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

HF_FOLDER = "whisper-base-hf"
_STAMP = "callqa-hf.json"
_CONVERTER_VERSION = 3  # bump when the mapping changes: cached builds are then rebuilt

# CTranslate2 DataType enum order (include/ctranslate2/types.h); bfloat16 is not expected here.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}

# openai/whisper-base, as published (its config.json); the CT2 header only implies these.
_BASE_ARCH = dict(
    vocab_size=51865, num_mel_bins=80, d_model=512,
    encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048,
    decoder_layers=6, decoder_attention_heads=8, decoder_ffn_dim=2048,
    max_source_positions=1500, max_target_positions=448, activation_function="gelu",
    scale_embedding=False, pad_token_id=50257, bos_token_id=50257, eos_token_id=50257,
    decoder_start_token_id=50258, median_filter_width=7,
)


class ConversionError(RuntimeError):
    """The CTranslate2 model cannot be turned into a matching transformers model."""


@dataclass
class ConversionCheck:
    encoder_max_abs_diff: float
    encoder_rel_diff: float
    language_top_ct2: str
    language_top_hf: str
    language_prob_max_abs_diff: float
    decoder_logit_max_abs_diff: float  # teacher-forced text positions: exercises decoder self-attention too


def read_ct2_model(path: Path) -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 `model.bin` (binary format 6), aliases resolved. Scalars come back as 0-d arrays."""
    variables: dict[str, np.ndarray] = {}
    with open(path, "rb") as fh:

        def read(fmt: str) -> tuple:  # type: ignore[type-arg]
            return struct.unpack("<" + fmt, fh.read(struct.calcsize("<" + fmt)))

        def read_string() -> str:
            (length,) = read("H")
            return fh.read(length)[:-1].decode("utf-8")

        (version,) = read("I")
        if version != 6:
            raise ConversionError(f"CTranslate2 binary version {version} is not supported (expected 6)")
        spec = read_string()
        (_revision,) = read("I")
        if spec != "WhisperSpec":
            raise ConversionError(f"{path} holds a {spec}, not a WhisperSpec")
        (count,) = read("I")
        for _ in range(count):
            name = read_string()
            (ndim,) = read("B")
            shape = read(f"{ndim}I") if ndim else ()
            (dtype_id,) = read("B")
            (nbytes,) = read("I")
            raw = fh.read(nbytes)
            if dtype_id not in _CT2_DTYPES:
                raise ConversionError(f"variable {name}: unsupported CTranslate2 dtype id {dtype_id}")
            variables[name] = np.frombuffer(raw, dtype=_CT2_DTYPES[dtype_id]).reshape(shape)
        (n_alias,) = read("I")
        for _ in range(n_alias):
            alias, target = read_string(), read_string()
            variables[alias] = variables[target]
    return variables


def _f32(array: np.ndarray):  # type: ignore[no-untyped-def]
    import torch

    if array.dtype == np.int8:
        raise ConversionError("int8-quantised CTranslate2 weights cannot be converted faithfully; use a float build")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def ct2_to_hf_state_dict(v: dict[str, np.ndarray], layers: int, d_model: int) -> dict:  # type: ignore[type-arg]
    """Map CTranslate2 Whisper variables to `WhisperForConditionalGeneration` parameter names."""
    sd = {}

    def linear(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = _f32(v[f"{src}/weight"])
        if f"{src}/bias" in v:
            sd[f"{dst}.bias"] = _f32(v[f"{src}/bias"])

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = _f32(v[f"{src}/gamma"])
        sd[f"{dst}.bias"] = _f32(v[f"{src}/beta"])

    def split_qkv(dst: str, weight: np.ndarray, bias: np.ndarray, parts: tuple[str, ...]) -> None:
        for i, part in enumerate(parts):
            rows = slice(i * d_model, (i + 1) * d_model)
            sd[f"{dst}.{part}_proj.weight"] = _f32(weight[rows])
            if part == "k":  # Whisper's k_proj has no bias; CTranslate2 stored zeros in its place
                if np.any(bias[rows] != 0):
                    raise ConversionError(f"{dst}: non-zero key bias, not a Whisper model")
                continue
            sd[f"{dst}.{part}_proj.bias"] = _f32(bias[rows])

    for side in ("encoder", "decoder"):
        hf = f"model.{side}"
        sd[f"{hf}.embed_positions.weight"] = _f32(v[f"{side}/position_encodings/encodings"])
        norm(f"{hf}.layer_norm", f"{side}/layer_norm")
        for i in range(layers):
            ct, lay = f"{side}/layer_{i}", f"{hf}.layers.{i}"
            sa = f"{ct}/self_attention"
            split_qkv(f"{lay}.self_attn", v[f"{sa}/linear_0/weight"], v[f"{sa}/linear_0/bias"], ("q", "k", "v"))
            linear(f"{lay}.self_attn.out_proj", f"{sa}/linear_1")
            norm(f"{lay}.self_attn_layer_norm", f"{sa}/layer_norm")
            if side == "decoder":
                ca = f"{ct}/attention"
                linear(f"{lay}.encoder_attn.q_proj", f"{ca}/linear_0")
                split_qkv(f"{lay}.encoder_attn", v[f"{ca}/linear_1/weight"], v[f"{ca}/linear_1/bias"], ("k", "v"))
                linear(f"{lay}.encoder_attn.out_proj", f"{ca}/linear_2")
                norm(f"{lay}.encoder_attn_layer_norm", f"{ca}/layer_norm")
            linear(f"{lay}.fc1", f"{ct}/ffn/linear_0")
            linear(f"{lay}.fc2", f"{ct}/ffn/linear_1")
            norm(f"{lay}.final_layer_norm", f"{ct}/ffn/layer_norm")
    for conv in ("conv1", "conv2"):
        linear(f"model.encoder.{conv}", f"encoder/{conv}")
    sd["model.decoder.embed_tokens.weight"] = _f32(v["decoder/embeddings/weight"])
    projection = v.get("decoder/projection/weight")
    if projection is not None and not np.array_equal(projection, v["decoder/embeddings/weight"]):
        raise ConversionError("output projection differs from the token embeddings; Whisper ties them")
    return sd


def _generation_config(ct2_config: dict, tokens: dict[int, str]):  # type: ignore[no-untyped-def, type-arg]
    """openai/whisper-base's generation config, from the CT2 config (suppression lists, alignment heads, languages)."""
    from transformers import GenerationConfig

    lang_to_id = {tokens[i]: i for i in ct2_config["lang_ids"]}
    ids = {t: i for i, t in tokens.items()}
    return GenerationConfig(
        alignment_heads=[list(h) for h in ct2_config["alignment_heads"]],
        begin_suppress_tokens=list(ct2_config["suppress_ids_begin"]),
        suppress_tokens=list(ct2_config["suppress_ids"]),
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"], pad_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
        no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        lang_to_id=lang_to_id, is_multilingual=True,
        max_initial_timestamp_index=50, max_length=448, return_timestamps=False,
        # openai's published config forces the task through the deprecated forced_decoder_ids; without a task
        # token after language detection, generation loops ("Americans Americans ...").
        task="transcribe",
    )


def _processor(ct2_dir: Path, vocab_size: int):  # type: ignore[no-untyped-def]
    """Tokenizer (CT2's tokenizer.json plus the 1,501 timestamp tokens the vocabulary holds) and 80-mel features."""
    from transformers import AddedToken, WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    data = json.loads((ct2_dir / "tokenizer.json").read_text(encoding="utf-8"))
    specials = [t["content"] for t in sorted(data["added_tokens"], key=lambda t: t["id"])]
    tokenizer = WhisperTokenizer(
        tokenizer_file=str(ct2_dir / "tokenizer.json"),
        extra_special_tokens=[s for s in specials if s != "<|endoftext|>"],
    )
    n_timestamps = vocab_size - len(tokenizer)
    if n_timestamps != 1501:
        raise ConversionError(f"tokenizer holds {len(tokenizer)} tokens; expected {vocab_size - 1501}")
    tokenizer.add_tokens([AddedToken("<|%.2f|>" % (i * 0.02), lstrip=False, rstrip=False, normalized=False,
                                     special=False) for i in range(n_timestamps)])
    features = WhisperFeatureExtractor(feature_size=80, sampling_rate=16000, hop_length=160, chunk_length=30,
                                       n_fft=400)
    return WhisperProcessor(feature_extractor=features, tokenizer=tokenizer)


def _check(hf_dir: Path, ct2_dir: Path) -> ConversionCheck:
    """Compare the transformers build with CTranslate2 (float32) on one deterministic input."""
    import ctranslate2
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    rng = np.random.default_rng(0)
    t = np.arange(16000 * 8) / 16000
    audio = (0.3 * np.sin(2 * np.pi * (220 + 80 * np.sin(2 * np.pi * 0.5 * t)) * t)
             + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    processor = WhisperProcessor.from_pretrained(hf_dir)
    feats = processor.feature_extractor(audio, sampling_rate=16000, return_tensors="np").input_features
    model = WhisperForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32).eval()
    ct2 = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=2)
    gen = model.generation_config
    header = [gen.decoder_start_token_id, gen.lang_to_id["<|en|>"], gen.task_to_id["transcribe"],
              gen.no_timestamps_token_id]
    text = processor.tokenizer(" And so my fellow Americans, ask not", add_special_tokens=False).input_ids
    with torch.inference_mode():
        enc_hf = model.model.encoder(torch.from_numpy(feats)).last_hidden_state.numpy()
        sot = torch.tensor([[gen.decoder_start_token_id]])
        logits = model(input_features=torch.from_numpy(feats), decoder_input_ids=sot).logits[0, -1]
        forced = model(input_features=torch.from_numpy(feats),
                       decoder_input_ids=torch.tensor([header + text])).logits[0].numpy()
    enc_ct2 = np.asarray(ct2.encode(ctranslate2.StorageView.from_array(feats), to_cpu=True))
    # CTranslate2 forces the text after the task header and returns each step's raw logits; its logits processors
    # rewrite special and timestamp tokens, so only the text vocabulary (ids below <|endoftext|>) is compared.
    result = ct2.generate(ctranslate2.StorageView.from_array(feats), [header + text], beam_size=1,
                          max_length=len(header) + len(text) + 1, return_logits_vocab=True,
                          suppress_blank=False, suppress_tokens=[])[0]
    steps = np.asarray(result.logits[0])[:, : gen.eos_token_id]
    ref = forced[len(header) - 1: len(header) - 1 + steps.shape[0], : gen.eos_token_id]
    lang_ids = sorted(model.generation_config.lang_to_id.values())
    probs_hf = torch.softmax(logits[lang_ids], -1).numpy()
    id_to_lang = {i: t for t, i in model.generation_config.lang_to_id.items()}
    hf_langs = {id_to_lang[lang_ids[j]]: float(p) for j, p in enumerate(probs_hf)}
    ct2_langs = dict(ct2.detect_language(ctranslate2.StorageView.from_array(feats))[0])
    diff = float(np.abs(enc_hf - enc_ct2).max())
    check = ConversionCheck(
        encoder_max_abs_diff=diff,
        encoder_rel_diff=float(np.linalg.norm(enc_hf - enc_ct2) / np.linalg.norm(enc_ct2)),
        language_top_ct2=max(ct2_langs, key=ct2_langs.get),  # type: ignore[arg-type]
        language_top_hf=max(hf_langs, key=hf_langs.get),  # type: ignore[arg-type]
        language_prob_max_abs_diff=max(abs(hf_langs[k] - ct2_langs.get(k, 0.0)) for k in hf_langs),
        decoder_logit_max_abs_diff=float(np.abs(steps - ref).max()) if steps.shape[0] >= 3 else np.inf,
    )
    if check.encoder_rel_diff > 1e-3 or check.language_prob_max_abs_diff > 1e-3 \
            or check.language_top_ct2 != check.language_top_hf or check.decoder_logit_max_abs_diff > 1e-2:
        raise ConversionError(f"the transformers build does not match CTranslate2: {check}")
    return check


def build_hf_whisper(ct2_dir: Path, out_dir: Path) -> Path:
    """Write (once; cached) `out_dir/whisper-base-hf`, a transformers Whisper folder equal to the CT2 model. Returns it.

    `out_dir` is a models folder such as `~/.cache/callqa/models`. The folder appears atomically, after the numeric
    check against CTranslate2 passed; a stamp records the source model.bin path and size and the converter version,
    so a changed source or mapping triggers a rebuild.
    """
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    ct2_dir, out_dir = Path(ct2_dir), Path(out_dir)
    target = out_dir / HF_FOLDER
    source = ct2_dir / "model.bin"
    if not source.is_file():
        raise ConversionError(f"{ct2_dir} holds no CTranslate2 model.bin")
    st = source.stat()
    want = {"converter": _CONVERTER_VERSION, "source": str(source.resolve()), "source_bytes": st.st_size}
    stamp = target / _STAMP
    if stamp.is_file():
        have = json.loads(stamp.read_text())
        if all(have.get(k) == want[k] for k in want):
            return target

    ct2_config = json.loads((ct2_dir / "config.json").read_text(encoding="utf-8"))
    variables = read_ct2_model(source)
    layers = _BASE_ARCH["encoder_layers"]
    n_layers = sum(1 for k in variables if k.startswith("encoder/layer_") and k.endswith("ffn/linear_0/weight"))
    heads = int(variables["encoder/num_heads"])
    if (n_layers, heads, variables["decoder/embeddings/weight"].shape) != (layers, 8, (51865, 512)):
        raise ConversionError(f"{source} is not Whisper base ({n_layers} encoder layers, {heads} heads); "
                              "only base is mapped")
    # The suppression lists belong to the generation config; the model config keeps only a correct begin list
    # (its default, 50256, is the English-only end token).
    config = WhisperConfig(**_BASE_ARCH, begin_suppress_tokens=ct2_config["suppress_ids_begin"])
    model = WhisperForConditionalGeneration(config)
    state = ct2_to_hf_state_dict(variables, layers, _BASE_ARCH["d_model"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"proj_out.weight"}:
        raise ConversionError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    if not torch.equal(model.proj_out.weight, model.model.decoder.embed_tokens.weight):
        raise ConversionError("output projection is not tied to the token embeddings")
    processor = _processor(ct2_dir, config.vocab_size)
    tokens = {i: processor.tokenizer.convert_ids_to_tokens(i) for i in range(50257, 50364)}
    model.generation_config = _generation_config(ct2_config, tokens)

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-hf-", dir=out_dir))
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        check = _check(tmp, ct2_dir)
        log.info("transformers build matches CTranslate2: %s", check)
        (tmp / _STAMP).write_text(json.dumps({**want, "check": asdict(check)}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def default_hf_whisper() -> Path:
    """Build (or find) the transformers Whisper base from the configured models folder."""
    from qa.asr.model import build_base
    from qa.config import get_settings

    models = get_settings().models_dir
    return build_hf_whisper(build_base(models), models)


def transcribe(hf_dir: Path, audio_path: Path, language: str | None = None, threads: int = 2) -> str:
    """Transcribe one file with the plain transformers pipeline (fp32 CPU, 30 s chunks)."""
    import torch
    from transformers import pipeline

    from qa.audio import decode

    torch.set_num_threads(threads)
    asr = pipeline("automatic-speech-recognition", model=str(hf_dir), dtype=torch.float32, device="cpu",
                   chunk_length_s=30)
    samples = decode(audio_path).mono()
    kwargs = {"generate_kwargs": {"language": language, "task": "transcribe"}} if language else {}
    return asr({"raw": samples, "sampling_rate": 16000}, **kwargs)["text"].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ct2", type=Path, help="CTranslate2 Whisper base folder (default: build qa's base)")
    parser.add_argument("--out", type=Path, help="models folder to write whisper-base-hf into (default: qa's)")
    parser.add_argument("--transcribe", type=Path, nargs="*", default=[], help="files to transcribe afterwards")
    parser.add_argument("--language", default=None, help="force a language (zh, en) when transcribing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from qa.asr.model import build_base
    from qa.config import get_settings

    models = args.out or get_settings().models_dir
    folder = build_hf_whisper(args.ct2 or build_base(models), models)
    print(folder)
    print((folder / _STAMP).read_text())
    for f in args.transcribe:
        print(f"{f.name}: {transcribe(folder, f, args.language)}")


if __name__ == "__main__":
    main()
