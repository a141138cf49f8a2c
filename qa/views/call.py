"""Call detail page: transcript, findings with their verdict history, coaching notes, audio; and the
page's writes (verdicts, coaching notes), each permission-checked and audited."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.access import audit
from qa.access.auth import PermissionDenied, Principal, require
from qa.access.authority import effective_by_finding, may_judge
from qa.access.limits import check_note
from qa.access.redact import PII_SPOKEN
from qa.speakers.attribution import LOW_CONFIDENCE
from qa.store.models import ACTIVE, CoachingNote, FindingRow, SegmentRow, Verdict
from qa.store.reviews import add_verdict
from qa.views.common import VERDICTS, NotFound, get_call, masker
from qa.views.i18n import Bilingual, Named, explanation, reason


@dataclass
class VerdictView:
    id: int
    user: str
    verdict: str
    note: str | None
    at: datetime


@dataclass
class FindingView(Named):
    id: int
    label: str
    subtype: str
    speaker: str | None
    start: float | None
    end: float | None
    span: str
    score: float
    source: str
    explanation: Bilingual  # the stored (English) explanation and its Chinese counterpart
    segment_idx: int | None
    verdicts: list[VerdictView] = field(default_factory=list)
    status: str = ACTIVE  # "superseded": no longer fires, kept for its verdicts (history, not counted)

    @property
    def chip(self) -> str:
        return "compliance" if self.label.startswith("compliance") else self.label

    @property
    def latest(self) -> str | None:
        return self.verdicts[-1].verdict if self.verdicts else None


@dataclass
class SegmentView:
    idx: int
    speaker: str
    start: float
    end: float
    text: str
    voice: dict[str, Any] | None  # per-turn voice measures (JSON as stored)


@dataclass
class NoteView:
    id: int
    call_id: int
    agent_id: str | None
    author: str
    note: str
    at: datetime


@dataclass
class ScoreReason:
    """One contribution to the call's risk or complaint score, in both languages."""

    text: Bilingual
    points: float | None = None
    kind: str | None = None  # "risk" | "complaint"
    evidence: str = ""


@dataclass
class CallDetail:
    call_id: int
    started_at: datetime | None
    agent_id: str | None
    team: str | None
    account_id: str | None
    callee: str | None
    direction: str | None
    language: str | None
    jurisdiction: str | None
    duration: float | None
    status: str
    risk_score: float | None
    complaint_risk: float | None
    score_reasons: list[ScoreReason]
    measures: dict[str, Any]  # conversation measures (JSON as stored)
    audio_available: bool
    masked: bool
    segments: list[SegmentView]
    findings: list[FindingView]
    notes: list[NoteView]
    attribution: float = 1.0  # how sure the speaker roles are (the weakest speaker assignment), 0..1
    attribution_reason: str = ""

    @property
    def attribution_uncertain(self) -> bool:
        return self.attribution < LOW_CONFIDENCE


def call_detail(session: Session, user: Principal, call_id: int) -> CallDetail:
    """One call with transcript, findings, verdicts and notes; PII masked unless the role needs it."""
    require(user, "call")
    call = get_call(session, call_id, user)
    findings = list(session.scalars(
        select(FindingRow).where(FindingRow.call_id == call_id).order_by(FindingRow.start, FindingRow.id)))
    pii_spans = [fr.span for fr in findings if fr.subtype == PII_SPOKEN]
    mask = masker(user, pii_spans)
    verdicts: dict[int, list[VerdictView]] = defaultdict(list)
    if findings:
        for v in session.scalars(select(Verdict).where(Verdict.finding_id.in_([fr.id for fr in findings]))
                                 .order_by(Verdict.at, Verdict.id)):
            verdicts[v.finding_id].append(VerdictView(v.id, v.user, v.verdict, mask(v.note), v.at))
    segments = [SegmentView(s.idx, s.speaker, s.start, s.end, mask(s.text) or "", s.voice)
                for s in session.scalars(select(SegmentRow).where(SegmentRow.call_id == call_id)
                                         .order_by(SegmentRow.start, SegmentRow.idx))]
    weakest = min(call.speakers, key=lambda sp: sp.confidence, default=None)
    return CallDetail(
        attribution=weakest.confidence if weakest else 1.0, attribution_reason=(weakest.reason or "") if weakest else "",
        call_id=call.id, started_at=call.started_at, agent_id=call.agent_id, team=call.team,
        account_id=mask(call.account_id), callee=call.callee, direction=call.direction, language=call.language,
        jurisdiction=call.jurisdiction, duration=call.duration, status=call.status, risk_score=call.risk_score,
        complaint_risk=call.complaint_risk, score_reasons=[_reason(r, mask) for r in call.score_reasons or []],
        measures=call.measures or {}, audio_available=bool(call.path) and Path(call.path).is_file(),
        masked=not user.can("pii"), segments=segments,
        findings=[FindingView(fr.id, fr.label, fr.subtype, fr.speaker, fr.start, fr.end, mask(fr.span) or "",
                              fr.score, fr.source,
                              explanation(fr.subtype, fr.explanation, fr.details).map(lambda t: mask(t) or ""),
                              fr.segment_idx,
                              verdicts.get(fr.id, []), fr.status)
                  for fr in findings],
        notes=[NoteView(n.id, n.call_id, n.agent_id, n.author, mask(n.note) or "", n.at)
               for n in session.scalars(select(CoachingNote).where(CoachingNote.call_id == call_id)
                                        .order_by(CoachingNote.at))],
    )


