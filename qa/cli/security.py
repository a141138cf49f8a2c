"""Security commands: `audit verify` (the audit log's hash chain), `purge` and `erase` (retention and
erasure with tombstones), `export-audio` (redacted for roles without the pii right)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from qa.cli import app
from qa.cli.options import DbOption, open_db

audit_app = typer.Typer(help="The audit log: check that no row was changed, inserted or deleted.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")]


@audit_app.command("verify")
def audit_verify(db: DbOption = None,
                 json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False) -> None:
    """Walk the audit log's hash chain. Exit 0 when intact; 1 naming the first bad row otherwise."""
    from qa.access.audit import verify
    from qa.store.db import session_scope

    with session_scope(open_db(db)) as session:
        result = verify(session)
    if json_out:
        typer.echo(json.dumps(result.__dict__))
    elif result.ok:
        typer.echo(f"audit log intact: {result.rows} chained rows, head {result.head_hash[:16]}"
                   + (f" ({result.unchained} older rows from before the chain are not protected)"
                      if result.unchained else ""))
    else:
        where = f"row {result.first_bad_id}" if result.first_bad_id is not None else "end of the log"
        typer.echo(f"audit log TAMPERED at {where}: {result.problem}", err=True)
    raise typer.Exit(0 if result.ok else 1)


def _signed_in(session, name: str, password_stdin: bool, capability: str):  # type: ignore[no-untyped-def]
    """The principal for an operator's dashboard account (password prompted), refusing on failure."""
    from qa.access import audit
    from qa.access.auth import sign_in

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("Password", hide_input=True)
    principal = sign_in(session, name, password)
    if principal is None:
        session.commit()  # the failed attempt stays in the audit log and the throttle
        typer.echo("sign-in failed (or locked for a while after repeated failures)", err=True)
        raise typer.Exit(2)
    if not principal.can(capability):
        audit.record(session, principal.name, "denied", detail={"capability": capability})
        session.commit()
        typer.echo(f"role '{principal.role}' may not use '{capability}'", err=True)
        raise typer.Exit(2)
    return principal


def _report(report, json_out: bool) -> None:  # type: ignore[no-untyped-def]
    data = {"action": report.action, "dry_run": report.dry_run, **report.counts(),
            "refused_open_case_calls": report.refused_open_case, "kept_retention_by_jurisdiction": report.kept_retention}
    if json_out:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    verb = "would remove" if report.dry_run else "removed"
    typer.echo(f"{report.action}: {verb} {report.calls} call(s), {report.segments} transcript segment(s), "
               f"{report.findings} finding(s), {report.verdicts} verdict(s), {report.notes} note(s), "
               f"{report.files} file(s)")
    if report.refused_open_case:
        typer.echo(f"refused {len(report.refused_open_case)} call(s) under an open case: "
                   f"{', '.join(map(str, report.refused_open_case))} (an admin may --force)")
    for code, n in report.kept_retention.items():
        typer.echo(f"kept {n} call(s) younger than the {code} minimum retention")


ForceOption = Annotated[str | None, typer.Option(
    "--force-as", help="Admin user name: also remove calls under an open case (the admin's password is asked).")]


