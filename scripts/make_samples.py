#!/usr/bin/env python3
"""Render the synthetic sample calls in recordings_sample/ from scripts/sample_calls.yaml.

One command regenerates the audio, `manifest.csv` and `labels.json` deterministically (same tools, same bytes):

    .venv/bin/python scripts/make_samples.py            # all calls into recordings_sample/
    .venv/bin/python scripts/make_samples.py --only zh_01_clean_reminder --out /tmp/samples

Needs espeak-ng, sox and ffmpeg (libopus, libmp3lame) on PATH and `pypinyin` (the `samples` extra). Users of callqa do
not need any of this: the rendered audio is committed.

How a call is rendered: every turn is synthesised on its own (Mandarin as tone-numbered pinyin through espeak-ng's
`cmn-latn-pinyin` voice), resampled to 16 kHz, trimmed to its speech, levelled to a fixed loudness (+6 dB for
"distressed" agent turns) and placed after a seeded random pause of 0.3-1.0 s, so turns never overlap and the
recorded start/end of each turn is exact. Stereo calls put the agent on `agent_channel` and the customer on the
other channel; mono calls mix both. Telephone calls are band-passed to 300-3400 Hz and resampled to 8 kHz by sox
and stored as MP3 (or FLAC); wideband calls are stored as Opus in Ogg.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml
from scipy.signal import resample_poly

log = logging.getLogger("make_samples")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().with_name("sample_calls.yaml")
RATE = 16000
TELEPHONE_RATE = 8000
MANIFEST_COLUMNS = ("file", "agent_id", "account_id", "callee", "started_at", "direction", "jurisdiction",
                    "agent_channel")
TURN_RMS = 0.05  # per-turn loudness (about -26 dBFS); distressed turns get distress.gain_db on top
GAP_RANGE = (0.3, 1.0)  # seconds of silence between turns
LEAD_IN, TAIL = 0.6, 0.8  # seconds of silence before the first and after the last turn
TRIM_THRESHOLD = 0.01  # amplitude below which leading/trailing synthesiser output counts as silence
_ZH_PUNCT = str.maketrans({"，": ", ", "。": ". ", "？": "? ", "！": "! ", "、": ", ", "：": ", ", "；": ", "})
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


# ---------------------------------------------------------------- validators for the numbers the scripts read out

def cn_resident_id_valid(value: str) -> bool:
    """GB 11643 checksum of an 18-character resident ID."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    check = "10X98765432"[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS)) % 11]
    return value[17].upper() == check


