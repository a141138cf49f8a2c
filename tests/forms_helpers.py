"""The bundled sample calls as transcripts for the QA-form tests: the scripted turns (what was said, from
labels.json) and the stored ASR output (`callqa transcript --json` of each sample, tests/data/sample_transcripts)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from qa.records import CallMeta, Transcript
from tests.conftest import REPO

SAMPLES = REPO / "recordings_sample"
ASR_TRANSCRIPTS = REPO / "tests" / "data" / "sample_transcripts"
CLEAN = ("en_01_clean_minimiranda", "zh_01_clean_reminder", "zh_02_third_party_callback")


@lru_cache(maxsize=1)
def labels() -> dict[str, dict[str, Any]]:
    return {c["file"].rsplit(".", 1)[0]: c for c in json.loads((SAMPLES / "labels.json").read_text(encoding="utf-8"))}


@lru_cache(maxsize=1)
def manifest() -> dict[str, dict[str, str]]:
    with (SAMPLES / "manifest.csv").open(encoding="utf-8") as fh:
        return {r["file"].rsplit(".", 1)[0]: r for r in csv.DictReader(fh)}


def names() -> list[str]:
    return sorted(labels())


def meta(name: str) -> CallMeta:
    r = manifest()[name]
    return CallMeta(agent_id=r["agent_id"], account_id=r["account_id"], callee=r["callee"],
                    started_at=datetime.fromisoformat(r["started_at"]), direction=r["direction"],
                    jurisdiction=r["jurisdiction"])


def scripted_json(name: str) -> dict[str, Any]:
    """The scripted turns in the `callqa transcript --json` format."""
    c = labels()[name]
    return {"call_id": None, "language": c["language"], "duration": c["duration"],
            "segments": [{"speaker": t["speaker"], "start": t["start"], "end": t["end"], "text": t["text"], "words": []}
                         for t in c["turns"]]}


def scripted(name: str) -> Transcript:
    return Transcript.from_json(scripted_json(name))


def asr(name: str) -> Transcript:
    return Transcript.from_json(json.loads((ASR_TRANSCRIPTS / f"{name}.json").read_text(encoding="utf-8")))
