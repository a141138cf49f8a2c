"""The weekly team QA report as PDF (fpdf2, with a CJK font) or XLSX (openpyxl): scores by agent, item pass
rates and every scored call of the week. Bilingual headings (Chinese / English)."""

from __future__ import annotations

from pathlib import Path

from qa.views.scorecards import TeamWeekReport

#: CJK TrueType fonts tried in order (Debian: fonts-wqy-zenhei, fonts-noto-cjk); CALLQA_REPORT_FONT overrides.
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


class ReportError(RuntimeError):
    pass


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}%"


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _font() -> str:
    import os

    for candidate in (os.environ.get("CALLQA_REPORT_FONT", ""), *CJK_FONTS):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ReportError("no CJK font found for the PDF report: install fonts-wqy-zenhei or set CALLQA_REPORT_FONT "
                      "/ 未找到中文字体：请安装 fonts-wqy-zenhei 或设置 CALLQA_REPORT_FONT")


def write_pdf(report: TeamWeekReport, out: Path) -> Path:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_font("cjk", "", _font())
    pdf.set_font("cjk", size=10)
    pdf.add_page()
    pdf.set_font_size(16)
    pdf.cell(0, 10, f"质检周报 QA weekly report · {report.team} · {report.week}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(10)
    pdf.cell(0, 7, f"通话 Calls: {report.calls}   平均得分 Mean score: {_pct(report.mean_percent)}   "
                   f"致命项不合格 Fatal failures: {report.fatal_calls}", new_x="LMARGIN", new_y="NEXT")
    head = FontFace(emphasis=None, fill_color=(230, 230, 230))

    pdf.ln(3)
    pdf.cell(0, 8, "按坐席 By agent", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(headings_style=head, col_widths=(40, 25, 35, 40)) as table:
        table.row(["坐席 Agent", "通话 Calls", "平均得分 Mean", "致命项 Fatal"])
        for a in report.agents:
            table.row([a.agent_id, str(a.calls), _pct(a.mean_percent), str(a.fatal_calls)])

    pdf.ln(3)
    pdf.cell(0, 8, "按评分项 By item", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(headings_style=head, col_widths=(35, 85, 20, 20)) as table:
        table.row(["评分项 Item", "内容 Text", "适用 N", "通过率 Pass"])
        for i in report.items:
            table.row([i.item_id, i.text, str(i.applicable), _rate(i.rate)])

    pdf.ln(3)
    pdf.cell(0, 8, "通话 Calls", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(headings_style=head, col_widths=(15, 25, 35, 20, 20, 65)) as table:
        table.row(["ID", "坐席 Agent", "时间 Started (UTC)", "得分 Score", "致命 Fatal", "未通过项 Failed items"])
        for r in report.rows:
            table.row([str(r.call_id), r.agent_id or "-", f"{r.started_at:%Y-%m-%d %H:%M}" if r.started_at else "-",
                       _pct(r.percent), "是 yes" if r.fatal_failed else "否 no", ", ".join(r.failed_items)])
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out


def write_xlsx(report: TeamWeekReport, out: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "agents"
    ws.append(["质检周报 QA weekly report", report.team, report.week])
    ws.append(["通话 Calls", report.calls, "平均得分 Mean %", report.mean_percent, "致命项 Fatal", report.fatal_calls])
    ws.append([])
    ws.append(["坐席 Agent", "通话 Calls", "平均得分 Mean %", "致命项 Fatal"])
    for a in report.agents:
        ws.append([a.agent_id, a.calls, a.mean_percent, a.fatal_calls])
    items = wb.create_sheet("items")
    items.append(["评分项 Item", "内容", "Text", "适用 Applicable", "通过 Passed", "通过率 Pass rate"])
    for i in report.items:
        items.append([i.item_id, i.text, i.text_en, i.applicable, i.passed, i.rate])
    calls = wb.create_sheet("calls")
    calls.append(["ID", "坐席 Agent", "时间 Started (UTC)", "表单 Form", "得分 Score", "满分 Max", "得分率 %",
                  "致命 Fatal", "未通过项 Failed items"])
    for r in report.rows:
        calls.append([r.call_id, r.agent_id, r.started_at.replace(tzinfo=None) if r.started_at else None, r.form,
                      r.score, r.max_score, r.percent, r.fatal_failed, ", ".join(r.failed_items)])
    for sheet in wb.worksheets:
        for cell in sheet[1 if sheet.title != "agents" else 4]:
            cell.font = Font(bold=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def write_report(report: TeamWeekReport, out: Path) -> Path:
    """PDF or XLSX by the file's suffix."""
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        return write_pdf(report, out)
    if suffix == ".xlsx":
        return write_xlsx(report, out)
    raise ReportError(f"{out}: the report is written as .pdf or .xlsx / 报告格式须为 .pdf 或 .xlsx")
