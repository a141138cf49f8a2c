"""Diarisation of mono mixes built from real speech in ../shared/data/speech (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.speakers.diarize import SpeechTurn, diarize
from tests.conftest import shared_file

RATE = 16000


def _load(name: str) -> np.ndarray:
    import librosa

    y, _ = librosa.load(str(shared_file(f"speech/{name}")), sr=RATE, mono=True)
    return y.astype(np.float32)


def _stereo() -> tuple[np.ndarray, np.ndarray]:
    import soundfile as sf

    x, sr = sf.read(str(shared_file("speech/stereo_diarization.wav")), dtype="float32")
    assert sr == RATE
    # Left speaks 0.2-5.0 s, right 0.3-2.7 s (the rest of each channel is silence).
    return x[int(0.2 * RATE):int(5.0 * RATE), 0].copy(), x[int(0.3 * RATE):int(2.7 * RATE), 1].copy()


def _concat(pieces: list[tuple[int, np.ndarray]], gap_s: float) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """Pieces one after another with `gap_s` of silence between; returns audio and true (start, end, speaker)."""
    out, truth, t = [], [], 0.0
    gap = np.zeros(int(gap_s * RATE), np.float32)
    for speaker, piece in pieces:
        out += [piece, gap]
        truth.append((t, t + len(piece) / RATE, speaker))
        t += (len(piece) + len(gap)) / RATE
    return np.concatenate(out), truth


def _purity(turns: list[SpeechTurn], truth: list[tuple[float, float, int]], duration: float) -> float:
    """Share of speech time (speech in both truth and output) given to the right speaker, best cluster mapping."""
    step = 0.02
    n = int(duration / step) + 2
    ref, hyp = -np.ones(n, int), -np.ones(n, int)
    for a, b, s in truth:
        ref[int(round(a / step)):int(round(b / step))] = s
    for t in turns:
        hyp[int(round(t.start / step)):int(round(t.end / step))] = t.cluster
    both = (ref >= 0) & (hyp >= 0)
    return float(max(np.mean(hyp[both] == ref[both]), np.mean(hyp[both] == 1 - ref[both])))


def _changes(turns: list[SpeechTurn]) -> list[float]:
    return [b.start for a, b in zip(turns, turns[1:]) if a.cluster != b.cluster]


def _true_changes(truth: list[tuple[float, float, int]]) -> list[float]:
    return [b[0] for a, b in zip(truth, truth[1:]) if a[2] != b[2]]


def _check(turns: list[SpeechTurn], truth: list[tuple[float, float, int]], duration: float,
           tolerance: float = 0.5) -> None:
    assert turns == sorted(turns, key=lambda t: t.start)
    assert all(t.end > t.start for t in turns)
    assert {t.cluster for t in turns} == {0, 1}
    found, expected = _changes(turns), _true_changes(truth)
    assert len(found) == len(expected), (found, expected)
    for true_change, got in zip(expected, found):
        assert abs(true_change - got) <= tolerance, (true_change, got)
    assert _purity(turns, truth, duration) >= 0.85
    # Speech is covered: diarised turns hold at least 80% of the true speech time.
    speech = sum(b - a for a, b, _ in truth)
    assert sum(t.end - t.start for t in turns) >= 0.8 * speech


@pytest.mark.slow
def test_alternating_stereo_voices_in_mono() -> None:
    left, right = _stereo()
    audio, truth = _concat([(0, left[:int(2.4 * RATE)]), (1, right), (0, left[int(2.4 * RATE):]),
                            (1, right[:int(1.2 * RATE)]), (0, left[:int(1.5 * RATE)])], gap_s=0.4)
    turns = diarize(audio).turns
    _check(turns, truth, len(audio) / RATE)
    assert turns[0].cluster == 0  # cluster 0 is whoever speaks first


@pytest.mark.slow
def test_two_voices_without_pause_and_backchannels() -> None:
    """JFK and a LibriSpeech reader back to back (no silence to cut at), then short interjections."""
    jfk, lib = _load("jfk.flac"), _load("librispeech-1995-1837-0001.wav")
    s = lambda y, a, b: y[int(a * RATE):int(b * RATE)]  # noqa: E731
    audio, truth = _concat([(0, s(jfk, 0.2, 4.5)), (1, s(lib, 0.05, 2.45)), (0, s(jfk, 5.3, 7.7)),
                            (1, s(lib, 2.7, 6.0)), (0, s(jfk, 8.1, 10.6))], gap_s=0.0)
    _check(turns := diarize(audio).turns, truth, len(audio) / RATE)
    # Backchannels of ~0.6 s between the other voice's sentences keep their own speaker.
    audio, truth = _concat([(0, s(jfk, 0.2, 4.5)), (1, s(lib, 0.1, 0.7)), (0, s(jfk, 5.3, 7.7)),
                            (1, s(lib, 2.7, 6.0)), (0, s(jfk, 8.1, 10.6)), (1, s(lib, 6.5, 7.1)),
                            (0, s(jfk, 3.2, 4.5))], gap_s=0.4)
    turns = diarize(audio).turns
    _check(turns, truth, len(audio) / RATE, tolerance=0.3)


@pytest.mark.slow
def test_telephone_band_and_level_difference() -> None:
    """8 kHz band-limited line, customer 12 dB quieter: still two voices in the right places."""
    import librosa
    from scipy.signal import butter, lfilter

    left, _ = _stereo()
    aishell = _load("aishell-BAC009S0724W0121.wav") * 0.25
    audio, truth = _concat([(0, left), (1, aishell[int(0.4 * RATE):int(2.2 * RATE)]), (0, left[:int(2 * RATE)]),
                            (1, aishell[int(2.2 * RATE):int(3.8 * RATE)])], gap_s=0.3)
    narrow = librosa.resample(audio, orig_sr=RATE, target_sr=8000)
    b, a = butter(4, [300 / 4000, 3400 / 4000], btype="band")
    narrow = lfilter(b, a, narrow).astype(np.float32)
    turns = diarize(narrow, rate=8000).turns  # resampled inside
    _check(turns, truth, len(audio) / RATE)


@pytest.mark.slow
def test_single_speaker_stays_one_speaker() -> None:
    jfk = _load("jfk.flac")
    turns = diarize(jfk).turns
    assert turns and {t.cluster for t in turns} == {0}
    assert turns[0].start < 0.5 and turns[-1].end > 10.0


def test_silence_and_tiny_input_give_no_turns() -> None:
    assert diarize(np.zeros(RATE * 2, np.float32)).turns == []
    assert diarize(np.zeros(100, np.float32)).turns == []
    assert diarize(np.array([], np.float32)).turns == []


@pytest.mark.slow
def test_short_speech_is_one_speaker() -> None:
    """Under ~2 s of speech there is too little to compare voices: one speaker, no crash."""
    left, right = _stereo()
    audio, _ = _concat([(0, left[:int(0.9 * RATE)]), (1, right[:int(0.8 * RATE)])], gap_s=0.3)
    turns = diarize(audio).turns
    assert turns and {t.cluster for t in turns} == {0}


def test_diarising_and_measuring_a_call_loads_no_heavy_library():
    """Speaker embeddings run on ONNX Runtime with a NumPy front end, voice measures on NumPy and SciPy: a mono call's
    process never pays for torch (~150 MB, ~1 s), librosa's numba stack (~130 MB) or scikit-learn (~160 MB)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from qa.audio import decode; from qa.speakers.diarize import diarize; "
            "from qa.assess.acoustics import measure_turn; "
            "x = decode('recordings_sample/zh_02_third_party_callback.flac').mono()[:16000 * 20]; "
            "d = diarize(x); assert d.turns, 'no turns'; m = measure_turn(x[:16000 * 5], 16000); "
            "assert m and m.pitch_hz, 'no pitch'; "
            "print(sorted(m for m in ('torch', 'resemblyzer', 'librosa', 'numba', 'sklearn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout


