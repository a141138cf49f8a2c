"""Admin commands: dashboard users, the dashboard itself, and verdicts exported as training labels."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from qa.cli import app
from qa.cli.options import DbOption, open_db

console = Console()
err = Console(stderr=True)

DASHBOARD_APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"

users_app = typer.Typer(help="Dashboard users: add, list, deactivate, demo accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option(help="agent | reviewer | compliance | manager | admin")],
    team: Annotated[Optional[str], typer.Option(help="Team or teams (A,B): reviewers and managers see only these teams' calls; none: the whole site.")] = None,
    agent_id: Annotated[Optional[str], typer.Option("--agent-id", help="Role agent: the agent id their calls carry (they see only those calls).")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")] = False,
    db: DbOption = None,
) -> None:
    """Create a dashboard user (argon2id password hash)."""
    from qa.access.users import add_user
    from qa.store.db import session_scope

    url = open_db(db)
    password = _read_password(password_stdin)
    try:
        with session_scope(url) as session:
            info = add_user(session, name, role, password, team=team, agent_id=agent_id)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"created user {info.name} ({info.role}{', team ' + info.team if info.team else ''})")


@users_app.command("list")
def users_list(db: DbOption = None) -> None:
    """List dashboard users."""
    from qa.access.users import list_users
    from qa.store.db import session_scope

    with session_scope(open_db(db)) as session:
        users = list_users(session)
    if not users:
        console.print("no users yet: create one with `callqa users add NAME --role admin`")
        return
    table = Table("name", "role", "team", "active", "created")
    for u in users:
        table.add_row(u.name, u.role, u.team or "", "yes" if u.active else "no", f"{u.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@users_app.command("deactivate")
def users_deactivate(name: str, db: DbOption = None) -> None:
    """Block a user from signing in (their open sessions end on the next click)."""
    from qa.access.users import set_active
    from qa.store.db import session_scope

    try:
        with session_scope(open_db(db)) as session:
            set_active(session, name, False)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"deactivated {name}")


@users_app.command("passwd")
def users_passwd(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    db: DbOption = None,
) -> None:
    """Set a new password for a user."""
    from qa.access.users import set_password
    from qa.store.db import session_scope

    url = open_db(db)
    password = _read_password(password_stdin)
    try:
        with session_scope(url) as session:
            set_password(session, name, password)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"password changed for {name}")


@users_app.command("demo")
def users_demo(
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the accounts as JSON.")] = False,
) -> None:
    """Create (or reset) one demo user per role with random passwords and print them. Demo only."""
    from qa.access.users import create_demo_users
    from qa.store.db import session_scope

    with session_scope(open_db(db)) as session:
        accounts = create_demo_users(session)
    if json_out:
        console.print_json(json.dumps([a.__dict__ for a in accounts]))
        return
    table = Table("user", "role", "password", title="demo sign-ins (for a demo only; real sites use `callqa users add`)")
    for a in accounts:
        table.add_row(a.name, a.role, a.password)
    console.print(table)


@app.command()
def dashboard(
    db: DbOption = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to bind (127.0.0.1 keeps it on this machine).")] = "127.0.0.1",
) -> None:
    """Start the review dashboard (Streamlit). No model is loaded in it."""
    url = open_db(db)
    env = {**os.environ, "CALLQA_DB_URL": url}
    cmd = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP),
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
           "--server.headless", "true", "--client.toolbarMode", "viewer", "--server.address", address, "--server.port", str(port)]
    if not DASHBOARD_APP.is_file():
        raise typer.BadParameter(f"the dashboard app is missing from the installed package: {DASHBOARD_APP}")
    console.print(f"dashboard on http://{address}:{port}  (Ctrl+C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    # Become the Streamlit server (same pid): a service manager's SIGTERM then stops the server itself,
    # instead of leaving an orphaned child that keeps the port.
    os.execvpe(sys.executable, cmd, env)


@app.command("export-labels")
def export_labels(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="JSONL file (default: stdout).")] = None,
    mask_pii: Annotated[bool, typer.Option("--mask-pii", help="Mask ID/card/phone numbers and e-mails in the text.")] = False,
    db: DbOption = None,
) -> None:
    """Write reviewers' verdicts as JSONL training labels (text, speaker, label, verdict; latest verdict per finding)."""
    from qa.access import audit
    from qa.store.db import session_scope
    from qa.views.export import iter_training_labels

    url = open_db(db)
    n = 0
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with session_scope(url) as session:
            for row in iter_training_labels(session, mask=mask_pii):
                out.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
                n += 1
            audit.record(session, os.environ.get("USER", "cli"), "export_labels", detail={"labels": n, "masked": mask_pii})
    finally:
        if output:
            out.close()
    if output:
        console.print(f"wrote {n} labels to {output}")
