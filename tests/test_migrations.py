"""Alembic migrations: an empty database reaches the models' schema, and upgrades keep existing data."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from qa.store import migrate
from qa.store.models import Base
from qa.store.search import include_object

#: The newest revision of the migration scripts (the chain must have exactly one head).
HEAD = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()


def _head(engine) -> str:  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()


def _head(engine) -> str:  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head())


def test_empty_database_migrates_to_the_models_schema(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == _head(engine)
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
    assert migrate.current_revision(engine) == _head(engine)
    with engine.begin() as conn:  # 0004: calls that existed before the review flag are not flagged
        assert conn.execute(text("SELECT flagged FROM calls WHERE content_hash = 'h1'")).scalar_one() in (0, False)


def test_findings_and_verdicts_survive_the_status_migration(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO calls (id, content_hash, path, status, created_at, updated_at) "
                          "VALUES (1, 'h1', '/r/a.wav', 'done', '2026-11-02 02:00:00', '2026-11-02 02:00:00')"))
        conn.execute(text("INSERT INTO findings (id, call_id, label, subtype, span, score, source, explanation, "
                          "created_at) VALUES (7, 1, 'threat', 'threat/violence', 'x', 0.9, 'rule', 'why', "
                          "'2026-11-02 02:00:00')"))
        conn.execute(text("INSERT INTO verdicts (finding_id, \"user\", verdict, note, at) "
                          "VALUES (7, 'rev', 'escalate', 'keep me', '2026-11-02 03:00:00')"))
    migrate.upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, status FROM findings")).one() == (7, "active")
        assert conn.execute(text("SELECT finding_id, verdict, note FROM verdicts")).one() == (7, "escalate", "keep me")