def test_mel_front_end_matches_resemblyzers() -> None:
    """The NumPy mel spectrogram feeds the encoder what resemblyzer's librosa front end computes."""
    from resemblyzer.audio import wav_to_mel_spectrogram

    from qa.audio import decode
    from qa.speakers.voice_encoder import get_voice_encoder

    x = decode(Path(__file__).resolve().parents[1] / "recordings_sample/zh_02_third_party_callback.flac").mono()
    chunk = x[16000 * 3 : 16000 * 3 + 24000]
    theirs, ours = wav_to_mel_spectrogram(chunk), get_voice_encoder().mel_spectrogram(chunk)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-5 * np.abs(theirs).max()


def test_building_the_speaker_encoder_prints_no_deprecation_warnings():
    """webrtcvad's pkg_resources notice (resemblyzer is imported to build the ONNX encoder) never reaches the user."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("from qa.speakers.voice_encoder import _torch_encoder; _torch_encoder(); "
            "import warnings; warnings.warn('still on')")
    result = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "deprecat" not in result.stderr.lower() and "pkg_resources" not in result.stderr, result.stderr
    assert "still on" in result.stderr  # other warnings are not hidden


def test_der_counts_miss_false_alarm_and_confusion() -> None:
    from qa.asr.evaluate_speakers import der

    ref = [(0.0, 4.0, "A"), (5.0, 9.0, "B")]
    assert der(ref, [(0.0, 4.0, "x"), (5.0, 9.0, "y")], collar=0).der == 0.0  # labels mapped optimally
    half = der(ref, [(0.0, 4.0, "x")], collar=0)
    assert abs(half.der - 0.5) < 0.01 and abs(half.missed - 4.0) < 0.02
    swapped = der(ref, [(0.0, 9.0, "x")], collar=0)  # one label for both: B's 4 s confused, 1 s false alarm
    assert abs(swapped.confusion - 4.0) < 0.02 and abs(swapped.false_alarm - 1.0) < 0.02
    assert der(ref, [(0.0, 4.1, "x"), (4.9, 9.0, "y")], collar=0.25).der == 0.0  # boundaries not scored


@pytest.mark.slow
def test_real_voices_mixed_on_a_telephone_line() -> None:
    """Two real Mandarin women (AISHELL S0150 and another reader), alternating with pauses, telephone band."""
    from qa.asr.evaluate_speakers import VOICES, build_mix, der, load_voice

    folder = shared_file("speech_more/manifest.tsv").parent
    agent = load_voice("aishell-S0150", "female", [folder / f for f in VOICES["aishell-S0150"][1][:6]])
    customer = load_voice("xuanjie-reader", "female", [folder / f for f in VOICES["xuanjie-reader"][1]])
    mix = build_mix(agent, customer, seed=0, turns=8, telephone=True)
    d = diarize(mix.samples)
    assert d.voices == 2
    assert der(mix.turns, [(t.start, t.end, str(t.cluster)) for t in d.turns]).der <= 0.2
