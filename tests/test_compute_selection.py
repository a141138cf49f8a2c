"""Device and precision selection for the ASR model and the classifier (the GPU path itself is unmeasured here)."""

from __future__ import annotations

import pytest

from qa.config import Compute, Settings, select_compute


def test_auto_uses_the_gpu_in_float16_when_one_is_visible():
    assert select_compute("auto", "auto", cuda_devices=1) == Compute("cuda", "float16")
    assert select_compute("auto", "auto", cuda_devices=0) == Compute("cpu", "int8")


def test_explicit_choices_are_kept():
    assert select_compute("cpu", "auto", cuda_devices=2) == Compute("cpu", "int8")  # a GPU present but CPU asked
    assert select_compute("CUDA", "int8_float16", cuda_devices=1) == Compute("cuda", "int8_float16")
    assert select_compute("cpu", "float32", cuda_devices=0) == Compute("cpu", "float32")


def test_cuda_without_a_gpu_and_unknown_devices_are_refused_in_both_languages():
    with pytest.raises(ValueError, match="no CUDA GPU.*未检测到"):
        select_compute("cuda", "auto", cuda_devices=0)
    with pytest.raises(ValueError, match="设备"):
        select_compute("tpu", "auto", cuda_devices=1)


def test_defaults_are_auto():
    s = Settings()
    assert (s.asr_device, s.asr_compute_type, s.classifier_device) == ("auto", "auto", "auto")


@pytest.mark.slow
def test_classifier_loads_on_cpu_here():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this checks the CPU fallback")
    from qa.detect.classifier.model import ClassifierUnavailable, load_classifier

    try:
        clf = load_classifier()
    except ClassifierUnavailable as exc:
        pytest.skip(str(exc))
    assert clf.encoder.device == "cpu"
    assert clf.encoder.embed(["你再不还钱我们就上门"]).shape[0] == 1