def _reason(value: Any, mask: Any) -> ScoreReason:
    text = reason(value).map(lambda t: mask(t) or "")
    if isinstance(value, dict):
        points = value.get("points")
        return ScoreReason(text, float(points) if isinstance(points, (int, float)) else None, value.get("kind"),
                           mask(str(value.get("evidence") or "")) or "")
    return ScoreReason(text)


def record_open_call(session: Session, user: Principal, call_id: int) -> None:
    require(user, "call")
    get_call(session, call_id, user)
    audit.record(session, user.name, "open_call", call_id)


def pii_audio_spans(session: Session, call_id: int) -> list[tuple[float, float]]:
    """(start, end) seconds of every active spoken-PII finding of a call (the segment's times when it has none)."""
    spans: list[tuple[float, float]] = []
    segs = {s.idx: (s.start, s.end) for s in session.scalars(select(SegmentRow).where(SegmentRow.call_id == call_id))}
    for fr in session.scalars(select(FindingRow).where(FindingRow.call_id == call_id, FindingRow.subtype == PII_SPOKEN,
                                                       FindingRow.status == ACTIVE)):
        if fr.start is not None and fr.end is not None:
            spans.append((float(fr.start), float(fr.end)))
        elif fr.segment_idx in segs:
            spans.append(segs[fr.segment_idx])
    return sorted(spans)


def call_audio(session: Session, user: Principal, call_id: int, purpose: str = "play",
               start: float | None = None, finding_id: int | None = None, redacted: bool | None = None) -> str | None:
    """The audio file a user may hear or export for a call, audited; None when the recording is gone.

    Roles with the "pii" right get the original (audited as play_original / export_audio with original);
    every other role gets the redacted copy, each spoken-PII span replaced by a tone, derived once and kept
    with the call (regenerated when the findings change). `redacted=True` asks for the redacted copy whatever
    the role; `redacted=False` demands the original (PermissionDenied without "pii").
    """
    from qa.audio import redacted_copy
    from qa.config import get_settings

    require(user, "play_audio")
    call = get_call(session, call_id, user)
    if redacted is False:
        require(user, "pii")
    original = user.can("pii") and not redacted
    detail = {"start": round(start, 2) if start is not None else None, "finding_id": finding_id,
              "redacted": not original}
    action = "export_audio" if purpose == "export" else ("play_original" if original else "play_audio")
    audit.record(session, user.name, action, call_id, detail)
    if not (call.path and Path(call.path).is_file()):
        return None
    if original:
        return call.path
    return str(redacted_copy(call.path, pii_audio_spans(session, call_id), get_settings().derived_dir / str(call_id)))


def audio_for_playback(session: Session, user: Principal, call_id: int, start: float | None = None,
                       finding_id: int | None = None) -> str | None:
    """The recording for the player (redacted for roles without "pii"), audited; None when the file is gone."""
    return call_audio(session, user, call_id, "play", start, finding_id)


def save_verdict(session: Session, user: Principal, finding_id: int, verdict: str, note: str | None = None) -> int:
    """Store a verdict (a new row each time: the history is kept) and audit it; returns its id."""
    require(user, "verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    finding = session.get(FindingRow, finding_id)
    if finding is None:
        raise NotFound(f"finding {finding_id} does not exist")
    get_call(session, finding.call_id, user)
    note = check_note(note, "verdict note")
    current = effective_by_finding(session, [finding_id]).get(finding_id)
    if current is not None and not may_judge(user.role, current):
        # an escalation by compliance is closed only by compliance or an admin
        raise PermissionDenied(user.role, "close_escalation")
    row = add_verdict(session, finding_id, user.name, verdict, note, role=user.role)
    audit.record(session, user.name, "verdict", finding.call_id,
                 {"finding_id": finding_id, "verdict": verdict, "label": finding.label, "verdict_id": row.id})
    return row.id


def add_coaching_note(session: Session, user: Principal, call_id: int, note: str) -> int:
    require(user, "coaching")
    note = check_note(note, "coaching note")
    if not note:
        raise ValueError("the coaching note is empty")
    call = get_call(session, call_id, user)
    row = CoachingNote(call_id=call_id, agent_id=call.agent_id, author=user.name, note=note)
    session.add(row)
    session.flush()
    audit.record(session, user.name, "coaching_note", call_id, {"note_id": row.id})
    return row.id
