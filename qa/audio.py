"""Decode any common audio format with PyAV, validate it, resample to 16 kHz and keep channels apart."""

from __future__ import annotations

import hashlib
import os
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np

from qa.config import Settings, get_settings
from qa.records import AudioInfo, DecodedAudio

RATE = 16000
_HASH_CHUNK = 1 << 20


class AudioError(Exception):
    """A recording that cannot be processed; the message says why, in words a user can act on."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_file(path: Path, settings: Settings) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AudioError(f"file not found: {path}") from None
    except OSError as exc:
        raise AudioError(f"cannot read file: {exc.strerror or exc}") from None
    if not path.is_file():
        raise AudioError("not a regular file")
    if not os.access(path, os.R_OK):
        raise AudioError("file is not readable (permission denied)")
    if size == 0:
        raise AudioError("empty file (0 bytes)")
    if size > settings.max_file_bytes:
        raise AudioError(
            f"file too large: {size / 1e9:.2f} GB exceeds the limit of {settings.max_file_bytes / 1e9:.2f} GB"
        )
    return size


def decode(path: str | os.PathLike[str], settings: Settings | None = None, sha256: str | None = None) -> DecodedAudio:
    """Decode `path` into 16 kHz float32 samples, shape (channels, n); raise AudioError with a clear reason.

    `sha256`: the file's hash when the caller already computed it (ingest hashes before claiming a call).
    """
    settings = settings or get_settings()
    path = Path(path)
    size = _check_file(path, settings)
    sha = sha256 or file_sha256(path)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise AudioError(f"not a recognised audio file ({_ffmpeg_reason(exc)})") from None
    with container:
        streams = container.streams.audio
        if not streams:
            raise AudioError("the file has no audio stream")
        stream = streams[0]
        channels = _kept_channels(stream)
        declared = _declared_duration(container, stream, path)
        if declared and declared > settings.max_duration_s:
            raise AudioError(
                f"recording too long: {declared / 60:.1f} min exceeds the limit of {settings.max_duration_s / 60:.0f} min"
            )
        layout = "stereo" if channels == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=RATE)
        chunks: list[np.ndarray] = []
        total = 0
        limit = int(settings.max_duration_s * RATE)
        try:
            for frame in container.decode(stream):
                frame.pts = None
                for out in resampler.resample(frame):
                    arr = out.to_ndarray()
                    chunks.append(arr)
                    total += arr.shape[1]
                if total > limit:
                    raise AudioError(
                        f"recording too long: exceeds the limit of {settings.max_duration_s / 60:.0f} min"
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except (av.error.InvalidDataError, av.error.FFmpegError) as exc:
            raise AudioError(f"audio data is corrupt or truncated ({_ffmpeg_reason(exc)})") from None
        codec = stream.codec_context.name
        source_rate = stream.codec_context.sample_rate or 0
    if not chunks:
        raise AudioError("no audio could be decoded (truncated or empty stream)")
    samples = np.concatenate(chunks, axis=1).astype(np.float32)
    duration = samples.shape[1] / RATE
    if declared and duration < 0.9 * declared - 0.5:
        raise AudioError(
            f"truncated file: only {duration:.1f} s of the {declared:.1f} s the header declares could be decoded"
        )
    if duration < settings.min_duration_s:
        raise AudioError(f"recording too short: {duration:.2f} s (minimum {settings.min_duration_s:.1f} s)")
    info = AudioInfo(
        path=str(path.resolve()), sha256=sha, size_bytes=size, duration=duration,
        channels=samples.shape[0], source_rate=source_rate, codec=codec,
    )
    return DecodedAudio(info=info, samples=samples, rate=RATE)


def _kept_channels(stream: Any) -> int:
    """1 or 2: the channels a decoded call keeps (more are mixed down to stereo)."""
    return max(1, min(stream.codec_context.channels or 1, 2))


def _declared_duration(container: Any, stream: Any, path: Path) -> float | None:
    """The duration the container or stream header declares, in seconds (None when it declares none)."""
    declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    if declared is None and container.duration:
        declared = container.duration / 1_000_000
    if stream.codec_context.name.startswith("pcm_"):
        declared = _wav_header_duration(path) or declared
    return declared


def audio_seconds(path: str | os.PathLike[str]) -> float:
    """Seconds of audio to decode, from the header alone (every channel counted: a stereo call is two streams
    to recognise); 0.0 when the file cannot be read or declares no duration. An estimate for ordering work."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            return (_declared_duration(container, stream, Path(path)) or 0.0) * _kept_channels(stream)
    except Exception:  # noqa: BLE001 - any unreadable file: decode() reports why when its turn comes
        return 0.0


