"""Throughput side by side, one run, same files: callqa end to end vs bare faster-whisper vs the transformers pipeline.

    nice -n 5 .venv/bin/python benchmarks/throughput.py [FILE_OR_FOLDER ...] [--engines callqa,bare,transformers]
                                                        [--cores N] [--json]

Engines (each in its own subprocess, so its peak RSS is its own; models loaded once, then a 10-second warm-up
clip cut from the first file, both reported as load time and excluded from the timed run):
  callqa        `qa.ingest.batch.process_file(FileJob(path, CallMeta()), db_url, force=True, settings)`: decode, channel
                split or diarisation, ASR (batched, guards, Simplified), detection, compliance, voice measures,
                scoring, and the store write, into a temporary SQLite database. Stereo calls are transcribed per
                channel.
  bare          `WhisperModel(<same CT2 folder>, device="cpu", compute_type="int8", cpu_threads=1)
                .transcribe(file, vad_filter=True, word_timestamps=True)`, segments consumed; otherwise
                faster-whisper's defaults (beam 5, temperature fallback). The file is downmixed to mono.
  transformers  `pipeline("automatic-speech-recognition", model=<whisper-base-hf>, chunk_length_s=30)`, fp32 on
                CPU, `torch.set_num_threads(2)`, the pipeline's own defaults (beam 5, at most 256 new tokens per
                chunk, no temperature fallback, no timestamps), language detected per chunk. The model is the
                same Whisper base, rebuilt by benchmarks/hf_whisper.py.

Figures per engine: audio seconds, wall seconds, real-time factor (wall / audio), CPU seconds of the child
(user + sys), calls per hour per core = 3600 * calls / wall_s / cores (cores: the machine's, `--cores`,
default os.cpu_count(); the engine is charged for the whole machine while it runs), calls per CPU-hour =
3600 * calls / cpu_s (independent of other load on a shared machine), and peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss` at the end of the child). Ratios are wall and CPU time relative to
bare faster-whisper. Default files: every recording in recordings_sample/; when there is none, three
concatenations of the shared speech clips (../shared/data/speech).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_SPEECH = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data")) / "speech"
ENGINES = ("callqa", "bare", "transformers")
WARMUP_S = 10.0


@dataclass
class EngineResult:
    engine: str
    calls: int
    failed: int
    audio_s: float
    load_s: float
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    rtf: float = 0.0
    calls_per_hour_per_core: float = 0.0
    calls_per_cpu_hour: float = 0.0
    per_file: list[dict] = field(default_factory=list)  # type: ignore[type-arg]


# ------------------------------------------------------------------------------------------------ children


def _cpu_s() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime  # children: ffmpeg decoding


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child_callqa(files: list[Path], warmup: Path, workdir: Path, _model: str) -> list[dict]:  # type: ignore[type-arg]
    from qa.asr.engine import get_transcriber
    from qa.config import get_settings
    from qa.detect.engine import get_classifier
    from qa.ingest.batch import FileJob, process_file
    from qa.records import CallMeta

    settings = get_settings()
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    get_transcriber(settings)
    get_classifier(settings)
    process_file(FileJob(warmup, CallMeta()), f"sqlite:///{workdir / 'warmup.db'}", True, settings)
    _mark_loaded()
    out = []
    for f in files:
        t0 = time.perf_counter()
        r = process_file(FileJob(f, CallMeta()), db_url, True, settings)
        out.append({"file": f.name, "run_s": time.perf_counter() - t0, "ok": r.status == "done",
                    "note": r.reason or ""})
    return out


def _child_bare(files: list[Path], warmup: Path, _workdir: Path, model: str) -> list[dict]:  # type: ignore[type-arg]
    from faster_whisper import WhisperModel

    whisper = WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=1)

    def run(path: Path) -> int:
        segments, _info = whisper.transcribe(str(path), vad_filter=True, word_timestamps=True)
        return sum(len(s.words or []) for s in segments)

    run(warmup)
    _mark_loaded()
    out = []
    for f in files:
        t0 = time.perf_counter()
        words = run(f)
        out.append({"file": f.name, "run_s": time.perf_counter() - t0, "ok": words > 0, "note": f"{words} words"})
    return out


def _child_transformers(  # type: ignore[type-arg]
    files: list[Path], warmup: Path, _workdir: Path, model: str
) -> list[dict]:
    import torch
    from transformers import pipeline

    torch.set_num_threads(2)
    asr = pipeline("automatic-speech-recognition", model=model, chunk_length_s=30, dtype=torch.float32, device="cpu")
    asr(str(warmup))
    _mark_loaded()
    out = []
    for f in files:
        t0 = time.perf_counter()
        text = asr(str(f))["text"]
        out.append({"file": f.name, "run_s": time.perf_counter() - t0, "ok": bool(text.strip()),
                    "note": f"{len(text)} chars"})
    return out


_loaded_at: dict[str, float] = {}


def _mark_loaded() -> None:
    _loaded_at["t"] = time.perf_counter()
    _loaded_at["cpu"] = _cpu_s()


def _child_main(engine: str, spec_file: Path) -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # no transcripts or paths in the benchmark's output
    spec = json.loads(spec_file.read_text())
    t0 = time.perf_counter()
    runner = {"callqa": _child_callqa, "bare": _child_bare, "transformers": _child_transformers}[engine]
    per_file = runner([Path(f) for f in spec["files"]], Path(spec["warmup"]), Path(spec["workdir"]), spec["model"])
    end, cpu_end = time.perf_counter(), _cpu_s()
    print(json.dumps({"load_s": _loaded_at["t"] - t0, "wall_s": end - _loaded_at["t"],
                      "cpu_s": cpu_end - _loaded_at["cpu"], "peak_rss_mb": _peak_rss_mb(), "per_file": per_file}))


# ------------------------------------------------------------------------------------------------ parent


def _audio_files(paths: list[Path]) -> list[Path]:
    from qa.audio import find_recordings

    return find_recordings(paths)


def fallback_files(workdir: Path) -> list[Path]:
    """Three calls made by concatenating the shared speech clips (English, Mandarin + English, stereo)."""
    import numpy as np
    import soundfile as sf

    from qa.audio import decode

    def clip(name: str) -> np.ndarray:
        path = SHARED_SPEECH / name
        if not path.is_file():
            raise SystemExit(f"no recordings given, recordings_sample/ is empty and {path} is missing")
        return decode(path).mono()

    gap = np.zeros(16000 // 2, dtype=np.float32)
    jfk, libri, aishell = clip("jfk.flac"), clip("librispeech-1995-1837-0001.wav"), clip("aishell-BAC009S0724W0121.wav")
    mixes = {
        "concat_en.wav": [jfk, gap, libri, gap, jfk, gap, libri],
        "concat_zh_en.wav": [aishell, gap, jfk, gap, aishell, gap, aishell, gap, libri],
    }
    out = []
    for name, parts in mixes.items():
        sf.write(workdir / name, np.concatenate(parts), 16000, subtype="PCM_16")
        out.append(workdir / name)
    stereo = SHARED_SPEECH / "stereo_diarization.wav"
    if stereo.is_file():
        out.append(stereo)
    return out


def _warmup_clip(first: Path, workdir: Path) -> Path:
    import soundfile as sf

    from qa.audio import decode

    audio = decode(first)
    piece = audio.samples[:, : int(WARMUP_S * audio.rate)].T
    path = workdir / "warmup.wav"
    sf.write(path, piece, audio.rate, subtype="PCM_16")
    return path


def run_engine(engine: str, files: list[Path], durations: dict[str, float], warmup: Path, workdir: Path,
               model: str, cores: int) -> EngineResult:
    spec = workdir / f"{engine}.json"
    engine_dir = workdir / engine
    engine_dir.mkdir(exist_ok=True)
    spec.write_text(json.dumps({"files": [str(f) for f in files], "warmup": str(warmup),
                                "workdir": str(engine_dir), "model": model}))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", engine, str(spec)],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"engine {engine} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    audio_s = sum(durations[f.name] for f in files)
    n = len(files)
    for row in data["per_file"]:
        row["audio_s"] = durations[row["file"]]
        row["rtf"] = round(row["run_s"] / row["audio_s"], 4)
        row["run_s"] = round(row["run_s"], 2)
    return EngineResult(
        engine=engine, calls=n, failed=sum(1 for r in data["per_file"] if not r["ok"]), audio_s=round(audio_s, 1),
        load_s=round(data["load_s"], 1), wall_s=round(data["wall_s"], 1), cpu_s=round(data["cpu_s"], 1),
        peak_rss_mb=round(data["peak_rss_mb"]), rtf=round(data["wall_s"] / audio_s, 4),
        calls_per_hour_per_core=round(3600 * n / data["wall_s"] / cores, 1),
        calls_per_cpu_hour=round(3600 * n / data["cpu_s"], 1), per_file=data["per_file"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="recordings or folders (default: recordings_sample/)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES))
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores the machine has (per-core rate)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(REPO))
        _child_main(args.child[0], Path(args.child[1]))
        return
    sys.path.insert(0, str(REPO))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := set(engines) - set(ENGINES):
        parser.error(f"unknown engines {sorted(unknown)}")

    from qa.asr.model import build_base
    from qa.audio import decode
    from qa.config import get_settings

    models = get_settings().models_dir
    ct2 = build_base(models)
    hf = ""
    if "transformers" in engines:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from hf_whisper import build_hf_whisper

        hf = str(build_hf_whisper(ct2, models))

    with tempfile.TemporaryDirectory(prefix="callqa-throughput-") as tmp:
        workdir = Path(tmp)
        files = _audio_files(args.paths or [REPO / "recordings_sample"])
        source = "given" if args.paths else "recordings_sample"
        if not files:
            files, source = fallback_files(workdir), "shared clips (concatenated)"
        if len({f.name for f in files}) != len(files):
            raise SystemExit("file names must be unique")
        durations = {f.name: decode(f).info.duration for f in files}
        warmup = _warmup_clip(files[0], workdir)
        load_before = os.getloadavg()
        results = [run_engine(e, files, durations, warmup, workdir, hf if e == "transformers" else str(ct2),
                              args.cores) for e in engines]
        load_after = os.getloadavg()

    by = {r.engine: r for r in results}
    ratios = {}
    if "bare" in by:
        for other in ("callqa", "transformers"):
            if other in by:
                ratios[f"{other}_over_bare_wall"] = round(by[other].wall_s / by["bare"].wall_s, 3)
                ratios[f"{other}_over_bare_cpu"] = round(by[other].cpu_s / by["bare"].cpu_s, 3)
    report = {"files": source, "calls": len(files), "audio_s": round(sum(durations.values()), 1), "cores": args.cores,
              "loadavg_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
              "engines": [asdict(r) for r in results], "ratios": ratios}
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    before, after = report["loadavg_1m_before_after"]
    print(f"{report['calls']} calls, {report['audio_s']} s of audio ({source}); {args.cores} cores; "
          f"1-min load average {before} before, {after} after")
    print(f"{'engine':13s} {'audio s':>8s} {'load s':>7s} {'wall s':>7s} {'RTF':>6s} {'CPU s':>7s} "
          f"{'calls/h/core':>12s} {'calls/CPU-h':>11s} {'peak RSS MB':>11s} {'failed':>6s}")
    for r in results:
        print(f"{r.engine:13s} {r.audio_s:8.1f} {r.load_s:7.1f} {r.wall_s:7.1f} {r.rtf:6.3f} {r.cpu_s:7.1f} "
              f"{r.calls_per_hour_per_core:12.1f} {r.calls_per_cpu_hour:11.1f} {r.peak_rss_mb:11.0f} {r.failed:6d}")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
