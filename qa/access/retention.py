"""Retention and erasure: `callqa purge` (records past the site maximum or a date) and `callqa erase`
(every call of one account, on a data subject's request, PIPL art. 47).

Both remove the calls' transcripts, findings, verdicts, scores, coaching notes, ingestion records, derived
audio (redacted copies) and managed audio copies (originals under `managed_audio_dir`; recordings callqa
does not own are never touched), and leave a tombstone in the audit log: who, when, counts, never content.
Calls under an open compliance case are refused unless an admin forces it. Purge also keeps every call
younger than its jurisdiction's minimum retention (rule packs: `record_keeping.retention_years`).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from qa.access import audit
from qa.access.authority import open_case_call_ids
from qa.assess.compliance.packs import RulePackError, load_pack
from qa.config import get_settings
from qa.store.models import (
    Call,
    CoachingNote,
    FindingRow,
    IngestionEvent,
    SegmentRow,
    Verdict,
)


@dataclass
class ErasureReport:
    """What a purge or erase removed (or would remove, on a dry run)."""

    action: str  # purge | erase
    dry_run: bool
    calls: int = 0
    segments: int = 0
    findings: int = 0
    verdicts: int = 0
    notes: int = 0
    files: int = 0
    refused_open_case: list[int] = field(default_factory=list)
    kept_retention: dict[str, int] = field(default_factory=dict)  # jurisdiction -> calls kept (under minimum)
    call_ids: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"calls": self.calls, "segments": self.segments, "findings": self.findings,
                "verdicts": self.verdicts, "notes": self.notes, "files": self.files,
                "refused_open_case": len(self.refused_open_case),
                "kept_retention": sum(self.kept_retention.values())}


def minimum_years(jurisdiction: str | None) -> float:
    """The jurisdiction's minimum retention in years (0 when its pack sets none)."""
    try:
        pack = load_pack(jurisdiction or get_settings().default_jurisdiction)
    except RulePackError:
        return 0.0
    rule = pack.rule("record_keeping")
    years = rule.get("retention_years") if rule is not None else None
    return float(years or 0.0)


def _years_ago(years: float, now: datetime) -> datetime:
    return now - timedelta(days=365.25 * years)


def call_files(call: Call) -> list[Path]:
    """Files callqa owns for a call: its derived folder and, under managed_audio_dir, the original."""
    settings = get_settings()
    files: list[Path] = []
    derived = settings.derived_dir / str(call.id)
    if derived.is_dir():
        files += sorted(p for p in derived.rglob("*") if p.is_file())
    if settings.managed_audio_dir and call.path:
        root = Path(settings.managed_audio_dir).expanduser().resolve()
        original = Path(call.path).expanduser().resolve()
        if original.is_file() and original.is_relative_to(root):
            files.append(original)
    return files


def _remove(session: Session, calls: list[Call], report: ErasureReport) -> None:
    ids = [c.id for c in calls]
    report.call_ids = ids
    report.calls = len(ids)
    if not ids:
        return
    report.segments = session.scalar(select(func.count(SegmentRow.id)).where(SegmentRow.call_id.in_(ids))) or 0
    report.findings = session.scalar(select(func.count(FindingRow.id)).where(FindingRow.call_id.in_(ids))) or 0
    report.verdicts = session.scalar(select(func.count(Verdict.id)).join(FindingRow)
                                     .where(FindingRow.call_id.in_(ids))) or 0
    report.notes = session.scalar(select(func.count(CoachingNote.id)).where(CoachingNote.call_id.in_(ids))) or 0
    files = [f for c in calls for f in call_files(c)]
    report.files = len(files)
    if report.dry_run:
        return
    hashes = [c.content_hash for c in calls]
    session.execute(delete(IngestionEvent).where(or_(IngestionEvent.call_id.in_(ids),
                                                     IngestionEvent.content_hash.in_(hashes))))
    session.execute(delete(CoachingNote).where(CoachingNote.call_id.in_(ids)))
    for call in calls:
        session.delete(call)  # segments, speakers, findings and their verdicts go with it (cascade)
    session.flush()
    for f in files:
        f.unlink(missing_ok=True)
    for call in calls:
        shutil.rmtree(get_settings().derived_dir / str(call.id), ignore_errors=True)


def _split_open_cases(session: Session, calls: list[Call], force: bool, report: ErasureReport) -> list[Call]:
    open_ids = open_case_call_ids(session, [c.id for c in calls])
    if force:
        return calls
    report.refused_open_case = sorted(open_ids)
    return [c for c in calls if c.id not in open_ids]


def purge(session: Session, actor: str, before: date | None = None, dry_run: bool = False, force: bool = False,
          now: datetime | None = None) -> ErasureReport:
    """Remove calls started before `before` (default: the site maximum, `retention_max_years`), except those
    younger than their jurisdiction's minimum retention and (unless `force`) those under an open case."""
    now = now or datetime.now(UTC)
    cutoff = (datetime.combine(before, time.min, tzinfo=UTC) if before
              else _years_ago(get_settings().retention_max_years, now))
    report = ErasureReport("purge", dry_run)
    when = func.coalesce(Call.started_at, Call.created_at)
    candidates = list(session.scalars(select(Call).where(when < cutoff).order_by(Call.id)))
    eligible: list[Call] = []
    for call in candidates:
        started = call.started_at or call.created_at
        years = minimum_years(call.jurisdiction)
        if years and started > _years_ago(years, now):
            key = call.jurisdiction or get_settings().default_jurisdiction
            report.kept_retention[key] = report.kept_retention.get(key, 0) + 1
            continue
        eligible.append(call)
    _remove(session, _split_open_cases(session, eligible, force, report), report)
    audit.record(session, actor, "purge", detail={**report.counts(), "before": cutoff.date().isoformat(),
                                                  "dry_run": dry_run, "forced": force})
    return report


def erase(session: Session, actor: str, account_id: str, dry_run: bool = False, force: bool = False) -> ErasureReport:
    """Remove every call of `account_id` (refusing those under an open case unless `force`)."""
    report = ErasureReport("erase", dry_run)
    calls = list(session.scalars(select(Call).where(Call.account_id == account_id).order_by(Call.id)))
    _remove(session, _split_open_cases(session, calls, force, report), report)
    # the account id itself is personal data: the tombstone holds a hash of it, to answer "was it erased?"
    account_hash = hashlib.sha256(account_id.encode("utf-8")).hexdigest()[:16]
    audit.record(session, actor, "erase", detail={**report.counts(), "account_sha256": account_hash,
                                                  "dry_run": dry_run, "forced": force})
    return report
