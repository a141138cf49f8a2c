"""Real-time factor and peak memory: callqa's transcription of a call next to bare faster-whisper on the same file.

Each measurement runs in a fresh subprocess so its peak RSS is its own; model loading is timed separately.

    .venv/bin/python benchmarks/transcription.py [FILE ...] [--json]

Default file: the longest call in recordings_sample/. "callqa" = decode + channel split/diarisation + ASR with
guards and Simplified conversion (what `callqa transcribe` does); "bare" = WhisperModel.transcribe on the mono
file with faster-whisper's defaults plus vad_filter, same model folder, int8, same thread count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CALLQA = """
import json, sys, time
t0 = time.perf_counter()
from qa.asr.engine import get_transcriber
from qa.audio import decode
from qa.records import CallMeta
from qa.asr.transcribe import transcribe_call
asr = get_transcriber()
t1 = time.perf_counter()
audio = decode(sys.argv[1])
tr = transcribe_call(audio, CallMeta(), asr)
t2 = time.perf_counter()
import resource
print(json.dumps({"load_s": t1 - t0, "run_s": t2 - t1, "duration": audio.info.duration,
                  "segments": len(tr.segments), "chars": sum(len(s.text) for s in tr.segments),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_BARE = """
import json, sys, time
t0 = time.perf_counter()
from faster_whisper import WhisperModel, decode_audio
from qa.asr.model import resolve_asr_model
from qa.config import get_settings
s = get_settings()
model = WhisperModel(resolve_asr_model(s).path, device="cpu", compute_type="int8", cpu_threads=s.asr_cpu_threads)
t1 = time.perf_counter()
audio = decode_audio(sys.argv[1])
segments, info = model.transcribe(audio, vad_filter=True, word_timestamps=True)
segments = list(segments)
t2 = time.perf_counter()
import resource
print(json.dumps({"load_s": t1 - t0, "run_s": t2 - t1, "duration": info.duration,
                  "segments": len(segments), "chars": sum(len(x.text) for x in segments),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, path: Path) -> dict:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, cwd=REPO)
    result = json.loads(out.stdout.strip().splitlines()[-1])  # peak_rss_mb: the child's own ru_maxrss (KiB on Linux)
    result["rtf"] = round(result["run_s"] / result["duration"], 4)
    return result


def default_file() -> Path:
    from qa.audio import decode

    files = sorted((REPO / "recordings_sample").glob("*.*"))
    audio_files = [f for f in files if f.suffix in {".ogg", ".opus", ".mp3", ".flac", ".wav"}]
    return max(audio_files, key=lambda f: decode(f).info.duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = args.files or [default_file()]
    rows = []
    for f in files:
        bare = _run(_BARE, f)
        ours = _run(_CALLQA, f)
        rows.append({"file": f.name, "duration_s": round(ours["duration"], 1), "bare": bare, "callqa": ours,
                     "callqa_over_bare": round(ours["run_s"] / bare["run_s"], 3)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"{r['file']} ({r['duration_s']} s of audio)")
        for name in ("bare", "callqa"):
            m = r[name]
            print(f"  {name:7s} RTF {m['rtf']:.3f} ({m['run_s']:.1f} s)  load {m['load_s']:.1f} s  "
                  f"peak RSS {m['peak_rss_mb']:.0f} MB  segments {m['segments']}")
        print(f"  callqa / bare time: {r['callqa_over_bare']:.2f}")


if __name__ == "__main__":
    main()
