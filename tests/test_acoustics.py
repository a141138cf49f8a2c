"""Voice measures move the right way on transformed real speech; stress markers compare with a baseline."""

from __future__ import annotations

import numpy as np
import pytest

from qa.assess.acoustics import build_baseline, measure_segments, measure_turn, stress_findings
from qa.records import AudioInfo, DecodedAudio, Finding, Segment
from tests.conftest import shared_file

CLIPS = ["speech/librispeech-1995-1837-0001.wav", "speech/aishell-BAC009S0724W0121.wav", "speech/jfk.flac"]


def load(relative: str) -> np.ndarray:
    import librosa

    y, _ = librosa.load(shared_file(relative), sr=16000, mono=True)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="module", params=CLIPS)
def clip(request: pytest.FixtureRequest) -> np.ndarray:
    return load(request.param)


def test_louder_speech_measures_louder(clip: np.ndarray) -> None:
    base, loud = measure_turn(clip, 16000), measure_turn(clip * 2.5, 16000)  # +8 dB
    assert base and loud
    assert loud.loudness_db - base.loudness_db == pytest.approx(20 * np.log10(2.5), abs=0.5)
    assert loud.pitch_st == pytest.approx(base.pitch_st, abs=0.3)


def test_higher_pitched_speech_measures_higher(clip: np.ndarray) -> None:
    import librosa

    base = measure_turn(clip, 16000)
    high = measure_turn(librosa.effects.pitch_shift(clip, sr=16000, n_steps=4), 16000)
    assert base and high and base.pitch_st is not None and high.pitch_st is not None
    assert 3.0 <= high.pitch_st - base.pitch_st <= 5.0
    low = measure_turn(librosa.effects.pitch_shift(clip, sr=16000, n_steps=-3), 16000)
    assert low and low.pitch_st is not None and low.pitch_st < base.pitch_st - 2.0


def test_faster_speech_measures_faster(clip: np.ndarray) -> None:
    import librosa

    base = measure_turn(clip, 16000)
    fast = measure_turn(librosa.effects.time_stretch(clip, rate=1.35), 16000)
    assert base and fast and base.nuclei_rate and fast.nuclei_rate
    assert fast.nuclei_rate > base.nuclei_rate * 1.05
    assert fast.pause_ratio <= base.pause_ratio  # squeezed pauses
    assert fast.pitch_st == pytest.approx(base.pitch_st, abs=1.0)  # tempo change keeps pitch


def test_speech_rate_from_word_timestamps() -> None:
    y = load(CLIPS[1])  # AISHELL: 广州市房地产中介协会分析, 12 syllables
    chars = "广州市房地产中介协会分析"
    words = [{"start": 0.3 + 0.3 * i, "end": 0.3 + 0.3 * i + 0.25, "word": c} for i, c in enumerate(chars)]
    m = measure_turn(y, 16000, words)
    assert m and m.rate_sps == pytest.approx(12 / (words[-1]["end"] - words[0]["start"]), rel=0.01)
    # Syllable nuclei from the audio alone land near the true count (12 syllables over ~4 s of speech).
    assert m.nuclei_rate is not None and 2.0 <= m.nuclei_rate <= 4.5


def test_stereo_segments_use_their_own_channel() -> None:
    y = load(CLIPS[0])
    samples = np.stack([y, np.zeros_like(y)])
    audio = DecodedAudio(AudioInfo("x.wav", "0" * 64, 1, len(y) / 16000, 2, 16000, "pcm"), samples)
    out = measure_segments(audio, [Segment("agent", 0.0, 4.0, "a", channel=0),
                                   Segment("customer", 0.0, 4.0, "b", channel=1),
                                   Segment("agent", 4.0, 4.3, "too short", channel=0)],
                         speakers=("agent", "customer"))
    assert out[0] is not None and out[0]["pitch_hz"] > 60
    assert out[1] is None and out[2] is None


