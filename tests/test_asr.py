"""Transcription of real speech: Simplified Chinese, English, channels to roles, no text invented on silence."""

from __future__ import annotations

import numpy as np
import pytest

from qa.asr.engine import rejection_reason
from qa.text import to_simplified
from qa.asr.evaluate import error_rate
from qa.records import CallMeta
from tests.conftest import shared_file


def test_guards_drop_known_hallucinations_and_loops() -> None:
    assert rejection_reason("字幕由Amara.org社区提供", -0.5, 0.1)
    assert rejection_reason("Thanks for watching!", -0.5, 0.1)
    assert rejection_reason("好的好的好的好的好的好的好的好的好的好的", -0.2, 0.1)
    assert rejection_reason("嗯", -1.5, 0.9) == "no speech"
    assert rejection_reason("您好，我是恒信金融的客服，请问是张先生吗？", -0.3, 0.05) is None
    assert rejection_reason("Hello, this is Dana from Apex Recovery.", -0.2, 0.02) is None


def test_simplified_conversion() -> None:
    assert to_simplified("請您儘快還款，逾期會影響徵信") == "请您尽快还款，逾期会影响征信"


@pytest.fixture(scope="module")
def asr():  # type: ignore[no-untyped-def]
    from qa.asr.engine import get_transcriber

    return get_transcriber()


@pytest.mark.slow
def test_mandarin_clip_in_simplified_chinese(asr) -> None:  # type: ignore[no-untyped-def]
    from qa.audio import decode

    samples = decode(shared_file("speech/aishell-BAC009S0724W0121.wav")).mono()
    guess = asr.detect_language(samples)
    segments = asr.transcribe(samples, guess.language)
    text = "".join(s.text for s in segments)
    assert guess.language == "zh"
    assert to_simplified(text) == text
    assert error_rate("广州市房地产中介协会分析", text, "zh") <= 0.35
    assert all(seg.words for seg in segments), "word timestamps are kept"


@pytest.mark.slow
def test_english_clip(asr) -> None:  # type: ignore[no-untyped-def]
    from qa.audio import decode

    samples = decode(shared_file("speech/jfk.flac")).mono()
    segments = asr.transcribe(samples, asr.detect_language(samples).language)
    text = " ".join(s.text for s in segments)
    reference = ("And so my fellow Americans, ask not what your country can do for you, "
                 "ask what you can do for your country.")
    assert error_rate(reference, text, "en") <= 0.15
    words = [w for s in segments for w in s.words]
    assert words and all(a.start <= b.start for a, b in zip(words, words[1:]))


@pytest.mark.slow
def test_silence_and_noise_give_no_text(asr) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    quiet_noise = (rng.standard_normal(16000 * 8) * 0.003).astype(np.float32)
    assert asr.transcribe(quiet_noise, "zh") == []
    assert asr.transcribe(np.zeros(16000 * 8, dtype=np.float32), "en") == []


@pytest.mark.slow
def test_stereo_sentences_go_to_the_right_role(asr) -> None:  # type: ignore[no-untyped-def]
    from qa.audio import decode
    from qa.asr.transcribe import transcribe_call

    audio = decode(shared_file("speech/stereo_diarization.wav"))
    for agent_channel in (0, 1):
        tr = transcribe_call(audio, CallMeta(agent_channel=agent_channel), asr)
        by_role = {role: " ".join(s.text for s in tr.segments if s.speaker == role).lower()
                   for role in ("agent", "customer")}
        left, right = ("agent", "customer") if agent_channel == 0 else ("customer", "agent")
        assert "wizard" in by_role[left] and "curtain" in by_role[left]
        assert "horizon" in by_role[right] and "distant" in by_role[right]
        assert "horizon" not in by_role[left] and "wizard" not in by_role[right]
        assert {s.method for s in tr.speakers} == {"channel"}
        assert tr.language == "en"


@pytest.mark.slow
def test_models_command_names_the_exact_weights() -> None:
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from qa.cli import app

    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"asr", "encoder", "classifier"}
    for spec in data.values():
        assert Path(spec["path"]).is_dir() and len(spec["sha256"]) == 64
    assert data["asr"]["sha256"] == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
