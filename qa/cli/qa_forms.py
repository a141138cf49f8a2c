"""QA form commands: `scorecard` (a stored call, or a bare transcript), `forms` (list and validate forms) and
`qa-report` (the weekly team report as PDF or XLSX)."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from qa.cli import app
from qa.cli.options import DbOption, open_db

console = Console()
err = Console(stderr=True)


def _print_card(card, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        typer.echo(json.dumps(card.to_json(), ensure_ascii=False))
        return
    verdict = "[red]致命项不合格 FATAL[/red]" if card.fatal_failed else f"{card.percent or 0:.1f}%"
    console.print(f"[bold]call {card.call_id}[/bold] · {card.form} v{card.form_version} · "
                  f"{card.score:g}/{card.max_score:g} · {verdict}")
    table = Table("section", "item", "result", "auto", "conf.", "evidence")
    colours = {"pass": "green", "fail": "red", "na": "dim"}
    for it in card.items:
        ev = "; ".join(f"{e.start:.1f}s {e.speaker}: {e.text[:60]}" if e.start is not None else e.text[:60]
                       for e in it.evidence[:2])
        table.add_row(it.section, it.id + (" (!)" if it.fatal else ""),
                      f"[{colours[it.result]}]{it.result}[/{colours[it.result]}]", "yes" if it.auto else "no",
                      f"{it.confidence:.2f}", ev)
    console.print(table)


@app.command()
def scorecard(
    call_id: Annotated[Optional[int], typer.Argument(help="Stored call id (see `callqa calls`).")] = None,
    transcript: Annotated[Optional[Path], typer.Option("--transcript", help="Score a transcript in the `callqa transcript --json` format instead; nothing is stored.")] = None,
    form: Annotated[Optional[str], typer.Option("--form", help="Form id (see `callqa forms`); default: the form the call's jurisdiction selects.")] = None,
    callee: Annotated[str, typer.Option(help="--transcript: who was called (debtor, or a relation such as mother, neighbor).")] = "debtor",
    direction: Annotated[str, typer.Option(help="--transcript: outbound or inbound.")] = "outbound",
    jurisdiction: Annotated[Optional[str], typer.Option(help="--transcript: cn, us, ... (default: the site's).")] = None,
    started_at: Annotated[Optional[str], typer.Option(help="--transcript: ISO 8601 start time with offset (enables calling-hour items).")] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="--transcript: detect with rules only (faster; no learned classifier).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON: call_id, form, form_version, score, max_score, fatal_failed, items.")] = False,
    db: DbOption = None,
) -> None:
    """A call's QA scorecard: each form item pass/fail/na with evidence, the score and any fatal failure."""
    from qa.assess.forms import FormError

    if (call_id is None) == (transcript is None):
        err.print("[red]give a CALL_ID or --transcript FILE.json (not both)[/red]")
        raise typer.Exit(2)
    if transcript is not None:
        from qa.config import get_settings
        from qa.pipeline import score_transcript
        from qa.records import CallMeta, Transcript

        try:
            tr = Transcript.from_json(json.loads(transcript.read_text(encoding="utf-8")))
            meta = CallMeta(callee=callee.lower(), direction=direction.lower(),
                            jurisdiction=(jurisdiction or get_settings().default_jurisdiction).lower(),
                            started_at=datetime.fromisoformat(started_at) if started_at else None)
            if meta.started_at is not None and meta.started_at.tzinfo is None:
                raise ValueError("--started-at needs a UTC offset, e.g. 2026-11-02T10:00:00+08:00")
            card = score_transcript(tr, meta, form, use_model=not no_model)
        except (OSError, ValueError, FormError) as exc:
            typer.echo(f"{transcript}: {exc}", err=True)
            raise typer.Exit(2) from None
        _print_card(card, as_json)
        return
    from qa.store import scorecards as store
    from qa.store.db import session_scope

    with session_scope(open_db(db)) as s:
        row = store.scorecard_row(s, call_id, form)  # type: ignore[arg-type]
        card = store.effective_card(row) if row is not None else None
    if card is None:
        err.print(f"[red]call {call_id} has no scorecard{' for form ' + form if form else ''}; "
                  f"score it with `callqa assess {call_id}`[/red]")
        raise typer.Exit(1)
    _print_card(card, as_json)


@app.command()
def forms(
    check: Annotated[Optional[list[Path]], typer.Argument(help="Form files to validate (default: list the forms in use).")] = None,
) -> None:
    """List the QA forms in use (bundled and the site's forms_dir), or validate form files."""
    from qa.assess.forms import FormError, load_form_file, load_forms

    if check:
        bad = 0
        for path in check:
            try:
                f = load_form_file(path)
                console.print(f"[green]ok[/green] {path}: {f.id} v{f.version}, {len(f.items)} items")
            except FormError as exc:
                bad += 1
                typer.echo(str(exc), err=True)  # unwrapped: one line per mistake, easy to grep
        raise typer.Exit(1 if bad else 0)
    try:
        found = load_forms()
    except FormError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    table = Table()
    table.add_column("id", no_wrap=True, min_width=16)
    for col in ("version", "items", "fatal", "selects", "name / file"):
        table.add_column(col)
    for f in found.values():
        table.add_row(f.id, str(f.version), str(len(f.items)), str(sum(i.fatal for i in f.items)),
                      ", ".join(f"{k}={'/'.join(v)}" for k, v in f.select.items()) or "(fallback)",
                      f"{f.name} / {f.name_en}\n{f.file}")
    console.print(table)


@app.command("qa-report")
def qa_report(
    team: Annotated[str, typer.Option(help="Team, as in the manifest's team column.")],
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W45 (Monday to Sunday, UTC).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output file: .pdf or .xlsx.")],
    db: DbOption = None,
) -> None:
    """The weekly team QA report (scores by agent, item pass rates, every scored call) as PDF or XLSX."""
    from qa.access.auth import Principal
    from qa.store.db import session_scope
    from qa.views.qa_report import ReportError, write_report
    from qa.views.scorecards import team_week_report

    if out.suffix.lower() not in (".pdf", ".xlsx"):
        err.print(f"[red]{out}: the report is written as .pdf or .xlsx[/red]")
        raise typer.Exit(2)
    operator = Principal(name=f"cli:{getpass.getuser()}"[:64], role="admin")  # the machine's operator, audited
    try:
        with session_scope(open_db(db)) as s:
            report = team_week_report(s, operator, team, week)
        write_report(report, out)
    except (ValueError, ReportError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"wrote {out}: team {team}, {week}, {report.calls} calls, mean {report.mean_percent or 0:.1f}%")