def _wav_header_duration(path: Path) -> float | None:
    """Duration the RIFF header declares (PyAV estimates PCM length from the file size, hiding truncation)."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError, OSError, ZeroDivisionError):
        return None


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() if ":" in text and len(text) > 80 else text


def is_silent(samples: np.ndarray, threshold_db: float = -50.0) -> bool:
    """True when the whole signal stays below `threshold_db` dBFS RMS (no speech to transcribe)."""
    if samples.size == 0:
        return True
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * np.log10(max(rms, 1e-10)) < threshold_db


def centred_frames(samples: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """Frames of `frame` samples every `hop`, the first centred on sample 0 (zero-padded by half a frame each
    side, as librosa's `center=True`): a read-only (n, frame) view, n = 1 + len(samples) // hop."""
    return np.lib.stride_tricks.sliding_window_view(np.pad(samples, frame // 2), frame)[::hop]


AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".oga", ".wma", ".amr", ".webm", ".mp4"}


def find_recordings(paths: list[Path]) -> list[Path]:
    """Expand folders into the audio files under them (sorted); keep explicit files as given."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES))
        else:
            found.append(p)
    return found


def telephone_band(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """What a mobile telephone line does to speech: 8 kHz, 300-3400 Hz band-pass, AMR-NB 12.2 kbit/s (a lossy
    codec, through PyAV/FFmpeg); returned at `rate` again so it can be mixed and decoded like any recording."""
    import io

    from scipy.signal import butter, resample_poly, sosfiltfilt

    x = resample_poly(np.asarray(samples, dtype=np.float64), 8000, rate)
    x = sosfiltfilt(butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos"), x)
    pcm = (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)
    buf = io.BytesIO()
    with av.open(buf, "w", format="amr") as out:
        stream = out.add_stream("libopencore_amrnb", rate=8000)
        stream.bit_rate = 12200
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    decoded: list[np.ndarray] = []
    with av.open(buf, "r", format="amr") as inp:
        for frm in inp.decode(audio=0):
            decoded.append(frm.to_ndarray().reshape(-1).astype(np.float32) / (32768.0 if frm.format.name == "s16" else 1.0))
    y = np.concatenate(decoded) if decoded else np.zeros(0, dtype=np.float32)
    y = resample_poly(y, rate, 8000).astype(np.float32)
    n = len(samples)
    return np.pad(y, (0, max(0, n - len(y))))[:n]


# --- redaction ---------------------------------------------------------------------------------------

#: Seconds added before and after each spoken-PII span, so a number's first and last syllables go too.
REDACT_MARGIN_S = 0.3
REDACT_TONE_HZ = 1000.0
REDACT_TONE_DBFS = -20.0


def read_pcm(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The file's samples as int16, shape (channels, n), at its own sample rate (no resampling, any length)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate
            layout = "stereo" if (stream.codec_context.channels or 1) >= 2 else "mono"
            resampler = av.AudioResampler(format="s16p", layout=layout, rate=rate)
            chunks = [r.to_ndarray() for frame in container.decode(stream) for r in resampler.resample(frame)]
            chunks += [r.to_ndarray() for r in resampler.resample(None)]
    except (av.error.FFmpegError, IndexError) as exc:
        raise AudioError(f"cannot read {Path(path).name}: {_ffmpeg_reason(exc)}") from None
    if not chunks:
        raise AudioError(f"{Path(path).name} holds no audio")
    return np.concatenate(chunks, axis=1).astype(np.int16), int(rate)


def redact_samples(samples: np.ndarray, rate: int, spans: list[tuple[float, float]],
                   margin_s: float = REDACT_MARGIN_S, tone: bool = True) -> np.ndarray:
    """A copy of `samples` (channels, n) with every span (seconds, widened by `margin_s`) replaced, on every
    channel, by a steady tone (or silence); every other sample unchanged."""
    out = samples.copy()
    n = out.shape[1]
    for start, end in spans:
        a = max(0, int((start - margin_s) * rate))
        b = min(n, int(np.ceil((end + margin_s) * rate)))
        if b <= a:
            continue
        if tone:
            t = np.arange(a, b) / rate
            amp = 32767 * 10 ** (REDACT_TONE_DBFS / 20)
            out[:, a:b] = (amp * np.sin(2 * np.pi * REDACT_TONE_HZ * t)).astype(np.int16)
        else:
            out[:, a:b] = 0
    return out


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, rate: int) -> Path:
    """16-bit PCM WAV, created readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh, wave.open(fh, "wb") as w:
        w.setnchannels(samples.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(samples.T).tobytes())
    return path


def redacted_copy(source: str | os.PathLike[str], spans: list[tuple[float, float]], folder: Path,
                  margin_s: float = REDACT_MARGIN_S) -> Path:
    """The redacted WAV of `source` for these spans, derived once and kept in `folder` (owner-only); a new
    one is made, and older ones removed, when the spans change."""
    key = hashlib.sha256(repr((str(source), Path(source).stat().st_size, sorted(spans), margin_s)).encode())
    target = folder / f"redacted-{key.hexdigest()[:16]}.wav"
    if target.is_file():
        return target
    samples, rate = read_pcm(source)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = folder / f".{target.name}.{os.getpid()}.tmp"
    write_wav(tmp, redact_samples(samples, rate, spans, margin_s), rate)
    os.replace(tmp, target)
    for old in folder.glob("redacted-*.wav"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
