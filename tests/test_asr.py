"""Transcription of real speech: Simplified Chinese, English, channels to roles, no text invented on silence."""

from __future__ import annotations

import numpy as np
import pytest

from qa.asr.engine import rejection_reason
from qa.text import to_simplified
from qa.asr.evaluate import error_rate
from qa.records import CallMeta
from tests.conftest import shared_file

RATE = 16000


def test_guards_drop_known_hallucinations_and_loops() -> None:
    assert rejection_reason("字幕由Amara.org社区提供", -0.5, 0.1)
    assert rejection_reason("Thanks for watching!", -0.5, 0.1)
    assert rejection_reason("好的好的好的好的好的好的好的好的好的好的", -0.2, 0.1)
    assert rejection_reason("嗯", -1.5, 0.9) == "no speech"
    assert rejection_reason("您好，我是恒信金融的客服，请问是张先生吗？", -0.3, 0.05) is None
    assert rejection_reason("Hello, this is Dana from Apex Recovery.", -0.2, 0.02) is None


def test_language_fold_counts_cantonese_as_chinese_and_drops_other_languages() -> None:
    from qa.asr.engine import fold_language

    # Whisper's own pick would be Burmese; zh holds 0.30 + 0.20 of the 0.60 that zh and en share.
    guess = fold_language([("my", 0.35), ("zh", 0.30), ("yue", 0.20), ("en", 0.10), ("bo", 0.05)])
    assert guess.language == "zh" and abs(guess.probability - 0.5 / 0.6) < 1e-9
    assert fold_language([("en", 0.9), ("zh", 0.1)]).language == "en"
    assert fold_language([("ja", 1.0)]).probability == 0.0


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
    recognition = asr.transcribe(samples)
    segments = recognition.segments
    text = "".join(s.text for s in segments)
    assert recognition.language.language == "zh"
    assert to_simplified(text) == text
    assert error_rate("广州市房地产中介协会分析", text, "zh") <= 0.35
    assert all(seg.words for seg in segments), "word timestamps are kept"


@pytest.mark.slow
def test_english_clip(asr) -> None:  # type: ignore[no-untyped-def]
    from qa.audio import decode

    samples = decode(shared_file("speech/jfk.flac")).mono()
    recognition = asr.transcribe(samples)
    segments = recognition.segments
    text = " ".join(s.text for s in segments)
    assert recognition.language.language == "en"
    reference = ("And so my fellow Americans, ask not what your country can do for you, "
                 "ask what you can do for your country.")
    assert error_rate(reference, text, "en") <= 0.15
    words = [w for s in segments for w in s.words]
    assert words and all(a.start <= b.start for a, b in zip(words, words[1:]))


@pytest.mark.slow
def test_silence_and_noise_give_no_text(asr) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    quiet_noise = (rng.standard_normal(16000 * 8) * 0.003).astype(np.float32)
    assert asr.transcribe(quiet_noise, "zh").segments == []
    assert asr.transcribe(np.zeros(16000 * 8, dtype=np.float32), "en").segments == []
    assert asr.transcribe(quiet_noise).segments == []


