"""Options and helpers shared by the command modules."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

DbOption = Annotated[Optional[str], typer.Option("--db", help="Database URL (default: CALLQA_DB_URL or the local SQLite file).")]


def open_db(db: str | None) -> str:
    """The database URL to use, with its schema ready; an unusable database is a usage error (exit 2)."""
    from qa.config import get_settings
    from qa.store.db import get_engine

    url = db or get_settings().database_url
    try:
        get_engine(url)
    except Exception as exc:  # noqa: BLE001 - any connection/URL problem is a usage error
        typer.echo(f"cannot open database {url.split('@')[-1]}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2) from None
    return url
