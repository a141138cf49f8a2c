"""One call, end to end, side by side: `callqa ingest FILE` vs bare faster-whisper on the same file and weights.

    python benchmarks/one_file.py [FILE] [--repeat 3] [--load 2]
    python benchmarks/one_file.py --batch recordings_sample [--workers 2] [--load 2]

Each run is a fresh process, so process start and model loading are included on both sides:
  callqa  `callqa ingest FILE --force --db sqlite:///<temp>` (decode, speakers, ASR, detection, voice measures,
          compliance, scores, the store write), with the repository's settings.
  bare    `WhisperModel(<the same CT2 folder callqa resolves>, device="cpu", compute_type="int8",
          cpu_threads=<callqa's asr_cpu_threads>).transcribe(FILE, beam_size=5, vad_filter=True,
          word_timestamps=True)`, every segment consumed (the file downmixed to mono by faster-whisper).
The two alternate (callqa, bare, callqa, bare, ...) so that drifting load hits both; medians are reported.
Figures: wall seconds, CPU seconds (user + sys of the process and its workers, which other jobs on a shared
machine inflate far less than wall time), peak RSS (os.wait4: the largest of the process and its workers), and callqa/bare ratios.
`--batch FOLDER`: all recordings in FOLDER, callqa as one `callqa ingest FOLDER --workers N` against bare
transcribing the same files one after another in one process.
`--load N`: N CPU-bound busy processes run beside the measured ones for the whole run (a loaded machine).
Without FILE: a 2.5-minute mono Mandarin call concatenated from the shared clips (../shared/data/speech_more).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data"))

BARE = """
import sys, json
from faster_whisper import WhisperModel
model, threads, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
whisper = WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=threads)
words = 0
for f in files:
    segments, _ = whisper.transcribe(f, beam_size=5, vad_filter=True, word_timestamps=True)
    words += sum(len(s.words or []) for s in segments)
print(json.dumps({"words": words}))
"""


def mandarin_call(workdir: Path, seconds: float = 150.0) -> Path:
    """A mono Mandarin recording of at least `seconds`: the shared zh clips, 0.4 s apart, repeated as needed."""
    import numpy as np
    import soundfile as sf

    from qa.audio import decode

    manifest = SHARED / "speech_more" / "manifest.tsv"
    if not manifest.is_file():
        raise SystemExit(f"give a FILE: {manifest} is missing")
    with manifest.open(encoding="utf-8") as fh:
        names = [r["file"] for r in csv.DictReader(fh, delimiter="\t") if r["lang"] == "zh"]
    clips = [decode(SHARED / "speech_more" / n).mono() for n in sorted(names)]
    gap = np.zeros(int(0.4 * 16000), dtype=np.float32)
    parts, total = [], 0.0
    while total < seconds:
        for c in clips:
            parts += [c, gap]
            total += (len(c) + len(gap)) / 16000
            if total >= seconds:
                break
    path = workdir / f"zh_mono_{int(seconds)}s.wav"
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return path


def _burn() -> None:
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2147483648


def _timed(cmd: list[str], log: Path) -> dict[str, float]:
    """Run `cmd`; its wall time, CPU time and peak RSS (os.wait4's rusage: this process and its children only)."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", type=Path, help="one recording (default: a 2.5-minute Mandarin concatenation)")
    ap.add_argument("--batch", type=Path, help="a folder of recordings: batch mode instead of one file")
    ap.add_argument("--workers", type=int, default=2, help="callqa workers in batch mode")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side (medians reported)")
    ap.add_argument("--load", type=int, default=0, help="CPU-bound busy processes to run beside the measurement")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from qa.asr.model import resolve_asr_model
    from qa.audio import find_recordings
    from qa.config import get_settings

    settings = get_settings()
    model = resolve_asr_model(settings).path
    callqa = str(Path(sys.executable).with_name("callqa"))
    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(args.load)]
    with tempfile.TemporaryDirectory(prefix="callqa-onefile-") as tmp:
        work = Path(tmp)
        if args.batch:
            files = [str(f) for f in find_recordings([args.batch])]
            target, extra = [str(args.batch)], ["--workers", str(args.workers)]
        else:
            files = [str(args.file or mandarin_call(work))]
            target, extra = files, ["--workers", "1"]
        for b in burners:
            b.start()
        runs: dict[str, list[dict[str, float]]] = {"callqa": [], "bare": []}
        try:
            for i in range(args.repeat):
                db = f"sqlite:///{work / f'run{i}.db'}"
                runs["callqa"].append(_timed([callqa, "ingest", *target, *extra, "--force", "--db", db], work / "log"))
                runs["bare"].append(_timed([sys.executable, "-c", BARE, str(model), str(settings.asr_cpu_threads),
                                            *files], work / "log"))
        finally:
            for b in burners:
                b.kill()
    med = {side: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s")} for side, rs in runs.items()}
    peak = {side: max(r["peak_rss_mb"] for r in rs) for side, rs in runs.items()}
    report = {"mode": f"batch of {len(files)} ({args.workers} workers)" if args.batch else "one file",
              "files": [Path(f).name for f in files], "repeat": args.repeat, "load_processes": args.load,
              "median": med, "peak_rss_mb": peak,
              "ratio_wall": med["callqa"]["wall_s"] / med["bare"]["wall_s"],
              "ratio_cpu": med["callqa"]["cpu_s"] / med["bare"]["cpu_s"], "runs": runs}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['mode']}: {', '.join(report['files'][:4])}{' ...' if len(files) > 4 else ''}; "
          f"{args.repeat} runs each, {args.load} busy processes beside")
    print(f"{'side':7} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
    for side in ("callqa", "bare"):
        print(f"{side:7} {med[side]['wall_s']:8.1f} {med[side]['cpu_s']:8.1f} {peak[side]:12.0f}")
    print(f"callqa/bare: {report['ratio_wall']:.2f}x wall, {report['ratio_cpu']:.2f}x CPU")


if __name__ == "__main__":
    main()