@pytest.mark.slow
def test_language_detection_reuses_the_decoders_first_window(asr, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Detecting the language costs no encoder pass of its own, and decodes exactly as when it is given."""
    from qa.audio import decode

    samples = decode(shared_file("speech/aishell-BAC009S0724W0121.wav")).mono()
    real, passes = asr.model.model, []

    class Counting:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        def encode(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            passes.append(1)
            return real.encode(*args, **kwargs)

    monkeypatch.setattr(asr.model, "model", Counting())
    detected = asr.transcribe(samples)
    with_detection = len(passes)
    given = asr.transcribe(samples, "zh")
    assert detected.language.language == "zh" and detected.language.probability > 0.9
    assert [s.text for s in detected.segments] == [s.text for s in given.segments]
    assert with_detection == len(passes) - with_detection >= 1


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
    assert set(data) == {"asr", "encoder", "classifier", "speakers"}
    for spec in data.values():
        assert Path(spec["path"]).is_dir() and len(spec["sha256"]) == 64
    assert data["asr"]["sha256"] == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def test_error_rates_and_inserted_domain_words() -> None:
    from qa.asr.evaluate import clean_reference, error_counts, inserted_domain_words

    assert error_counts("廣州市房地產", "广州市房地产。", "zh") == (0, 6)  # Simplified, punctuation ignored
    assert error_counts("ask not what", "Ask not, what?", "en") == (0, 3)
    assert error_counts("你好吗", "你好", "zh") == (1, 3)
    terms = ["催收", "金融公司", "overdue"]
    assert inserted_domain_words("好的再见", "好，这里是金融公司催收部门", "zh", terms) == ["催收", "金融公司"]
    assert inserted_domain_words("我们是催收部门", "我们是催收部门", "zh", terms) == []
    assert inserted_domain_words("it is late", "it is overdue", "en", terms) == ["overdue"]
    assert clean_reference("Diane: Hello? Sheila: Hi. <COMPLETE>") == "Hello? Hi."


def test_coverage_counts_only_reference_speech() -> None:
    from qa.asr.evaluate import speech_coverage

    assert speech_coverage([(0, 2), (3, 5)], [(0, 5)]) == 1.0
    assert speech_coverage([(0, 2), (3, 5)], [(0, 1)]) == 0.25
    assert speech_coverage([(0, 2)], []) == 0.0


def test_no_domain_prompt_unless_a_site_opts_in() -> None:
    from qa.asr.engine import site_vocabulary
    from qa.config import Settings

    assert site_vocabulary(Settings()) == ""
    assert site_vocabulary(Settings(asr_site_vocabulary="恒信金融, Apex Recovery")) == "恒信金融，Apex Recovery"


@pytest.mark.slow
def test_transcription_writes_no_collection_words_into_real_speech(asr) -> None:  # type: ignore[no-untyped-def]
    """Real Mandarin and English clips that say nothing about debts: callqa's transcript must not either (a domain
    prompt or hotwords wrote 金融公司/催收 into such speech), and must be no worse than the bare model."""
    from qa.asr.evaluate import evaluate, load_clips

    shared_file("speech_more/manifest.tsv")
    keep = {"zh_aishell1_BAC009S0150W0011", "zh_easyturn_ramc_complete_real_001", "zh-sichuan_wschuan_03",
            "en_funasrnano_noise_en"}
    clips = [c for c in load_clips(shared_file("speech_more/manifest.tsv").parent) if c.name in keep]
    report = evaluate(clips, asr, compare_bare=True)
    # The reference is faster-whisper's own model, not callqa's subclass with folded detection and re-use.
    from faster_whisper import WhisperModel

    assert type(asr.bare_model()) is WhisperModel and type(asr.model) is not WhisperModel
    for row in report["clips"]:
        assert row["callqa"]["inserted"] == [], row
    total = report["total"]
    assert total["callqa"]["cer_zh"] <= total["bare"]["cer_zh"]
    assert total["callqa"]["wer_en"] <= total["bare"]["wer_en"]
    # Each clip is decoded in its own language: Mandarin (Sichuanese included) as zh, English as en.
    assert total["callqa"]["language_right"] == len(clips) == 4, [r["callqa"]["language"] for r in report["clips"]]


@pytest.mark.slow
def test_mono_two_speaker_mix_keeps_all_speech(asr) -> None:  # type: ignore[no-untyped-def]
    """A telephone-band mono mix of two real Mandarin voices: every turn reaches the transcript, both roles appear,
    and the call records how sure its speaker attribution is."""
    from qa.asr.evaluate import speech_coverage
    from qa.asr.transcribe import transcribe_mono
    from qa.speakers.attribution import attribution
    from qa.asr.evaluate_speakers import VOICES, build_mix, load_voice

    folder = shared_file("speech_more/manifest.tsv").parent
    agent = load_voice("aishell-S0150", "female", [folder / f for f in VOICES["aishell-S0150"][1][:4]])
    customer = load_voice("sensevoice-reader", "male", [folder / f for f in VOICES["sensevoice-reader"][1]])
    mix = build_mix(agent, customer, seed=0, turns=6, telephone=True)
    tr = transcribe_mono(mix.samples, len(mix.samples) / RATE, asr)
    assert speech_coverage([(a, b) for a, b, _ in mix.turns], [(s.start, s.end) for s in tr.segments]) >= 0.9
    assert {s.speaker for s in tr.segments} == {"agent", "customer"}
    sure = attribution(tr)
    assert 0.0 < sure.confidence <= 1.0 and "voice" in sure.reason


@pytest.mark.slow
def test_similar_voices_on_one_line_are_right_or_flagged_uncertain(asr) -> None:  # type: ignore[no-untyped-def]
    """zh_02: mono telephone call, agent and the debtor's mother have similar voices. The mother's lines must go to
    the customer side, or the call must say its speaker attribution is uncertain."""
    from pathlib import Path

    from qa.asr.transcribe import transcribe_call
    from qa.audio import decode
    from qa.speakers.attribution import attribution

    path = Path(__file__).resolve().parents[1] / "recordings_sample" / "zh_02_third_party_callback.flac"
    tr = transcribe_call(decode(path), CallMeta(), asr)
    mother = [s for s in tr.segments if "妈妈" in s.text or "知道了" in s.text]
    assert mother, [s.text for s in tr.segments]
    sure = attribution(tr)
    assert all(s.speaker == "customer" for s in mother) or (sure.uncertain and "one voice" in sure.reason)


def test_long_mono_recordings_are_cut_in_pauses_only() -> None:
    """The cut that lets two cores decode one mono call falls in a pause, never in speech; short calls stay whole."""
    from qa.asr.transcribe import pause_cuts

    rng = np.random.default_rng(0)
    speech = (0.2 * rng.standard_normal(RATE * 100)).astype(np.float32)
    speech[RATE * 47:RATE * 47 + RATE // 2] *= 0.001  # a half-second pause a little before the middle
    speech[RATE * 20:RATE * 21] *= 0.001  # a longer pause far from the middle is not a candidate
    (cut,) = pause_cuts(speech, parts=2, min_part_s=30)
    assert RATE * 47 <= cut <= RATE * 47 + RATE // 2
    assert pause_cuts(speech, parts=2, min_part_s=60) == []  # 100 s < 2 x 60 s: one stream
    assert pause_cuts(speech, parts=1, min_part_s=1) == []
    cuts = pause_cuts(speech, parts=4, min_part_s=10)
    assert len(cuts) == 3 and cuts == sorted(cuts)


@pytest.mark.slow
def test_mono_call_decoded_in_two_parts_keeps_every_turn_once(asr) -> None:  # type: ignore[no-untyped-def]
    """A long mono mix of two real voices, decoded as two parts side by side: every turn reaches the transcript,
    once, in time order, with both roles."""
    from dataclasses import replace

    from qa.asr.engine import get_transcriber
    from qa.asr.evaluate import speech_coverage
    from qa.asr.evaluate_speakers import VOICES, build_mix, load_voice
    from qa.asr.transcribe import pause_cuts, transcribe_mono

    folder = shared_file("speech_more/manifest.tsv").parent
    agent = load_voice("aishell-S0150", "female", [folder / f for f in VOICES["aishell-S0150"][1][:4]])
    customer = load_voice("sensevoice-reader", "male", [folder / f for f in VOICES["sensevoice-reader"][1]])
    mix = build_mix(agent, customer, seed=1, turns=10, telephone=True)
    split = get_transcriber(replace(asr.settings, asr_streams=2, asr_min_part_s=10.0))
    assert pause_cuts(mix.samples, 2, 10.0), "the mix is long enough to be cut"
    tr = transcribe_mono(mix.samples, len(mix.samples) / RATE, split)
    assert speech_coverage([(a, b) for a, b, _ in mix.turns], [(s.start, s.end) for s in tr.segments]) >= 0.9
    starts = [s.start for s in tr.segments]
    assert starts == sorted(starts)
    assert all(a.end <= b.start + 0.05 for a, b in zip(tr.segments, tr.segments[1:]))  # nothing decoded twice
    assert {s.speaker for s in tr.segments} == {"agent", "customer"}
