"""Findings and the reviewers' work on them: re-analysis never loses a verdict or a note.

A new analysis's findings are matched to the call's stored findings (same subtype and speaker, overlapping
time; call-level findings without times match on subtype and speaker). A matched row is updated in place, so
its id, verdicts and notes stay. A stored finding that no longer fires is kept as "superseded" when a reviewer
judged or annotated it, and deleted otherwise. Superseded findings are history: shown in the call's record and
exports, never counted in scores, queues or risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.records import LABELS, Finding, VerdictLine
from qa.store.models import ACTIVE, SUPERSEDED, FindingRow, SegmentRow, Verdict

#: The verdicts a reviewer can give.
VERDICTS: tuple[str, ...] = ("confirm", "dismiss", "escalate")


@dataclass
class Reconciled:
    """What `reconcile_findings` did to a call's findings."""

    kept: int  # matched and updated in place (ids, verdicts and notes kept)
    added: int
    superseded: int  # no longer fire, kept for their verdicts or notes
    deleted: int  # no longer fire, no reviewer work


def finding_record(row: FindingRow) -> Finding:
    return Finding(label=row.label, subtype=row.subtype, speaker=row.speaker, start=row.start,  # type: ignore[arg-type]
                   end=row.end, span=row.span, score=row.score, source=row.source, explanation=row.explanation,
                   segment_index=row.segment_idx, details=row.details or {})


def active_findings(session: Session, call_id: int) -> list[Finding]:
    rows = session.scalars(select(FindingRow).where(FindingRow.call_id == call_id, FindingRow.status == ACTIVE)
                           .order_by(FindingRow.id))
    return [finding_record(r) for r in rows]


def _overlap(row: FindingRow, f: Finding) -> float | None:
    """Seconds of overlap (0.0 when they touch); None when they do not overlap. Times unknown on both: 0.0."""
    if row.start is None or f.start is None:
        return 0.0 if row.start is None and f.start is None else None
    a_end = row.end if row.end is not None else row.start
    b_end = f.end if f.end is not None else f.start
    lo, hi = max(row.start, f.start), min(a_end, b_end)
    return hi - lo if hi >= lo else None


def _match(rows: list[FindingRow], f: Finding) -> FindingRow | None:
    """The stored finding `f` re-finds: same subtype and speaker, overlapping most (then nearest start)."""
    best: tuple[float, float, int] | None = None
    found: FindingRow | None = None
    for row in rows:
        if row.subtype != f.subtype or row.label != f.label or row.speaker != f.speaker:
            continue
        ov = _overlap(row, f)
        if ov is None:
            continue
        key = (ov, -abs((row.start or 0.0) - (f.start or 0.0)), -row.id)
        if best is None or key > best:
            best, found = key, row
    return found


def _fill(row: FindingRow, f: Finding) -> None:
    row.segment_idx, row.label, row.subtype, row.speaker = f.segment_index, f.label, f.subtype, f.speaker
    row.start, row.end, row.span, row.score = f.start, f.end, f.span, float(f.score)
    row.source, row.explanation, row.details, row.status = f.source, f.explanation, f.details or None, ACTIVE


def reconcile_findings(session: Session, call_id: int, findings: Sequence[Finding]) -> Reconciled:
    """Make the call's active findings equal `findings`, keeping every verdict and note (see module doc)."""
    rows = list(session.scalars(select(FindingRow).where(FindingRow.call_id == call_id).order_by(FindingRow.id)))
    judged = set(session.scalars(select(Verdict.finding_id).where(
        Verdict.finding_id.in_([r.id for r in rows])))) if rows else set()
    free = list(rows)
    kept = added = 0
    # Findings with times first, strongest first, so a weaker duplicate cannot take a reviewed row's place.
    for f in sorted(findings, key=lambda x: (x.start is None, -float(x.score))):
        row = _match(free, f)
        if row is None:
            row = FindingRow(call_id=call_id)
            session.add(row)
            added += 1
        else:
            free.remove(row)
            kept += 1
        _fill(row, f)
    superseded = deleted = 0
    for row in free:
        if row.id in judged:
            superseded += row.status != SUPERSEDED
            row.status = SUPERSEDED
        else:
            session.delete(row)
            deleted += 1
    session.flush()
    return Reconciled(kept, added, superseded, deleted)


def add_verdict(session: Session, finding_id: int, user: str, verdict: str, note: str | None = None,
                role: str | None = None) -> Verdict:
    """Store one verdict (a new row each time: the history is kept), with the author's role (which decides
    who may close an escalation, `qa.access.authority`). Permission checks, verdict authority and audit are
    the caller's (`qa.views.call.save_verdict`)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    row = Verdict(finding_id=finding_id, user=user, verdict=verdict, role=role, note=(note or "").strip() or None)
    session.add(row)
    session.flush()
    return row


def verdict_history(session: Session, finding_ids: Sequence[int]) -> dict[int, list[Verdict]]:
    """Verdicts per finding, oldest first."""
    out: dict[int, list[Verdict]] = {i: [] for i in finding_ids}
    if finding_ids:
        for v in session.scalars(select(Verdict).where(Verdict.finding_id.in_(list(finding_ids)))
                                 .order_by(Verdict.at, Verdict.id)):
            out[v.finding_id].append(v)
    return out


def latest_judgements(session: Session) -> dict[int, bool]:
    """Each judged finding's latest confirm (True) or dismiss (False) verdict; escalations are not judgements."""
    latest: dict[int, bool] = {}
    for fid, verdict in session.execute(select(Verdict.finding_id, Verdict.verdict).order_by(Verdict.at, Verdict.id)):
        if verdict in ("confirm", "dismiss"):
            latest[fid] = verdict == "confirm"
    return latest


def verdict_lines(session: Session) -> list[VerdictLine]:
    """The latest confirm/dismiss verdict per detector finding (threat/harassment/privacy/stress), with the
    text of the utterance it was raised on: the labels `callqa train --with-verdicts` learns from."""
    latest = latest_judgements(session)
    if not latest:
        return []
    rows = session.execute(
        select(FindingRow.id, FindingRow.label, FindingRow.speaker, SegmentRow.text, SegmentRow.speaker)
        .join(SegmentRow, (SegmentRow.call_id == FindingRow.call_id) & (SegmentRow.idx == FindingRow.segment_idx))
        .where(FindingRow.id.in_(latest), FindingRow.label.in_(LABELS)))
    return [VerdictLine(text, s_speaker or f_speaker or "", label, latest[fid], fid)
            for fid, label, f_speaker, text, s_speaker in rows]
