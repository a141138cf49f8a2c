"""Agreement of the automatic QA-form items with the sample calls' intended results, per item.

Intended result of an item on a call: the form's check run over the scripted turns (labels.json: what the
agent was meant to say) with the scripted labels as findings (each turn's `subtypes`) plus the jurisdiction's
compliance rules on the manifest metadata. Automatic result: the full transcript path (`callqa scorecard
--transcript`: detectors with the learned model unless --no-model, conversation measures, compliance) over
  (a) the stored ASR output of the recordings (tests/data/sample_transcripts, from `callqa transcript --json`)
  (b) the scripted text (isolates detector errors from ASR errors).

    PYTHONPATH=$PWD python benchmarks/form_agreement.py [--no-model] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.assess.compliance import CallFacts, check_call, load_pack  # noqa: E402
from qa.assess.conversation import measure  # noqa: E402
from qa.assess.forms import load_forms, score_call_form, select_form  # noqa: E402
from qa.pipeline import score_transcript  # noqa: E402
from qa.records import Finding  # noqa: E402
from tests import forms_helpers as fh  # noqa: E402


def intended(name: str):  # type: ignore[no-untyped-def]
    tr, meta, c = fh.scripted(name), fh.meta(name), fh.labels()[name]
    findings = [Finding(st.split("/")[0], st, t["speaker"], t["start"], t["end"], t["text"], 1.0, "label", "scripted")
                for t in c["turns"] for st in t["subtypes"]]
    conv = measure(tr.segments, tr.duration)
    facts = CallFacts(call_id=None, started_at=meta.started_at, callee=meta.callee, direction=meta.direction,
                      duration=tr.duration, customer_speech_s=conv.customer_speech_s, segments=tr.segments,
                      findings=findings)
    findings += [f for f in check_call(load_pack(meta.jurisdiction), facts, [])
                 if f.label == "compliance/calling_hours"]  # the only rule the labels say nothing about
    form = select_form(load_forms(""), meta)
    return score_call_form(tr, findings, conv.to_json(), meta, form)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-model", action="store_true", help="Detect with rules only (no learned classifier).")
    ap.add_argument("--json", action="store_true", help="Print the per-item table as JSON.")
    args = ap.parse_args()
    stats: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: {"asr": [0, 0], "text": [0, 0]})
    disagreements: list[str] = []
    for name in fh.names():
        want = intended(name)
        got = {"asr": score_transcript(fh.asr(name), fh.meta(name), use_model=not args.no_model),
               "text": score_transcript(fh.scripted(name), fh.meta(name), use_model=not args.no_model)}
        for item in want.items:
            for kind, card in got.items():
                auto = card.item(item.id)
                if item.result == "na" and auto.result == "na":
                    continue
                cell = stats[(want.form, item.id)][kind]
                cell[1] += 1
                cell[0] += auto.result == item.result
                if auto.result != item.result:
                    disagreements.append(f"{kind:4} {name:32} {item.id:24} intended {item.result:4} auto {auto.result}")
    rows = [{"form": f, "item": i, **{f"{k}_agree": v[0] for k, v in s.items()},
             **{f"{k}_n": v[1] for k, v in s.items()}} for (f, i), s in sorted(stats.items())]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'form':16} {'item':24} {'ASR agree':>10} {'text agree':>11}")
    tot = {"asr": [0, 0], "text": [0, 0]}
    for (form, item), s in sorted(stats.items()):
        for k in tot:
            tot[k][0] += s[k][0]
            tot[k][1] += s[k][1]
        print(f"{form:16} {item:24} {s['asr'][0]:>4}/{s['asr'][1]:<5} {s['text'][0]:>5}/{s['text'][1]:<5}")
    print(f"{'all':16} {'':24} {tot['asr'][0]:>4}/{tot['asr'][1]:<5} {tot['text'][0]:>5}/{tot['text'][1]:<5}")
    print("\ndisagreements:")
    print("\n".join(disagreements))


if __name__ == "__main__":
    main()
