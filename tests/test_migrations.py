"""Alembic migrations: an empty database reaches the models' schema, and upgrades keep existing data."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from qa.store import migrate
from qa.store.models import Base
from qa.store.search import include_object

HEAD = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()


def test_empty_database_migrates_to_the_models_schema(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"include_object": include_object}), Base.metadata)
    assert diffs == []


def test_upgrade_between_versions_keeps_data(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO calls (content_hash, path, status, created_at, updated_at) "
            "VALUES ('h1', '/r/a.wav', 'done', '2026-11-02 02:00:00', '2026-11-02 02:00:00')"
        ))
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE calls SET timezone = 'America/Chicago', claimed_by = NULL WHERE content_hash = 'h1'"))
        row = conn.execute(text("SELECT path, status, timezone FROM calls WHERE content_hash = 'h1'")).one()
    assert tuple(row) == ("/r/a.wav", "done", "America/Chicago")
    assert migrate.current_revision(engine) == HEAD
