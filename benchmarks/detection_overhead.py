"""What detection and assessment add to a call's processing time, relative to transcription.

For each file: decode + speaker split + ASR (timed), then detection (rules + classifier), then the
assessment (voice measures, conversation measures, compliance, scores) into a temporary SQLite store
(timed). Models are loaded before timing starts.

    .venv/bin/python benchmarks/detection_overhead.py [FILE ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from qa.asr.engine import get_transcriber
    from qa.audio import decode, file_sha256
    from qa.config import get_settings
    from qa.detect import detect_transcript, get_classifier
    from qa.ingest.analysis import read_history, store_analysis
    from qa.ingest.manifest import read_manifest
    from qa.pipeline import analyze
    from qa.store import calls as store
    from qa.store.db import session_scope
    from qa.asr.transcribe import transcribe_call

    settings = get_settings()
    files = args.files or sorted(p for p in (REPO / "recordings_sample").iterdir()
                                 if p.suffix in {".ogg", ".mp3", ".flac", ".wav"})
    manifest = read_manifest(REPO / "recordings_sample" / "manifest.csv", settings.default_timezone)
    asr = get_transcriber(settings)
    classifier = get_classifier(settings)
    url = f"sqlite:///{tempfile.mkdtemp()}/overhead.db"
    rows = []
    for f in files:
        entry = manifest.get(f.resolve())
        meta = entry.meta if entry else None
        from qa.records import CallMeta

        meta = meta or CallMeta()
        t0 = time.perf_counter()
        audio = decode(f, settings)
        transcript = transcribe_call(audio, meta, asr)
        t1 = time.perf_counter()
        findings = detect_transcript(transcript, meta, settings, classifier=classifier)
        t2 = time.perf_counter()
        with session_scope(url) as s:
            call_id, _ = store.claim_call(s, file_sha256(f), str(f), meta, force=True)
            t3 = time.perf_counter()
            # Everything after detection (voice, conversation, compliance, scores), stored as ingest stores it.
            analysis = analyze(transcript, meta, read_history(s, call_id), settings, audio=audio, detected=findings,
                               call_id=call_id)
            store_analysis(s, call_id, analysis, settings)
            t4 = time.perf_counter()
        rows.append({"file": f.name, "audio_s": round(audio.info.duration, 1), "transcribe_s": round(t1 - t0, 2),
                     "detect_s": round(t2 - t1, 3), "assess_s": round(t4 - t3, 3),
                     "detect_overhead": round((t2 - t1) / (t1 - t0), 4),
                     "detect_and_assess_overhead": round((t2 - t1 + t4 - t3) / (t1 - t0), 4)})
    total = {k: round(sum(r[k] for r in rows), 2) for k in ("audio_s", "transcribe_s", "detect_s", "assess_s")}
    total["detect_overhead"] = round(total["detect_s"] / total["transcribe_s"], 4)
    total["detect_and_assess_overhead"] = round((total["detect_s"] + total["assess_s"]) / total["transcribe_s"], 4)
    if args.json:
        print(json.dumps({"files": rows, "total": total}, indent=2))
        return
    for r in rows:
        print(f"{r['file']:40s} audio {r['audio_s']:6.1f}s  asr {r['transcribe_s']:6.2f}s  detect {r['detect_s']:6.3f}s "
              f"assess {r['assess_s']:6.3f}s  detect/asr {100 * r['detect_overhead']:5.1f}%")
    print(f"total: audio {total['audio_s']} s, transcription {total['transcribe_s']} s, detection {total['detect_s']} s "
          f"({100 * total['detect_overhead']:.1f}%), assessment {total['assess_s']} s; "
          f"detection + assessment {100 * total['detect_and_assess_overhead']:.1f}% of transcription time")


if __name__ == "__main__":
    main()
