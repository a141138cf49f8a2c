"""The call-level evaluation set (`qa/data/eval_calls/`) through the real pipeline, for `callqa eval-calls`.

Each call is ingested into a throwaway database exactly as a production call is analysed (detection, compliance,
voice measures, scores, the review threshold): sample calls from their audio (ASR transcripts cached under
`<home>/eval_cache/`, keyed by file hash and ASR model, so re-runs skip recognition), the others from their
transcript. The call's predicted labels are the kinds of the findings that flagged it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from qa.config import Settings, get_settings
from qa.data import DATA_DIR
from qa.records import CallMeta, Segment, Transcript, Word

EVAL_DIR = DATA_DIR / "eval_calls"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Part of the ASR cache key: bump when recognition changes (2: decoding like the bare model, no domain prompt).
ASR_CACHE_VERSION = 2
CALL_LABELS = ("agent_threat", "agent_harassment", "disclosure", "self_harm", "abuse_received", "agent_stress")
#: Calls with any of these must reach the review queue (the issue's goal: >= 95% of them).
MUST_FLAG = ("agent_threat", "agent_harassment", "disclosure", "self_harm")
#: Finding kind (qa.assess.scoring.finding_kind) -> call-level label.
KIND_LABEL = {
    "agent_threat": "agent_threat", "compliance/impersonation": "agent_threat",
    "agent_harassment": "agent_harassment", "third_party_disclosure": "disclosure", "privacy": "disclosure",
    "compliance/third_party_contact": "disclosure", "self_harm": "self_harm", "abuse_received": "abuse_received",
    "agent_stress": "agent_stress",
}


@dataclass
class EvalCall:
    id: str
    split: str
    language: str
    labels: list[str]
    meta: CallMeta
    segments: list[Segment]
    audio: Path | None
    scenario: str = ""


@dataclass
class CallResult:
    id: str
    split: str
    labels: list[str]
    flagged: bool
    predicted: list[str]  # from the findings that flagged the call
    found: list[str]  # from every finding, flagging or not
    reasons: list[str] = field(default_factory=list)
    source: str = "transcript"  # "audio" | "cached audio" | "transcript"


def _meta(raw: dict[str, Any]) -> CallMeta:
    started = raw.get("started_at")
    return CallMeta(agent_id=raw.get("agent_id"), account_id=raw.get("account_id"), callee=raw.get("callee"),
                    started_at=datetime.fromisoformat(started) if started else None,
                    direction=raw.get("direction"), jurisdiction=raw.get("jurisdiction"),
                    agent_channel=raw.get("agent_channel"), team=raw.get("team"), timezone=raw.get("timezone"))


def load_calls(split: str | None = None, folder: Path = EVAL_DIR, ids: list[str] | None = None) -> list[EvalCall]:
    out = []
    for path in sorted(folder.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if (split and raw["split"] != split) or (ids and raw["id"] not in ids):
            continue
        bad = set(raw["labels"]) - set(CALL_LABELS)
        if bad:
            raise ValueError(f"{path}: unknown call labels {sorted(bad)}")
        segs = [Segment(s["speaker"], float(s["start"]), float(s["end"]), s["text"]) for s in raw["segments"]]
        audio = REPO_ROOT / raw["audio"] if raw.get("audio") else None
        out.append(EvalCall(raw["id"], raw["split"], raw["language"], list(raw["labels"]), _meta(raw["meta"]), segs,
                            audio, raw.get("scenario", "")))
    return out


def _cached_transcript(call: EvalCall, settings: Settings) -> tuple[Transcript, Any, str]:
    """(transcript, decoded audio, how) for a call with audio: ASR once, then from the cache."""
    from qa.audio import decode, file_sha256

    assert call.audio is not None
    sha = file_sha256(call.audio)
    audio = decode(call.audio, settings, sha256=sha)
    key = hashlib.sha256(f"{sha}:{settings.asr_model}:{call.meta.agent_channel}:{ASR_CACHE_VERSION}".encode()
                         ).hexdigest()[:24]
    cache = settings.home / "eval_cache" / f"{key}.json"
    if cache.is_file():
        raw = json.loads(cache.read_text(encoding="utf-8"))
        segs = [Segment(s["speaker"], s["start"], s["end"], s["text"],
                        [Word(w["start"], w["end"], w["word"], w.get("probability", 1.0)) for w in s["words"]])
                for s in raw["segments"]]
        return Transcript(None, raw["language"], raw["duration"], segs), audio, "cached audio"
    from qa.pipeline import transcribe

    transcript, _ = transcribe(audio, call.meta, settings)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(transcript.to_json(), ensure_ascii=False), encoding="utf-8")
    return transcript, audio, "audio"


def run_call(call: EvalCall, db_url: str, settings: Settings, use_audio: bool) -> CallResult:
    """One evaluation call through `qa.pipeline.analyze` and stored as ingest stores it (the account's earlier
    evaluation calls are its history, as in production)."""
    from qa.assess.scoring import finding_kind
    from qa.ingest.analysis import read_history, store_analysis
    from qa.pipeline import analyze
    from qa.store import calls as store
    from qa.store.db import session_scope

    audio = None
    how = "transcript"
    if use_audio and call.audio is not None and call.audio.is_file():
        transcript, audio, how = _cached_transcript(call, settings)
        key = audio.info.sha256
    else:
        duration = max((s.end for s in call.segments), default=0.0)
        transcript = Transcript(None, call.language, duration, list(call.segments))
        key = hashlib.sha256(call.id.encode()).hexdigest()
    with session_scope(db_url) as s:
        call_id, _ = store.claim_call(s, f"{key}:{call.id}"[:64], f"eval:{call.id}", call.meta, True)
        assert call_id is not None
        analysis = analyze(transcript, store.load_meta(s, call_id), read_history(s, call_id), settings,
                           audio=audio, call_id=call_id)
        store_analysis(s, call_id, analysis, settings)
        store.mark_done(s, call_id, 0.0)
    reasons = analysis.flag_reasons
    kinds = [finding_kind(f) for f in analysis.findings]
    return CallResult(
        call.id, call.split, call.labels, analysis.flagged,
        sorted({KIND_LABEL[r["kind"]] for r in reasons if r.get("kind") in KIND_LABEL}),
        sorted({KIND_LABEL[k] for k in kinds if k in KIND_LABEL}),
        [f"{r['subtype']} «{r['span']}» {r['score']:.2f}" for r in reasons], how)


def _prf(results: list[CallResult], label: str, attr: str) -> dict[str, Any]:
    tp = sum(1 for r in results if label in r.labels and label in getattr(r, attr))
    fp = sum(1 for r in results if label not in r.labels and label in getattr(r, attr))
    fn = sum(1 for r in results if label in r.labels and label not in getattr(r, attr))
    return {"support": tp + fn, "predicted": tp + fp,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None}


def summarize(results: list[CallResult]) -> dict[str, Any]:
    clean = [r for r in results if not r.labels]
    risky = [r for r in results if set(r.labels) & set(MUST_FLAG)]
    return {
        "calls": len(results),
        "clean_calls": len(clean),
        "clean_flagged": sum(r.flagged for r in clean),
        "clean_flagged_share": round(sum(r.flagged for r in clean) / len(clean), 3) if clean else None,
        "must_flag_calls": len(risky),
        "must_flag_flagged": sum(r.flagged for r in risky),
        "must_flag_flagged_share": round(sum(r.flagged for r in risky) / len(risky), 3) if risky else None,
        "labels": {lab: {"flagged": _prf(results, lab, "predicted"), "any_finding": _prf(results, lab, "found")}
                   for lab in CALL_LABELS},
        "per_call": [r.__dict__ for r in results],
    }


def evaluate(split: str | None = None, use_audio: bool = True, ids: list[str] | None = None,
             settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    calls = load_calls(split, ids=ids)
    with tempfile.TemporaryDirectory(prefix="callqa-eval-") as tmp:
        db_url = f"sqlite:///{tmp}/eval.db"
        results = [run_call(c, db_url, settings, use_audio) for c in calls]
    out = summarize(results)
    out["split"] = split or "all"
    out["mode"] = "audio where present" if use_audio else "reference transcripts"
    return out
