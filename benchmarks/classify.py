"""Throughput of `callqa classify` on CPU, and the cost of detection per call relative to transcription.

    .venv/bin/python benchmarks/classify.py [--lines 1000] [--input FILE.jsonl] [--rules-only] [--json]

Input: the first N lines of FILE, else qa/data/corpus/collection_corpus.jsonl, else COLD dev
(../shared/data/cold/dev.csv), repeated to N lines if shorter. Measured:
- `callqa classify` as a user runs it (a fresh process: start-up, model load, N lines), and the same command on
  one line, so that load time and per-utterance throughput can be told apart;
- detection on one synthetic 10-minute call (120 utterances of the same texts, both speakers, in one process
  with the model loaded), as seconds of detection per second of audio, and as overhead relative to
  transcription at a real-time factor of 0.1 and 0.3 (what ASR takes on this machine).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "qa" / "data" / "corpus" / "collection_corpus.jsonl"
COLD_DEV = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data")) / "cold" / "dev.csv"

_CALL = """
import json, sys, time
from qa.detect import detect_transcript, get_classifier
from qa.records import CallMeta, Segment, Transcript
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][:120]
use_model = sys.argv[2] == "model"
clf = get_classifier() if use_model else None
segs = [Segment(r["speaker"], 5.0 * i, 5.0 * i + 4.5, r["text"]) for i, r in enumerate(rows)]
tr = Transcript(1, "zh", 5.0 * len(segs), segs)
detect_transcript(tr, CallMeta(), classifier=clf, use_model=use_model)  # warm-up (lexicons, first batch)
t = time.perf_counter()
found = detect_transcript(tr, CallMeta(), classifier=clf, use_model=use_model)
print(json.dumps({"seconds": time.perf_counter() - t, "audio_s": tr.duration, "utterances": len(segs),
                  "findings": len(found)}))
"""


def load_lines(path: Path | None, n: int) -> tuple[list[dict], str]:
    rows: list[dict] = []
    source = ""
    if path or CORPUS.is_file():
        source = str(path or CORPUS)
        with open(source, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    r = json.loads(line)
                    rows.append({"id": str(r.get("id", len(rows))), "text": r["text"],
                                 "speaker": r.get("speaker", "customer")})
    elif COLD_DEV.is_file():
        source = str(COLD_DEV)
        with open(COLD_DEV, encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                rows.append({"id": str(len(rows)), "text": r["TEXT"], "speaker": "customer"})
    if not rows:
        sys.exit("no input: give --input FILE.jsonl (or build qa/data/corpus/collection_corpus.jsonl)")
    out = [dict(rows[i % len(rows)], id=f"u{i}") for i in range(n)]
    return out, source


def run_classify(lines_file: Path, rules_only: bool) -> float:
    exe = Path(sys.executable).with_name("callqa")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "qa.cli"]
    cmd += ["classify", "--input", str(lines_file), "--output", os.devnull] + (["--rules-only"] if rules_only else [])
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"callqa classify failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--input", type=Path)
    ap.add_argument("--rules-only", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    rows, source = load_lines(args.input, args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        many, one = Path(tmp) / "many.jsonl", Path(tmp) / "one.jsonl"
        many.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        one.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n", encoding="utf-8")
        t_one = run_classify(one, args.rules_only)
        t_many = run_classify(many, args.rules_only)
        proc = subprocess.run([sys.executable, "-c", _CALL, str(many), "rules" if args.rules_only else "model"],
                              capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            sys.exit(f"call benchmark failed: {proc.stderr[-1500:]}")
        call = json.loads(proc.stdout.strip().splitlines()[-1])

    per_audio = call["seconds"] / call["audio_s"]
    report = {
        "source": source, "lines": len(rows), "mode": "rules" if args.rules_only else "rules+model",
        "cpu_threads": len(os.sched_getaffinity(0)),
        "classify_total_s": round(t_many, 2), "classify_one_line_s": round(t_one, 2),
        "utterances_per_s_end_to_end": round(len(rows) / t_many, 1),
        "utterances_per_s_after_load": round((len(rows) - 1) / max(1e-6, t_many - t_one), 1),
        "call": {"utterances": call["utterances"], "audio_s": call["audio_s"],
                 "detect_s": round(call["seconds"], 3), "detect_s_per_audio_s": round(per_audio, 4),
                 "overhead_vs_asr_rtf_0.1": round(per_audio / 0.1, 3),
                 "overhead_vs_asr_rtf_0.3": round(per_audio / 0.3, 3)},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"input: {report['lines']} lines from {source} ({report['mode']}, {report['cpu_threads']} CPU threads)")
    print(f"callqa classify: {t_many:.1f} s for {len(rows)} lines (one line: {t_one:.1f} s, mostly start-up and "
          f"model load)")
    print(f"  {report['utterances_per_s_end_to_end']} utterances/s end to end, "
          f"{report['utterances_per_s_after_load']} utterances/s after load")
    c = report["call"]
    print(f"detection on a {c['audio_s'] / 60:.0f}-minute call ({c['utterances']} utterances): {c['detect_s']} s "
          f"= {100 * c['overhead_vs_asr_rtf_0.1']:.1f}% of transcription at RTF 0.1, "
          f"{100 * c['overhead_vs_asr_rtf_0.3']:.1f}% at RTF 0.3")


if __name__ == "__main__":
    main()
