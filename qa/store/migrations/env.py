"""Alembic environment: migrates the database the caller's connection points at (see qa.store.migrate)."""

from __future__ import annotations

from alembic import context

from qa.store.models import Base
from qa.store.search import include_object

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTERs
        compare_type=True,
        include_object=include_object,  # the search index (0006) is not in the models
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("callqa migrations run online only (callqa db upgrade)")
run_migrations_online()
