"""Throughput of `callqa classify` on CPU, and the cost of detection per call relative to transcription.

    .venv/bin/python benchmarks/classify.py [--lines 1000] [--input FILE.jsonl] [--rules-only] [--json]
                                            [--compare-onnxruntime | --compare-torch [--cold-sample 500]] [--only-compare]

`--compare-onnxruntime` runs the classifier side by side in one benchmark run on the same inputs, on the default
runtime (the ONNX export on OpenVINO, in bfloat16 where the CPU computes it natively) and on ONNX Runtime in float32
(the runtime before it): the corpus test split and a sample of COLD dev, each runtime in its own process,
alternating onnxruntime, openvino, onnxruntime, openvino so that load from other processes falls on both alike. It
reports wall and CPU seconds and utterances/s per runtime, their ratio, and the agreement of labels and max
|delta p| between the two. `--compare-torch` does the same against the torch encoder the graph was exported from
(the float32 reference).

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
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
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


def comparison_sets(cold_sample: int) -> dict[str, tuple[list[str], list[str]]]:
    """(texts, speakers) of the corpus test split and a seeded sample of COLD dev (when present)."""
    sets: dict[str, tuple[list[str], list[str]]] = {}
    if CORPUS.is_file():
        rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8") if line.strip()]
        test = [r for r in rows if r.get("split") == "test"]
        sets["corpus/test"] = ([r["text"] for r in test], [r.get("speaker", "customer") for r in test])
    if COLD_DEV.is_file() and cold_sample > 0:
        with open(COLD_DEV, encoding="utf-8-sig") as fh:
            cold = [r["TEXT"] for r in csv.DictReader(fh)]
        cold = random.Random(0).sample(cold, min(cold_sample, len(cold)))
        sets["cold/dev sample"] = (cold, ["customer"] * len(cold))
    return sets


_RUNTIME = """
import json, sys, time
import numpy as np
from qa.detect.classifier.model import load_classifier
sets = json.load(open(sys.argv[2], encoding="utf-8"))
t = time.perf_counter()
clf = load_classifier(runtime=sys.argv[1])
load_s = time.perf_counter() - t
clf.predict(["warm-up 预热"], ["agent"])
out, wall, cpu = {}, 0.0, 0.0
for name, (texts, speakers) in sets.items():
    w, c = time.perf_counter(), time.process_time()
    out[name] = clf.predict(texts, speakers)
    wall += time.perf_counter() - w
    cpu += time.process_time() - c
np.savez(sys.argv[3], **out)
print(json.dumps({"load_s": load_s, "wall_s": wall, "cpu_s": cpu,
                  "precision": getattr(clf.encoder, "precision", "f32")}))
"""


def compare_runtimes(sets: dict[str, tuple[list[str], list[str]]], baseline: str = "onnxruntime",
                     rounds: int = 2) -> dict:
    """The classifier on `baseline` and on the default runtime on the same inputs, each in its own process (so that
    neither's idle threads count against the other), alternating baseline, default, ... over `rounds`."""
    import numpy as np

    from qa.detect.classifier.model import DEFAULT_RUNTIME

    ours = DEFAULT_RUNTIME
    totals: dict[str, dict] = {name: {"wall_s": 0.0, "cpu_s": 0.0, "load_s": 0.0} for name in (baseline, ours)}
    probs: dict[str, dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "sets.json"
        inputs.write_text(json.dumps(sets, ensure_ascii=False), encoding="utf-8")
        for _ in range(rounds):
            for name, total in totals.items():
                dest = Path(tmp) / f"{name}.npz"
                proc = subprocess.run([sys.executable, "-c", _RUNTIME, name, str(inputs), str(dest)],
                                      capture_output=True, text=True, cwd=REPO, check=False)
                if proc.returncode != 0:
                    sys.exit(f"{name} run failed: {proc.stderr[-1500:]}")
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                for key in ("wall_s", "cpu_s", "load_s"):
                    total[key] += run[key] / rounds
                total["precision"] = run["precision"]
                with np.load(dest) as z:
                    probs[name] = {k: z[k] for k in z.files}
    from qa.detect.classifier.model import classifier_dir

    meta = json.loads((classifier_dir() / "metadata.json").read_text(encoding="utf-8"))
    t = np.array([meta["thresholds"][k] for k in meta["labels"]])
    out: dict = {"sets": {}, "rounds": rounds}
    n_all = 0
    for set_name, (texts, _) in sets.items():
        p_t, p_o = probs[baseline][set_name], probs[ours][set_name]
        same = ((p_t >= t) == (p_o >= t)).all(axis=1)
        out["sets"][set_name] = {"utterances": len(texts), "label_agreement": round(float(same.mean()), 4),
                                 "max_abs_delta_p": float(np.abs(p_t - p_o).max())}
        n_all += len(texts)
    for tot in totals.values():
        tot.update(utterances_per_s=round(n_all / tot["wall_s"], 1),
                   utterances_per_cpu_s=round(n_all / tot["cpu_s"], 1),
                   wall_s=round(tot["wall_s"], 2), cpu_s=round(tot["cpu_s"], 2), load_s=round(tot["load_s"], 2))
    out["runtimes"] = totals
    out["baseline"] = baseline
    out["runtime"] = ours
    out["utterances"] = n_all
    out["speedup_wall"] = round(totals[baseline]["wall_s"] / totals[ours]["wall_s"], 2)
    out["speedup_cpu"] = round(totals[baseline]["cpu_s"] / totals[ours]["cpu_s"], 2)
    return out


def print_comparison(cmp: dict) -> None:
    print(f"side by side, same {cmp['utterances']} utterances, one process per runtime, alternating, "
          f"mean of {cmp['rounds']} rounds:")
    for name, r in cmp["runtimes"].items():
        print(f"  {name + ' (' + r['precision'] + ')':19s}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU -> {r['utterances_per_s']} utterances/s "
              f"({r['utterances_per_cpu_s']} per CPU-second); load {r['load_s']} s")
    print(f"  {cmp['runtime']} vs {cmp['baseline']}: {cmp['speedup_wall']}x wall, {cmp['speedup_cpu']}x CPU")
    for set_name, s in cmp["sets"].items():
        print(f"  {set_name} ({s['utterances']}): labels agree on {100 * s['label_agreement']:.2f}%, "
              f"max |delta p| {s['max_abs_delta_p']:.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--input", type=Path)
    ap.add_argument("--rules-only", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--compare-onnxruntime", action="store_true",
                    help="also run the default runtime (OpenVINO) and ONNX Runtime (float32, the runtime before) side "
                         "by side on the corpus test split and COLD dev")
    ap.add_argument("--compare-torch", action="store_true",
                    help="the same against the torch encoder (the float32 reference)")
    ap.add_argument("--cold-sample", type=int, default=500, help="COLD dev rows in the side-by-side run")
    ap.add_argument("--only-compare", action="store_true",
                    help="only the side-by-side run (against ONNX Runtime unless --compare-torch)")
    args = ap.parse_args()

    comparison = None
    if args.compare_torch or args.compare_onnxruntime or args.only_compare:
        comparison = compare_runtimes(comparison_sets(args.cold_sample),
                                      baseline="torch" if args.compare_torch else "onnxruntime")
        if args.only_compare:
            print(json.dumps(comparison, indent=2) if args.json else "", end="\n" if args.json else "")
            if not args.json:
                print_comparison(comparison)
            return

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
    if comparison:
        report[f"{comparison['runtime']}_vs_{comparison['baseline']}"] = comparison
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
    if comparison:
        print_comparison(comparison)


if __name__ == "__main__":
    main()
