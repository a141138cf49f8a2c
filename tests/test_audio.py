"""Decoding: common formats in, 16 kHz channels out; bad files rejected with a reason a user can act on."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from qa.audio import AudioError, decode, find_recordings
from qa.config import Settings
from tests.conftest import shared_file


def _encode(src: Path, dst: Path, rate: int | None = None, channels: int | None = None) -> Path:
    """Re-encode a real clip with PyAV (no ffmpeg binary needed)."""
    codec = {".mp3": "mp3", ".m4a": "aac", ".ogg": "libopus", ".flac": "flac", ".wav": "pcm_s16le"}[dst.suffix]
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        in_stream = inp.streams.audio[0]
        out_rate = 48000 if codec == "libopus" else (rate or in_stream.rate)
        layout = "mono" if (channels or in_stream.channels) == 1 else "stereo"
        stream = out.add_stream(codec, rate=out_rate, layout=layout)
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=out_rate)
        for frame in inp.decode(in_stream):
            frame.pts = None
            for f in resampler.resample(frame):
                out.mux(stream.encode(f))
        for f in resampler.resample(None):
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    return dst


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".ogg", ".flac", ".wav"])
def test_common_formats_decode_to_16k(tmp_path: Path, suffix: str) -> None:
    src = shared_file("speech/jfk.flac")
    audio = decode(_encode(src, tmp_path / f"jfk{suffix}"))
    assert audio.rate == 16000
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape[0] == 2
    assert abs(audio.info.duration - 11.0) < 0.2
    assert len(audio.info.sha256) == 64


def test_telephone_8k_mono(tmp_path: Path) -> None:
    src = shared_file("speech/aishell-BAC009S0724W0121.wav")
    audio = decode(_encode(src, tmp_path / "tel.wav", rate=8000, channels=1))
    assert audio.info.source_rate == 8000
    assert audio.samples.shape[0] == 1
    assert abs(audio.info.duration - 4.28) < 0.1


def test_stereo_channels_stay_apart() -> None:
    audio = decode(shared_file("speech/stereo_diarization.wav"))
    assert audio.samples.shape == (2, 80000)
    assert not np.allclose(audio.samples[0], audio.samples[1])


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty file"):
        decode(tmp_path / "empty.wav")


def test_random_bytes_named_wav(tmp_path: Path) -> None:
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).bytes(20000))
    with pytest.raises(AudioError, match="not a recognised audio file"):
        decode(tmp_path / "noise.wav")


def test_truncated_mp3(tmp_path: Path) -> None:
    full = _encode(shared_file("speech/jfk.flac"), tmp_path / "full.mp3")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 4])
    with pytest.raises(AudioError, match="truncated"):
        decode(cut)


def test_truncated_wav(tmp_path: Path) -> None:
    data = shared_file("speech/aishell-BAC009S0724W0121.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 3])
    with pytest.raises(AudioError, match="truncated"):
        decode(tmp_path / "cut.wav")


def test_half_second_of_silence_is_too_short(tmp_path: Path) -> None:
    import wave

    with wave.open(str(tmp_path / "silence.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\0\0" * 8000)
    with pytest.raises(AudioError, match="too short"):
        decode(tmp_path / "silence.wav")


def test_unreadable_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        decode(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="not a regular file"):
        (tmp_path / "dir.wav").mkdir()
        decode(tmp_path / "dir.wav")


def test_over_long_recording_rejected() -> None:
    settings = Settings(max_duration_s=5.0)
    with pytest.raises(AudioError, match="too long"):
        decode(shared_file("speech/jfk.flac"), settings)


def test_folders_expand_to_audio_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    for name in ("a/1.wav", "a/2.MP3", "a/notes.txt", "3.flac"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_recordings([tmp_path])]
    assert found == ["3.flac", "a/1.wav", "a/2.MP3"]