def luhn_valid(value: str) -> bool:
    if not value.isdigit() or len(value) < 12:
        return False
    total = 0
    for i, ch in enumerate(reversed(value)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


VALIDATORS = {"cn_resident_id": cn_resident_id_valid, "bank_card": luhn_valid}


# ---------------------------------------------------------------- synthesis

@dataclass(frozen=True)
class Voice:
    voice: str
    speed: int
    pitch: int
    gain_db: float = 0.0

    def distressed(self, speed_factor: float, pitch_add: int, gain_db: float) -> "Voice":
        return Voice(self.voice, round(self.speed * speed_factor), min(99, self.pitch + pitch_add),
                     self.gain_db + gain_db)


def zh_to_pinyin(text: str) -> str:
    """Tone-numbered pinyin (neutral tone as 5) that espeak-ng's cmn-latn-pinyin voice reads."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text.translate(_ZH_PUNCT), style=Style.TONE3, neutral_tone_with_five=True)
    return " ".join(s.strip() for s in syllables if s.strip())


def synthesise(text: str, voice: Voice, language: str) -> np.ndarray:
    """One turn as float32 mono at 16 kHz, trimmed to speech and levelled to TURN_RMS (+gain_db)."""
    spoken = zh_to_pinyin(text) if language == "zh" else text
    wav = subprocess.run(
        ["espeak-ng", "-v", voice.voice, "-s", str(voice.speed), "-p", str(voice.pitch), "--stdout", spoken],
        check=True, capture_output=True,
    ).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    if rate != 22050:
        raise RuntimeError(f"espeak-ng produced {rate} Hz audio; this script expects 22050 Hz")
    samples = resample_poly(samples, 320, 441).astype(np.float32)  # 22050 -> 16000
    loud = np.flatnonzero(np.abs(samples) > TRIM_THRESHOLD)
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced silence for voice {voice.voice}")
    samples = samples[max(0, loud[0] - 80): loud[-1] + 80]
    rms = float(np.sqrt(np.mean(samples ** 2)))
    return samples * (TURN_RMS * 10 ** (voice.gain_db / 20) / rms)


# ---------------------------------------------------------------- one call

@dataclass
class RenderedTurn:
    speaker: str
    text: str
    subtypes: list[str]
    start: float
    end: float
    style: str = "calm"
    pii: list[dict] = field(default_factory=list)

    def as_label(self) -> dict:
        out = {
            "speaker": self.speaker, "text": self.text,
            "labels": sorted({s.split("/")[0] for s in self.subtypes}), "subtypes": list(self.subtypes),
            "start": round(self.start, 3), "end": round(self.end, 3),
        }
        if self.speaker == "agent":
            out["style"] = self.style
        if self.pii:
            out["pii"] = self.pii
        return out


def _seed(call_id: str) -> int:
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")


def render_tracks(call: dict, voices: dict[str, Voice], distress: dict) -> tuple[np.ndarray, np.ndarray, list[RenderedTurn]]:
    """Agent and customer tracks (16 kHz, same length, never both speaking) and the turn timings."""
    rng = np.random.default_rng(_seed(call["id"]))
    pieces: list[tuple[str, int, np.ndarray]] = []
    turns: list[RenderedTurn] = []
    cursor = int(LEAD_IN * RATE)
    for i, turn in enumerate(call["turns"]):
        speaker = turn["s"]
        voice = voices[call[speaker]]
        style = turn.get("style", "calm")
        if style == "distressed":
            voice = voice.distressed(distress["speed_factor"], distress["pitch_add"], distress["gain_db"])
        for item in turn.get("pii", []):
            if not VALIDATORS[item["kind"]](item["value"]):
                raise ValueError(f"{call['id']}: {item['kind']} {item['value']} fails its checksum")
        if i > 0:
            cursor += int(round(rng.uniform(*GAP_RANGE) * RATE))
        audio = synthesise(turn["t"], voice, call["language"])
        pieces.append((speaker, cursor, audio))
        turns.append(RenderedTurn(speaker, turn["t"], list(turn.get("sub", [])), cursor / RATE,
                                  (cursor + audio.size) / RATE, style, list(turn.get("pii", []))))
        cursor += audio.size
    total = cursor + int(TAIL * RATE)
    tracks = {"agent": np.zeros(total, np.float32), "customer": np.zeros(total, np.float32)}
    for speaker, start, audio in pieces:
        tracks[speaker][start:start + audio.size] += audio
    return tracks["agent"], tracks["customer"], turns


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def encode(mix: np.ndarray, band: str, fmt: str, out: Path, work: Path) -> None:
    """Band-limit (telephone) and compress `mix` (frames x channels, 16 kHz) into `out`."""
    raw = work / "mix.wav"
    sf.write(raw, mix, RATE, subtype="PCM_16")
    channels = mix.shape[1]
    if band == "telephone":
        narrow = work / "narrow.wav"
        _run(["sox", "-D", str(raw), "-r", str(TELEPHONE_RATE), str(narrow), "sinc", "300-3400"])  # -D: no dither noise
        raw = narrow
    bitexact = ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]
    if fmt == "ogg":
        codec = ["-c:a", "libopus", "-b:a", "32k" if channels == 2 else "24k", "-application", "voip"]
        if channels == 2:
            codec += ["-mapping_family", "255"]  # two independent mono streams: no cross-talk between roles
    elif fmt == "mp3":
        codec = ["-c:a", "libmp3lame", "-b:a", "24k" if channels == 2 else "16k"]
        if channels == 2:
            codec += ["-joint_stereo", "0"]  # plain stereo: each channel keeps only its own speaker
    elif fmt == "flac":
        codec = ["-c:a", "flac", "-compression_level", "8"]
    else:
        raise ValueError(f"unknown format {fmt}")
    _run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(raw), *codec, *bitexact, str(out)])


def default_format(call: dict) -> str:
    return call.get("format") or ("mp3" if call["band"] == "telephone" else "ogg")


def render_call(call: dict, voices: dict[str, Voice], distress: dict, out_dir: Path) -> dict:
    """Write one call's audio file; return its labels.json entry (with `manifest` row attached)."""
    agent, customer, turns = render_tracks(call, voices, distress)
    if call["channels"] == 2:
        channel = int(call["manifest"]["agent_channel"])
        columns = [customer, customer]
        columns[channel] = agent
        mix = np.stack(columns, axis=1)
    else:
        mix = (agent + customer)[:, None]
    peak = float(np.abs(mix).max())
    if peak > 0.99:
        raise ValueError(f"{call['id']}: peak {peak:.2f} would clip; lower TURN_RMS or the distress gain")
    fmt = default_format(call)
    name = f"{call['id']}.{fmt}"
    with tempfile.TemporaryDirectory(prefix="callqa-sample-") as tmp:
        encode(mix, call["band"], fmt, out_dir / name, Path(tmp))
    row = {"file": name, **{k: call["manifest"].get(k, "") for k in MANIFEST_COLUMNS[1:]}}
    subtypes = sorted({s for t in turns for s in t.subtypes})
    labels = sorted({s.split("/")[0] for s in subtypes})
    entry = {
        "file": name, "language": call["language"], "channels": call["channels"], "band": call["band"],
        "sample_rate": TELEPHONE_RATE if call["band"] == "telephone" else RATE,
        "duration": round(mix.shape[0] / RATE, 3), "scenario": call["scenario"],
        "risk": "risky" if labels else "clean", "agent_distressed": bool(call.get("agent_distressed", False)),
        "expected_labels": labels, "expected_subtypes": subtypes,
        "agent_id": row["agent_id"], "turns": [t.as_label() for t in turns],
    }
    return {"labels": entry, "manifest": row}


def load_script(path: Path = SCRIPT) -> tuple[dict[str, Voice], dict, list[dict]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    voices = {k: Voice(**v) for k, v in data["voices"].items()}
    return voices, data["distress"], data["calls"]


def check_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)} (apt-get install espeak-ng sox ffmpeg)")
    try:
        import pypinyin  # noqa: F401
    except ImportError:
        raise SystemExit("missing Python package pypinyin: pip install 'callqa[samples]'") from None