def _turn(pitch: float = 20.0, loud: float = -25.0, rate: float = 4.5) -> dict:
    return {"pitch_st": pitch, "pitch_range_st": 8.0, "loudness_db": loud, "instability_st": 0.5,
            "rate_sps": rate, "nuclei_rate": 3.0, "pause_ratio": 0.15}


def test_stress_markers_against_the_agents_own_baseline() -> None:
    rng = np.random.default_rng(0)
    history = [[_turn(20 + rng.normal(0, 1), -25 + rng.normal(0, 2), 4.5 + rng.normal(0, 0.4)) for _ in range(6)]
               for _ in range(12)]
    baseline = build_baseline(history)
    assert baseline.source == "agent" and baseline.n_calls == 12
    segs = [Segment("agent", 0, 5, "您好"), Segment("customer", 5, 9, "..."), Segment("agent", 9, 14, "请您冷静"),
            Segment("agent", 14, 18, "好的")]
    voices = [_turn(), None, _turn(pitch=23.0, loud=-20.0, rate=5.2), _turn(pitch=20.3)]
    found = stress_findings(segs, voices, baseline)
    assert len(found) == 1
    f = found[0]
    assert f.subtype == "stress/voice" and f.speaker == "agent" and (f.start, f.end) == (9, 14)
    assert "pitch +" in f.explanation and "loudness +" in f.explanation
    assert "vs agent baseline of 12 calls" in f.explanation
    # The same turns are unremarkable for an agent whose normal voice is higher and louder.
    other = build_baseline([[_turn(23 + rng.normal(0, 1), -20 + rng.normal(0, 2), 5.2) for _ in range(6)]
                            for _ in range(12)])
    assert not stress_findings(segs, voices, other)


def test_population_defaults_before_enough_calls_and_corroboration() -> None:
    baseline = build_baseline([[_turn()] * 4] * 2)
    assert baseline.source == "population"
    segs = [Segment("customer", 0, 4, "你们这群骗子"), Segment("agent", 4, 9, "...")]
    one_raised = [None, _turn(pitch=18.0, loud=-15.0, rate=4.5)]  # loudness +1.7 SD only
    assert not stress_findings(segs, one_raised, baseline)
    abuse = Finding("harassment", "harassment/insult", "customer", 0.5, 3.5, "骗子", 0.9, "rule", "insult",
                    details={"direction": "to_agent"})
    found = stress_findings(segs, one_raised, baseline, [abuse])
    assert found and "population defaults" in found[0].explanation and "harassment/insult" in found[0].explanation


def test_assessment_stores_voice_per_channel_and_keeps_it_without_audio(db_url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from qa.audio import decode
    from qa.store.db import session_scope
    from qa.store.models import SegmentRow
    from tests.assess_helpers import add_call, assess_stored as assess

    audio = decode(shared_file("speech/stereo_diarization.wav"))
    with session_scope(db_url) as s:
        cid = add_call(s, datetime(2025, 3, 3, 2, 0, tzinfo=UTC), jurisdiction="us", assess=False,
                       segments=[("agent", 0.0, 4.5, "He began a confused complaint against the wizard"),
                                 ("customer", 0.0, 2.5, "The horizon seems extremely distant.")])
        assess(s, cid, audio)
        rows = list(s.scalars(select(SegmentRow).where(SegmentRow.call_id == cid).order_by(SegmentRow.idx)))
        agent, customer = rows[0].voice, rows[1].voice
        alone = measure_segments(audio, [Segment("agent", 0.0, 4.5, "", channel=0)])[0]
        assert agent and alone and agent["pitch_hz"] == alone["pitch_hz"]  # measured on the agent's own channel
        assert "z" in agent and agent["z"]["pitch_st"] is not None  # compared with the agent's baseline
        assert customer is None  # customer turns are not measured by default (config measure.speakers)
        assess(s, cid, None)
        again = list(s.scalars(select(SegmentRow.voice).where(SegmentRow.call_id == cid).order_by(SegmentRow.idx)))
        assert again == [agent, customer]
