"""Engine and session: the one place that opens database connections."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from qa.config import get_settings
from qa.store import migrate


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the dashboard) never block the ingest writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


_engine_lock = threading.Lock()
_engines: list[Engine] = []


def _forget_inherited_connections() -> None:
    """In a forked child: never reuse the parent's pooled connections (the child opens its own)."""
    for engine in _engines:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def get_engine(url: str | None = None) -> Engine:
    """Engine for `url` (default: the configured database), with the schema created if missing."""
    url = url or get_settings().database_url
    with _engine_lock:
        return _create_engine(url)


def secure_sqlite_file(path: Path) -> None:
    """The database file (password hashes, transcripts, unmasked PII) readable by its owner only: made 0600
    in a 0700 folder when new, tightened when an existing file of ours is readable by others."""
    if str(path) == ":memory:":
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.migrate-lock")):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            p.chmod(st.st_mode & 0o700)


@lru_cache(maxsize=8)
def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        if not url.startswith("sqlite:///file:"):  # a plain path (URI form is used for read-only access)
            secure_sqlite_file(Path(url.removeprefix("sqlite:///")).expanduser())
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    migrate.ensure_schema(engine)  # serialised between processes: a file lock (SQLite) or advisory lock
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///file:"):
        secure_sqlite_file(Path(url.removeprefix("sqlite:///")).expanduser())  # -wal/-shm made by the first connect
    _engines.append(engine)
    return engine


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
