"""Build stored calls (call row, segments, detector findings) the way ingestion leaves them, then assess."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from qa.ingest.analysis import reanalyze
from qa.config import Settings
from qa.store.models import Call, FindingRow, SegmentRow

_hash = itertools.count(1)
CN_OPENING = "您好，我是华信金融公司的客服小王，工号1024，本次通话将全程录音。"
US_OPENING = ("Hi, my name is Dana calling from Acme Recovery Services. This call is recorded. "
              "This is an attempt to collect a debt and any information obtained will be used for that purpose.")


def add_call(session: Session, started_at: datetime, *, jurisdiction: str = "cn", account: str = "A1",
             agent: str | None = "ag1", callee: str | None = "debtor", direction: str = "outbound",
             customer_s: float = 20.0, opening: str | None = None,
             segments: list[tuple[str, float, float, str]] | None = None,
             findings: list[dict[str, Any]] | None = None, assess: bool = True,
             settings: Settings | None = None) -> int:
    """Store a finished call; by default an opening by the agent and `customer_s` seconds of customer speech."""
    opening = opening if opening is not None else (CN_OPENING if jurisdiction == "cn" else US_OPENING)
    if segments is None:
        segments = [("agent", 0.5, 8.0, opening)]
        if customer_s > 0:
            segments.append(("customer", 8.5, 8.5 + customer_s, "嗯，我知道了。"))
    duration = max([e for _, _, e, _ in segments] + [1.0]) + 0.5
    call = Call(content_hash=f"{next(_hash):064x}", path="/x.wav", agent_id=agent, account_id=account, callee=callee,
                started_at=started_at, direction=direction, jurisdiction=jurisdiction, duration=duration,
                channels=2, language="zh" if jurisdiction == "cn" else "en", status="done")
    session.add(call)
    session.flush()
    for i, (spk, s, e, text) in enumerate(segments):
        session.add(SegmentRow(call_id=call.id, idx=i, speaker=spk, channel=0 if spk == "agent" else 1, start=s,
                               end=e, text=text, words=[]))
    for f in findings or []:
        session.add(FindingRow(call_id=call.id, segment_idx=f.get("segment_idx"), label=f["label"],
                               subtype=f.get("subtype", f["label"]), speaker=f.get("speaker"), start=f.get("start"),
                               end=f.get("end"), span=f.get("span", ""), score=f.get("score", 0.9),
                               source=f.get("source", "test-detector"), explanation=f.get("explanation", "test"),
                               details=f.get("details")))
    session.flush()
    if assess:
        assess_stored(session, call.id, settings=settings)
    return call.id


def assess_stored(session: Session, call_id: int, audio: object = None, settings: Settings | None = None) -> None:
    """Re-run everything after detection on a stored call, keeping its stored detector findings (`callqa assess`)."""
    reanalyze(session, call_id, settings, detect=False, audio=audio)  # type: ignore[arg-type]


def threat(start: float, speaker: str = "agent", score: float = 0.95, **details: Any) -> dict[str, Any]:
    return {"label": "threat", "subtype": "threat/violence", "speaker": speaker, "start": start, "end": start + 3,
            "span": "你等着", "score": score, "explanation": "threat of violence", "details": details or None}


def insult_to_agent(start: float, score: float = 0.9) -> dict[str, Any]:
    return {"label": "harassment", "subtype": "harassment/insult", "speaker": "customer", "start": start,
            "end": start + 2, "span": "骗子", "score": score, "explanation": "insult",
            "details": {"direction": "to_agent"}}
