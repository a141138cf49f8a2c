"""The callqa store: ORM models, sessions and queries. Only this package knows the database."""

from qa.store.db import get_engine, session_scope

__all__ = ["get_engine", "session_scope"]
