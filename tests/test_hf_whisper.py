"""The transformers rebuild of the offline Whisper base (benchmarks/hf_whisper.py) transcribes like the original."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, shared_file

pytestmark = pytest.mark.slow

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def _hf_whisper():  # type: ignore[no-untyped-def]
    """benchmarks/ is not a package: load the module from its file (registered, as dataclasses require)."""
    if "callqa_bench_hf_whisper" not in sys.modules:
        spec = importlib.util.spec_from_file_location("callqa_bench_hf_whisper", REPO / "benchmarks" / "hf_whisper.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["callqa_bench_hf_whisper"]


@pytest.fixture(scope="module")
def hf_dir() -> Path:
    from qa.asr.model import ModelMissingError, build_base
    from qa.config import load_settings

    models = load_settings().models_dir  # the shared model cache: building twice would cost minutes
    try:
        ct2 = build_base(models)
    except ModelMissingError as exc:
        pytest.skip(f"Whisper base (CTranslate2) cannot be built offline: {exc}")
    return _hf_whisper().build_hf_whisper(ct2, models)


def test_converted_model_matches_ctranslate2(hf_dir: Path) -> None:
    check = json.loads((hf_dir / "callqa-hf.json").read_text())["check"]
    assert check["encoder_rel_diff"] < 1e-3
    assert check["language_top_hf"] == check["language_top_ct2"]
    assert check["decoder_logit_max_abs_diff"] < 1e-2


def test_transformers_pipeline_transcribes_jfk(hf_dir: Path) -> None:
    from qa.asr.evaluate import error_rate

    audio = shared_file("speech/jfk.flac")
    # No language given: the model must detect English and transcribe (not translate, not loop).
    hypothesis = _hf_whisper().transcribe(hf_dir, audio)
    assert error_rate(JFK, hypothesis, "en") <= 0.15, hypothesis