@app.command()
def purge(
    before: Annotated[str | None, typer.Option(help="Remove calls started before this day (YYYY-MM-DD); "
                                                       "default: the site maximum (retention_max_years).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; remove nothing.")] = False,
    force_as: ForceOption = None,
    password_stdin: PasswordStdin = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Remove old calls (transcripts, findings, scores, notes, derived audio), keeping each jurisdiction's
    minimum retention; a tombstone with the counts goes to the audit log."""
    from qa.access.audit import cli_session_id
    from qa.access.retention import purge as do_purge
    from qa.store.db import session_scope

    try:
        day = date.fromisoformat(before) if before else None
    except ValueError:
        typer.echo(f"--before must be a date like 2021-01-31, not {before!r}", err=True)
        raise typer.Exit(2) from None
    with session_scope(open_db(db)) as session:
        actor = _signed_in(session, force_as, password_stdin, "users").name if force_as else cli_session_id()
        report = do_purge(session, actor, day, dry_run=dry_run, force=bool(force_as))
    _report(report, json_out)


@app.command()
def erase(
    account: Annotated[str, typer.Option("--account", help="The account id whose calls are erased (a data "
                                                         "subject's request).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; remove nothing.")] = False,
    force_as: ForceOption = None,
    password_stdin: PasswordStdin = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Erase every call of one account; a tombstone (counts, a hash of the account id) goes to the audit log."""
    from qa.access.audit import cli_session_id
    from qa.access.retention import erase as do_erase
    from qa.store.db import session_scope

    with session_scope(open_db(db)) as session:
        actor = _signed_in(session, force_as, password_stdin, "users").name if force_as else cli_session_id()
        report = do_erase(session, actor, account, dry_run=dry_run, force=bool(force_as))
    _report(report, json_out)


@app.command("export-audio")
def export_audio(
    call_id: Annotated[int, typer.Argument(help="The call whose recording is exported.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The WAV (redacted) or original file to write.")],
    user: Annotated[str, typer.Option("--user", help="Your dashboard user name (its role decides; the password "
                                                     "is asked).")],
    redacted: Annotated[bool, typer.Option("--redacted", help="Spoken personal data replaced by a tone. Without "
                                                              "it only roles that may see personal data export.")] = False,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Export a call's audio, redacted or (for roles with the pii right) original; audited."""
    import shutil as _shutil

    from qa.access.auth import PermissionDenied
    from qa.store.db import session_scope
    from qa.views.call import call_audio
    from qa.views.common import NotFound

    url = open_db(db)
    with session_scope(url) as session:
        principal = _signed_in(session, user, password_stdin, "play_audio")
        session.commit()
        try:
            path = call_audio(session, principal, call_id, "export", redacted=bool(redacted))
        except PermissionDenied:
            session.rollback()
            from qa.access import audit

            audit.record(session, principal.name, "denied", call_id, {"capability": "pii", "query": "export_audio"})
            session.commit()
            typer.echo(f"role '{principal.role}' may export only redacted audio: add --redacted", err=True)
            raise typer.Exit(2) from None
        except NotFound:
            typer.echo(f"no call {call_id}", err=True)
            raise typer.Exit(2) from None
    if path is None:
        typer.echo(f"the recording of call {call_id} is gone", err=True)
        raise typer.Exit(1)
    output.parent.mkdir(parents=True, exist_ok=True)
    _shutil.copyfile(path, output)
    output.chmod(0o600)
    typer.echo(f"wrote {'redacted ' if redacted else 'original '}audio of call {call_id} to {output}")


@app.command("voiceprints")
def voiceprints(
    json_out: Annotated[bool, typer.Option("--json", help="Print the agents as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Which agents have a stored voiceprint (声纹), and in how many calls (CALLQA_AGENT_VOICEPRINTS)."""
    from qa.store.db import session_scope
    from qa.store.reports import voiceprint_holders

    with session_scope(open_db(db)) as session:
        holders = voiceprint_holders(session)
    if json_out:
        typer.echo(json.dumps([{"agent": a, "calls": n} for a, n in holders]))
    elif not holders:
        typer.echo("no voiceprints stored · 未存储声纹")
    else:
        for agent, n in holders:
            typer.echo(f"{agent}: {n} calls · {n} 通通话")


@app.command("forget-voiceprints")
def forget_voiceprints(
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent id's voiceprint (default: every "
                                                             "agent's).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the count as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Delete stored agent voice embeddings (声纹): an agent's request, or a site turning voiceprints off. Mono
    calls are then attributed by content alone until new calls are stored; the deletion goes to the audit log."""
    from qa.access import audit
    from qa.access.audit import cli_session_id
    from qa.store.db import session_scope
    from qa.store.reports import forget_voiceprints as forget

    with session_scope(open_db(db)) as session:
        removed = forget(session, agent)
        audit.record(session, cli_session_id(), "forget_voiceprints", detail={"agent": agent, "calls": removed})
    if json_out:
        typer.echo(json.dumps({"agent": agent, "calls": removed}))
    else:
        typer.echo(f"voice embeddings deleted from {removed} calls · 已删除 {removed} 通通话的声纹")
