"""Case export for regulators and internal review: one HTML file and one CSV per call.

Input is a `qa.views.dashboard.CaseFile`, which is already masked for roles without the "pii"
capability, so an export never shows more than its author may see. HTML is rendered by Jinja2 with
autoescaping (transcripts are untrusted text).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from jinja2 import Environment, select_autoescape

from qa.views.dashboard import CallDetail, CaseFile, FindingView

HEADINGS = {
    "en": {"title": "Case file: call {call_id}", "call": "Call", "agent": "Agent", "team": "Team",
           "started": "Started (UTC)", "language": "Language", "jurisdiction": "Jurisdiction", "risk": "Risk score",
           "complaint": "Complaint risk", "reasons": "Why this risk score", "findings": "Findings and verdicts",
           "label": "Label", "subtype": "Subtype", "speaker": "Speaker", "time": "Time (s)", "score": "Score",
           "source": "Rule or model", "why": "Explanation", "excerpt": "Transcript excerpt", "verdicts": "Verdicts",
           "none": "not reviewed", "superseded": "superseded: no longer fires, kept for its verdicts", "notes": "Coaching notes", "audit": "Audit trail", "at": "When (UTC)",
           "user": "User", "action": "Action", "detail": "Detail", "exported": "Exported by {user} at {at} UTC.",
           "masked": "ID, card and phone numbers and e-mails are masked in this export.",
           "transcript": "Full transcript"},
    "zh": {"title": "案件档案：通话 {call_id}", "call": "通话", "agent": "坐席", "team": "团队",
           "started": "开始时间（UTC）", "language": "语言", "jurisdiction": "辖区", "risk": "风险分",
           "complaint": "投诉风险", "reasons": "风险分依据", "findings": "标记与复核结论", "label": "标签",
           "subtype": "子类", "speaker": "说话人", "time": "时间（秒）", "score": "分数", "source": "规则或模型",
           "why": "原因", "excerpt": "转写摘录", "verdicts": "复核结论", "none": "未复核", "superseded": "已取代：重新分析后不再触发，因有复核结论而保留", "notes": "辅导记录",
           "audit": "审计记录", "at": "时间（UTC）", "user": "用户", "action": "操作", "detail": "详情",
           "exported": "由 {user} 于 {at} UTC 导出。", "masked": "本导出中的身份证号、卡号、电话号码和邮箱已遮蔽。",
           "transcript": "完整转写"},
}

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
{% if d.score_reasons %}<h2>{{ h.reasons }}</h2><ul>{% for r in d.score_reasons %}<li>{{ r }}</li>{% endfor %}</ul>{% endif %}
<h2>{{ h.findings }}</h2>
<table><tr><th>#</th><th>{{ h.label }}</th><th>{{ h.speaker }}</th><th>{{ h.time }}</th><th>{{ h.score }}</th>
<th>{{ h.source }}</th><th>{{ h.why }}</th><th>{{ h.excerpt }}</th><th>{{ h.verdicts }}</th></tr>
{% for f, ex in rows %}<tr><td>{{ f.id }}</td><td>{{ f.label }}<br><span class="muted">{{ f.subtype }}</span>{% if f.status == "superseded" %}<br><span class="muted">{{ h.superseded }}</span>{% endif %}</td>
<td>{{ f.speaker or "" }}</td><td>{{ "%.1f"|format(f.start) if f.start is not none else "" }}–{{ "%.1f"|format(f.end) if f.end is not none else "" }}</td>
<td>{{ "%.2f"|format(f.score) }}</td><td>{{ f.source }}</td><td>{{ f.explanation }}</td><td>{{ ex }}</td>
<td>{% for v in f.verdicts %}{{ v.verdict }} · {{ v.user }} · {{ v.at.strftime("%Y-%m-%d %H:%M") }}{% if v.note %}: {{ v.note }}{% endif %}<br>{% else %}{{ h.none }}{% endfor %}</td></tr>
{% endfor %}</table>
{% if d.notes %}<h2>{{ h.notes }}</h2><table><tr><th>{{ h.at }}</th><th>{{ h.user }}</th><th></th></tr>
{% for n in d.notes %}<tr><td>{{ n.at.strftime("%Y-%m-%d %H:%M") }}</td><td>{{ n.author }}</td><td>{{ n.note }}</td></tr>{% endfor %}</table>{% endif %}
<h2>{{ h.transcript }}</h2><table><tr><th>{{ h.time }}</th><th>{{ h.speaker }}</th><th></th></tr>
{% for s in d.segments %}<tr><td>{{ "%.1f"|format(s.start) }}</td><td>{{ s.speaker }}</td><td>{{ s.text }}</td></tr>{% endfor %}</table>
<h2>{{ h.audit }}</h2><table><tr><th>{{ h.at }}</th><th>{{ h.user }}</th><th>{{ h.action }}</th><th>{{ h.detail }}</th></tr>
{% for a in case.audit %}<tr><td>{{ a.at.strftime("%Y-%m-%d %H:%M:%S") }}</td><td>{{ a.user }}</td><td>{{ a.action }}</td>
<td>{{ a.detail or "" }}</td></tr>{% endfor %}</table>
</body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(_TEMPLATE)

CSV_COLUMNS = ("call_id", "agent_id", "started_at", "finding_id", "label", "subtype", "speaker", "start", "end",
               "score", "source", "explanation", "span", "excerpt", "latest_verdict", "verdict_history", "status")


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
    return _template.render(case=case, d=d, rows=rows, h=HEADINGS.get(lang, HEADINGS["en"]), lang=lang)


def render_csv(case: CaseFile) -> str:
    d = case.detail
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for f in d.findings:
        writer.writerow([
            d.call_id, d.agent_id or "", d.started_at.isoformat() if d.started_at else "", f.id, f.label, f.subtype,
            f.speaker or "", f.start if f.start is not None else "", f.end if f.end is not None else "",
            f"{f.score:.3f}", f.source, f.explanation, f.span, excerpt(d, f), f.latest or "",
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
