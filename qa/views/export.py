"""Case export for regulators and internal review: one HTML file and one CSV per call.

A `CaseFile` (from `case_file`) is already masked for roles without the "pii" capability, so an
export never shows more than its author may see. HTML is rendered by Jinja2 with autoescaping
(transcripts are untrusted text). Also the training-label export behind `callqa export-labels`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from qa.access import audit
from qa.access.auth import Principal, require
from qa.access.redact import PII_SPOKEN, mask_pii
from qa.store.models import Call, FindingRow, SegmentRow
from qa.views.audit import AuditRow, call_trail
from qa.views.call import CallDetail, FindingView, call_detail
from qa.views.common import latest_verdict_subquery
from qa.views.i18n import text


@dataclass
class CaseFile:
    detail: CallDetail
    audit: list[AuditRow]
    exported_by: str
    exported_at: datetime
    masked: bool


def case_file(session: Session, user: Principal, call_id: int) -> CaseFile:
    """Everything a case export holds, audited as "export"; masked for roles without "pii"."""
    require(user, "export")
    detail = call_detail(session, user, call_id)
    audit.record(session, user.name, "export", call_id, {"format": "case"})
    return CaseFile(detail=detail, audit=call_trail(session, call_id), exported_by=user.name,
                    exported_at=datetime.now(UTC), masked=detail.masked)

EXPORT_HEADINGS: tuple[str, ...] = (
    "title", "call", "agent", "team", "started", "language", "jurisdiction", "risk", "complaint", "reasons",
    "findings", "label", "subtype", "speaker", "time", "score", "source", "why", "excerpt", "verdicts", "none",
    "notes", "audit", "at", "user", "action", "detail", "exported", "masked", "transcript",
)


def headings(lang: str) -> dict[str, str]:
    """The export's headings in `lang`, from qa/data/i18n.yaml (keys export:<heading>)."""
    out = {}
    for key in EXPORT_HEADINGS:
        found = text(f"export:{key}")
        out[key] = found.get(lang) if found is not None else key
    return out

_TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ h.title.format(call_id=d.call_id) }}</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 6px;
vertical-align:top;text-align:left;font-size:0.9em}th{background:#f3f3f3}.muted{color:#666;font-size:0.85em}
</style></head><body>
<h1>{{ h.title.format(call_id=d.call_id) }}</h1>
<p class="muted">{{ h.exported.format(user=case.exported_by, at=case.exported_at.strftime("%Y-%m-%d %H:%M")) }}
{% if case.masked %}<br>{{ h.masked }}{% endif %}</p>
<table>
<tr><th>{{ h.agent }}</th><td>{{ d.agent_id or "" }}</td><th>{{ h.team }}</th><td>{{ d.team or "" }}</td></tr>
<tr><th>{{ h.started }}</th><td>{{ d.started_at.strftime("%Y-%m-%d %H:%M") if d.started_at else "" }}</td>
<th>{{ h.language }} / {{ h.jurisdiction }}</th><td>{{ d.language or "" }} / {{ d.jurisdiction or "" }}</td></tr>
<tr><th>{{ h.risk }}</th><td>{{ "%.1f"|format(d.risk_score) if d.risk_score is not none else "" }}</td>
<th>{{ h.complaint }}</th><td>{{ "%.2f"|format(d.complaint_risk) if d.complaint_risk is not none else "" }}</td></tr>
</table>
{% if d.score_reasons %}<h2>{{ h.reasons }}</h2><ul>{% for r in d.score_reasons %}<li>{{ r.text.get(lang) }}{% if r.points is not none and r.kind == "risk" %} (+{{ "%g"|format(r.points) }}){% endif %}{% if r.evidence %} · {{ r.evidence }}{% endif %}</li>{% endfor %}</ul>{% endif %}
<h2>{{ h.findings }}</h2>
<table><tr><th>#</th><th>{{ h.label }}</th><th>{{ h.speaker }}</th><th>{{ h.time }}</th><th>{{ h.score }}</th>
<th>{{ h.source }}</th><th>{{ h.why }}</th><th>{{ h.excerpt }}</th><th>{{ h.verdicts }}</th></tr>
{% for f, ex in rows %}<tr><td>{{ f.id }}</td><td>{{ f.label_name.get(lang) }}<br><span class="muted">{{ f.subtype_name.get(lang) }}</span>{% if f.status == "superseded" %}<br><span class="muted">{{ h.superseded }}</span>{% endif %}</td>
<td>{{ word("speaker_" ~ f.speaker) if f.speaker else "" }}</td><td>{{ "%.1f"|format(f.start) if f.start is not none else "" }}–{{ "%.1f"|format(f.end) if f.end is not none else "" }}</td>
<td>{{ "%.2f"|format(f.score) }}</td><td>{{ f.source_name.get(lang) }}</td><td>{{ f.explanation.get(lang) }}</td><td>{{ ex }}</td>
<td>{% for v in f.verdicts %}{{ word("verdict_" ~ v.verdict) }} · {{ v.user }} · {{ v.at.strftime("%Y-%m-%d %H:%M") }}{% if v.note %}: {{ v.note }}{% endif %}<br>{% else %}{{ h.none }}{% endfor %}</td></tr>
{% endfor %}</table>
{% if d.notes %}<h2>{{ h.notes }}</h2><table><tr><th>{{ h.at }}</th><th>{{ h.user }}</th><th></th></tr>
{% for n in d.notes %}<tr><td>{{ n.at.strftime("%Y-%m-%d %H:%M") }}</td><td>{{ n.author }}</td><td>{{ n.note }}</td></tr>{% endfor %}</table>{% endif %}
<h2>{{ h.transcript }}</h2><table><tr><th>{{ h.time }}</th><th>{{ h.speaker }}</th><th></th></tr>
{% for s in d.segments %}<tr><td>{{ "%.1f"|format(s.start) }}</td><td>{{ word("speaker_" ~ s.speaker) }}</td><td>{{ s.text }}</td></tr>{% endfor %}</table>
<h2>{{ h.audit }}</h2><table><tr><th>{{ h.at }}</th><th>{{ h.user }}</th><th>{{ h.action }}</th><th>{{ h.detail }}</th></tr>
{% for a in case.audit %}<tr><td>{{ a.at.strftime("%Y-%m-%d %H:%M:%S") }}</td><td>{{ a.user }}</td><td>{{ a.action_name.get(lang) }} <span class="muted">{{ a.action }}</span></td>
<td>{{ a.detail or "" }}</td></tr>{% endfor %}</table>
</body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(_TEMPLATE)

CSV_COLUMNS = ("call_id", "agent_id", "started_at", "finding_id", "label", "subtype", "subtype_zh", "speaker", "start",
               "end", "score", "source", "explanation", "explanation_zh", "span", "excerpt", "latest_verdict",
               "verdict_history", "status")


def excerpt(detail: CallDetail, finding: FindingView, context: int = 1) -> str:
    """The flagged turn with `context` turns either side, as "speaker: text" lines."""
    segs = detail.segments
    if not segs:
        return finding.span
    if finding.segment_idx is not None:
        pos = next((i for i, s in enumerate(segs) if s.idx == finding.segment_idx), None)
    else:
        pos = None
    if pos is None and finding.start is not None:
        pos = min(range(len(segs)), key=lambda i: abs(segs[i].start - finding.start))  # type: ignore[operator]
    if pos is None:
        return finding.span
    return "\n".join(f"[{s.start:.1f}s] {s.speaker}: {s.text}"
                     for s in segs[max(0, pos - context): pos + context + 1])


def render_html(case: CaseFile, lang: str = "en") -> str:
    d = case.detail
    rows = [(f, excerpt(d, f)) for f in d.findings]
    def word(key: str) -> str:
        found = text(key)
        return found.get(lang) if found is not None else key.partition("_")[2]

    return _template.render(case=case, d=d, rows=rows, h=headings(lang), lang=lang, word=word)


def render_csv(case: CaseFile) -> str:
    d = case.detail
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for f in d.findings:
        writer.writerow([
            d.call_id, d.agent_id or "", d.started_at.isoformat() if d.started_at else "", f.id, f.label, f.subtype,
            f.subtype_name.zh, f.speaker or "", f.start if f.start is not None else "",
            f.end if f.end is not None else "", f"{f.score:.3f}", f.source, f.explanation.en, f.explanation.zh,
            f.span, excerpt(d, f), f.latest or "",
            "; ".join(f"{v.at:%Y-%m-%d %H:%M} {v.user} {v.verdict}" + (f" ({v.note})" if v.note else "")
                      for v in f.verdicts),
            f.status,
        ])
    return buf.getvalue()


def write_case(case: CaseFile, folder: Path, lang: str = "en") -> tuple[Path, Path]:
    """Write `case_<id>.html` and `case_<id>.csv` (UTF-8 with BOM, so Excel shows Chinese) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"case_{case.detail.call_id}.html"
    csv_path = folder / f"case_{case.detail.call_id}.csv"
    html_path.write_text(render_html(case, lang), encoding="utf-8")
    csv_path.write_text(render_csv(case), encoding="utf-8-sig")
    return html_path, csv_path


# ---------------------------------------------------------------- training labels (CLI, not role-scoped)


@dataclass
class TrainingLabel:
    """One reviewed finding as a training example: the utterance, its label and the latest verdict."""

    text: str
    span: str
    speaker: str | None
    label: str
    subtype: str
    verdict: str
    finding_id: int
    call_id: int
    language: str | None
    source: str
    score: float
    start: float | None
    end: float | None
    reviewer: str
    at: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def iter_training_labels(session: Session, mask: bool = False, batch: int = 1000) -> Iterator[TrainingLabel]:
    """Latest verdict per finding as a training label.

    Used by `callqa export-labels` (an operator command with database access, so not role-scoped).
    """
    lv = latest_verdict_subquery()
    seg = SegmentRow
    stmt = (
        select(FindingRow.id, FindingRow.call_id, FindingRow.label, FindingRow.subtype, FindingRow.speaker,
               FindingRow.span, FindingRow.source, FindingRow.score, FindingRow.start, FindingRow.end,
               lv.c.verdict, lv.c.user, lv.c.at, Call.language, seg.text)
        .join(lv, lv.c.finding_id == FindingRow.id).join(Call, Call.id == FindingRow.call_id)
        .outerjoin(seg, and_(seg.call_id == FindingRow.call_id, seg.idx == FindingRow.segment_idx))
        .order_by(FindingRow.id)
    )
    for r in session.execute(stmt.execution_options(yield_per=batch)):
        (fid, cid, label, subtype, speaker, span, source, score, start, end, verdict, vuser, vat,
         language, text) = r
        spans = [span] if subtype == PII_SPOKEN else []
        text = text if text is not None else span
        yield TrainingLabel(
            text=mask_pii(text, spans) if mask else text, span=mask_pii(span, spans) if mask else span,
            speaker=speaker, label=label, subtype=subtype, verdict=verdict, finding_id=fid, call_id=cid,
            language=language, source=source, score=score, start=start, end=end, reviewer=vuser,
            at=vat.isoformat() if vat else None,
        )
