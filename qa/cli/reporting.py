"""Reporting commands: `report` (one call), `verdict` (judge a finding), `agents` (wellbeing table), `alerts`,
and `assess` (re-run compliance, scores and wellbeing on stored calls without re-transcribing)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from qa.cli import app
from qa.cli.options import DbOption, open_db
from qa.text import fmt_offset

JsonOption = Annotated[bool, typer.Option("--json", help="Stable JSON output instead of tables.")]


def _dump(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str))


def _risk_style(risk: float | None) -> str:
    if risk is None:
        return "dim"
    return "bold red" if risk >= 60 else "yellow" if risk >= 30 else "green"


def _print_report(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    risk = r["risk_score"]
    con.print(f"[bold]call {r['call_id']}[/bold]  agent {r['agent_id'] or '-'}  account {r['account_id'] or '-'}  "
              f"callee {r['callee'] or '-'}  {r['direction'] or ''}  {r['jurisdiction'] or ''}  "
              f"started {r['started_local'] or r['started_at'] or '-'}  {(r['duration'] or 0):.1f} s")
    comp = r["complaint_risk"]
    con.print(f"risk [{_risk_style(risk)}]{risk if risk is not None else '-'}[/]/100   complaint risk "
              f"{f'{comp:.0%}' if comp is not None else '-'}")
    if r.get("flagged"):
        con.print("[bold red]flagged for review / 待复核[/bold red] (review threshold reached by / 达到复核阈值: "
                  + "; ".join(f"{x['subtype']} «{x['span']}» {x['score']:.2f} ≥ {x['threshold']:.2f}"
                              for x in r.get("flag_reasons", [])) + ")")
    else:
        con.print("not flagged: no finding reaches its review threshold (findings below are low-confidence) / "
                  "未标记：没有发现达到复核阈值（以下发现为低置信度）")
    if r["reasons"]:
        t = Table(title="why", show_edge=False)
        for col in ("score", "reason", "points", "evidence"):
            t.add_column(col)
        for x in r["reasons"]:
            t.add_row("risk" if x.get("kind") == "risk" else "complaint", x["reason"],
                      f"{x['points']:+.1f}" if x.get("kind") != "risk" else f"{x['points']:.1f}", x.get("evidence", ""))
        con.print(t)
    m = r["measures"] or {}
    if m:
        share = m.get("talk_share", {})
        rate = m.get("speech_rate_sps", {})
        inter = m.get("interruptions", {})
        voice = m.get("voice", {})
        con.print(
            f"talk share agent {share.get('agent', 0):.0%} / customer {share.get('customer', 0):.0%} · "
            f"silence {m.get('silence_s', 0):.0f} s ({m.get('silence_ratio', 0):.0%}), long holds "
            f"{len(m.get('long_holds', []))} · overtalk {m.get('overtalk_s', 0):.1f} s · interruptions agent "
            f"{inter.get('agent', 0)} / customer {inter.get('customer', 0)} · rate (syll/s) agent "
            f"{rate.get('agent') or '-'} / customer {rate.get('customer') or '-'} · ended by "
            f"{m.get('ended_by') or 'unclear'}{' (farewell)' if m.get('ended_with_farewell') else ''}")
        con.print(f"customer anger words {m.get('customer_anger_count', 0)} · complaint intent "
                  f"{m.get('complaint_intent_count', 0)}"
                  + "".join(f" [{h['phrase']} @{fmt_offset(h['start'])}]" for h in m.get("complaint_intent", [])[:5])
                  + f" · agent voice: {voice.get('turns_measured', 0)} turns vs {voice.get('baseline', '-')}"
                  + (f" ({voice.get('baseline_calls')} calls)" if voice.get("baseline") == "agent" else "")
                  + (f", arousal {voice['agent_arousal']:+.2f} SD" if voice.get("agent_arousal") is not None else ""))
    t = Table(title=f"{sum(f['status'] == 'active' for f in r['findings'])} findings", show_lines=False)
    for col in ("time", "speaker", "finding", "score", "why", "source"):
        t.add_column(col, overflow="fold")
    for f in r["findings"]:
        when = f"{fmt_offset(f['start'])}-{fmt_offset(f['end'])}" if f["start"] is not None else ""
        why = f["explanation"] + (f"  «{f['span']}»" if f["span"] else "")
        name = f["subtype"]
        if f["status"] == "superseded":
            name += " [dim](superseded / 已取代)[/dim]"
        elif not f.get("flags_call"):
            name += " [dim](low / 低置信度)[/dim]"
        if f["verdicts"]:
            last = f["verdicts"][-1]
            name += f"\n{last['verdict']} · {last['user']}"
        t.add_row(when, f["speaker"] or "", name, f"{f['score']:.2f}", why, f["source"])
    con.print(t)


@app.command()
def report(
    call_id: Annotated[int, typer.Argument(help="Call id (see `callqa calls`).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """One call: findings with evidence, conversation measures, risk and complaint scores with reasons."""
    from qa.store.db import session_scope
    from qa.views.report import call_report

    with session_scope(open_db(db)) as s:
        data = call_report(s, call_id)
    if data is None:
        typer.echo(f"no call with id {call_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        _dump(data)
    else:
        _print_report(data)


@app.command()
def verdict(
    finding_id: Annotated[int, typer.Argument(help="Finding id (`callqa report CALL_ID --json` lists them).")],
    decision: Annotated[str, typer.Argument(metavar="confirm|dismiss|escalate",
                                            help="confirm, dismiss or escalate the finding.")],
    user: Annotated[str, typer.Option("--user", help="Dashboard user giving the verdict; must be active and hold a "
                                      "role that may judge findings (reviewer, compliance, admin).")],
    note: Annotated[Optional[str], typer.Option("--note", help="A note kept with the verdict.")] = None,
    db: DbOption = None,
) -> None:
    """Judge a finding as a dashboard user: same permission checks and audit trail as the dashboard."""
    from qa.access.auth import PermissionDenied, reload_principal
    from qa.store.db import session_scope
    from qa.views.call import save_verdict
    from qa.views.common import VERDICTS, NotFound

    if decision not in VERDICTS:
        typer.echo(f"verdict must be one of {', '.join(VERDICTS)} / 复核结论须为 {'、'.join(VERDICTS)}", err=True)
        raise typer.Exit(2)
    with session_scope(open_db(db)) as s:
        principal = reload_principal(s, user)
        if principal is None:
            typer.echo(f"no active user named {user!r} / 没有名为 {user!r} 的有效用户", err=True)
            raise typer.Exit(1)
        try:
            verdict_id = save_verdict(s, principal, finding_id, decision, note)
        except PermissionDenied:
            typer.echo(f"user {user!r} (role {principal.role}) may not judge findings / "
                       f"用户 {user!r}（角色 {principal.role}）无权复核标记", err=True)
            raise typer.Exit(1) from None
        except NotFound:
            typer.echo(f"no finding with id {finding_id} / 没有编号为 {finding_id} 的标记", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"finding {finding_id}: {decision} by {user} (verdict {verdict_id})")


@app.command()
def agents(
    db: DbOption = None,
    as_json: JsonOption = False,
    days: Annotated[int, typer.Option(min=1, help="Period in days, ending on the latest stored day.")] = 7,
) -> None:
    """Agent wellbeing: index (0-100, higher is better), abuse received, streaks, stress, hours, alerts."""
    from qa.store.db import session_scope
    from qa.store.reports import agent_table

    with session_scope(open_db(db)) as s:
        rows = agent_table(s, days)
    if as_json:
        _dump(rows)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"agent wellbeing, last {days} days" + (f" to {rows[0]['period'][1]}" if rows else ""))
    cols = [("agent", "agent_id"), ("wellbeing (last day)", "wellbeing_last_day"), ("period avg", "wellbeing_period"),
            ("calls", "calls"), ("hours", "hours_on_calls"), ("abuse", "abuse_count"),
            ("hostile streak", "max_hostile_streak"), ("voice stress", "stress_voice_findings"),
            ("stress z", "stress_z_mean"), ("off shift", "off_shift_calls"), ("short breaks", "short_recoveries"),
            ("open alerts", "open_alerts")]
    for title, _ in cols:
        t.add_column(title)
    t.add_column("main reasons (last day)", overflow="fold")
    for r in rows:
        style = "bold red" if r["wellbeing_last_day"] < 50 else "yellow" if r["wellbeing_last_day"] < 75 else ""
        t.add_row(*[("" if r[k] is None else str(r[k])) for _, k in cols],
                  "; ".join(f"{p['reason']} ({p['value']}): -{p['points']}" for p in r["top_penalties"]),
                  style=style)
    Console().print(t)


@app.command()
def alerts(
    db: DbOption = None,
    as_json: JsonOption = False,
    status: Annotated[str, typer.Option(help="open, acknowledged, closed, or all.")] = "open",
    agent: Annotated[Optional[str], typer.Option(help="Only this agent.")] = None,
) -> None:
    """Agent wellbeing alerts with their evidence (call ids, metrics, thresholds)."""
    from qa.store.db import session_scope
    from qa.store.reports import list_alerts

    with session_scope(open_db(db)) as s:
        rows = list_alerts(s, None if status == "all" else status, agent)
    if as_json:
        _dump(rows)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{len(rows)} {status if status != 'all' else ''} alerts")
    for col in ("day", "agent", "severity", "kind", "message", "evidence"):
        t.add_column(col, overflow="fold")
    colour = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
    for a in rows:
        ev = a["evidence"]
        calls = ev.get("calls")
        evidence = f"{ev.get('metric')}={ev.get('value')} (threshold {ev.get('threshold')})"
        if calls:
            evidence += f"; calls {calls}"
        t.add_row(a["day"] or "", a["agent_id"], f"[{colour.get(a['severity'], '')}]{a['severity']}[/]", a["kind"],
                  a["message"], evidence)
    Console().print(t)


@app.command()
def assess(
    call_id: Annotated[Optional[int], typer.Argument(help="Call id; omit with --all.")] = None,
    all_calls: Annotated[bool, typer.Option("--all", help="Every stored call (status done), oldest first.")] = False,
    db: DbOption = None,
) -> None:
    """Re-run compliance rules, conversation measures, voice-stress markers (stored voice measures), scores
    and wellbeing on stored calls, e.g. after changing a rule pack or ingesting older calls later."""
    from sqlalchemy import select

    from qa.ingest.analysis import reanalyze
    from qa.store.db import session_scope
    from qa.store.models import Call

    if (call_id is None) == (not all_calls):
        typer.echo("give a CALL_ID or --all", err=True)
        raise typer.Exit(2)
    url = open_db(db)
    with session_scope(url) as s:
        ids = [call_id] if call_id is not None else list(s.scalars(
            select(Call.id).where(Call.status == "done").order_by(Call.started_at, Call.id)))
    for i in ids:
        with session_scope(url) as s:
            if s.get(Call, i) is None:
                typer.echo(f"no call with id {i}", err=True)
                raise typer.Exit(1)
            reanalyze(s, i, detect=False)
    typer.echo(f"assessed {len(ids)} call(s)")