def _existing(folder: Path, replaced: set[str]) -> list[dict]:
    manifest, labels = folder / "manifest.csv", folder / "labels.json"
    if not (manifest.is_file() and labels.is_file()):
        return []
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = {row["file"]: row for row in csv.DictReader(fh)}
    entries = json.loads(labels.read_text(encoding="utf-8"))
    return [{"labels": e, "manifest": rows[e["file"]]} for e in entries
            if e["file"] not in replaced and e["file"] in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "recordings_sample", help="output folder")
    parser.add_argument("--only", nargs="*", help="render only these call ids")
    parser.add_argument("--script", type=Path, default=SCRIPT, help="call scripts (YAML)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    check_tools()
    voices, distress, calls = load_script(args.script)
    if args.only:
        unknown = set(args.only) - {c["id"] for c in calls}
        if unknown:
            raise SystemExit(f"unknown call ids: {', '.join(sorted(unknown))}")
        calls = [c for c in calls if c["id"] in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    rendered = []
    for call in calls:
        result = render_call(call, voices, distress, args.out)
        log.info("%s  %.1f s", result["labels"]["file"], result["labels"]["duration"])
        rendered.append(result)
    if args.only:  # keep the other calls already in this folder's manifest and labels
        rendered += _existing(args.out, {r["labels"]["file"] for r in rendered})
    rendered.sort(key=lambda r: r["labels"]["file"])
    with open(args.out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(r["manifest"] for r in rendered)
    (args.out / "labels.json").write_text(
        json.dumps([r["labels"] for r in rendered], ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
