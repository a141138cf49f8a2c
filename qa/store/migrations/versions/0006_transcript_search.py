"""Transcript search index: SQLite FTS5 trigram table kept in step by triggers; PostgreSQL pg_trgm + short-gram GIN.

SQLite: `segments_fts` is an external-content FTS5 table over segments.text (trigram tokenizer, case-folded),
maintained by insert/update/delete triggers on `segments`; `segments_fts_vocab` lists its trigrams (two-character
searches expand to the trigrams that start with them) and `ix_segments_tail2` indexes each segment's last two
characters (the one place a two-character term has no trigram of its own).
PostgreSQL: a pg_trgm GIN index on segments.text serves ILIKE for terms of three or more characters; a GIN index on
`callqa_grams(text)` (the distinct lower-cased one- and two-character grams) serves shorter terms, and
`ix_calls_queue_order` lets a common term's search stop after one page of calls in queue order.
The search itself is `qa.store.search.call_text_match`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""
from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE segments_fts USING fts5(text, content='segments', content_rowid='id', tokenize='trigram')",
    "CREATE VIRTUAL TABLE segments_fts_vocab USING fts5vocab(segments_fts, row)",
    ("CREATE TRIGGER segments_fts_ai AFTER INSERT ON segments BEGIN "
     "INSERT INTO segments_fts(rowid, text) VALUES (new.id, new.text); END"),
    ("CREATE TRIGGER segments_fts_ad AFTER DELETE ON segments BEGIN "
     "INSERT INTO segments_fts(segments_fts, rowid, text) VALUES ('delete', old.id, old.text); END"),
    ("CREATE TRIGGER segments_fts_au AFTER UPDATE OF id, text ON segments BEGIN "
     "INSERT INTO segments_fts(segments_fts, rowid, text) VALUES ('delete', old.id, old.text); "
     "INSERT INTO segments_fts(rowid, text) VALUES (new.id, new.text); END"),
    "INSERT INTO segments_fts(segments_fts) VALUES ('rebuild')",
    "CREATE INDEX ix_segments_tail2 ON segments (lower(substr(text, -2)))",
]
SQLITE_DOWN = [
    "DROP INDEX IF EXISTS ix_segments_tail2",
    "DROP TRIGGER IF EXISTS segments_fts_au",
    "DROP TRIGGER IF EXISTS segments_fts_ad",
    "DROP TRIGGER IF EXISTS segments_fts_ai",
    "DROP TABLE IF EXISTS segments_fts_vocab",
    "DROP TABLE IF EXISTS segments_fts",
]
PG_GRAMS = """
CREATE OR REPLACE FUNCTION callqa_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}'::text[]) FROM (
    SELECT lower(substr(t, i, 1)) AS g FROM generate_series(1, length(t)) AS i
    UNION ALL
    SELECT lower(substr(t, i, 2)) FROM generate_series(1, length(t) - 1) AS i) AS grams
$$"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for sql in SQLITE_UP:
            op.execute(sql)
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # a trusted extension: the database owner may add it
        schema = bind.exec_driver_sql(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
        op.execute(f"CREATE INDEX ix_segments_text_trgm ON segments USING gin (text {schema}.gin_trgm_ops)")
        op.execute(PG_GRAMS)
        op.execute("CREATE INDEX ix_segments_grams ON segments USING gin (callqa_grams(text))")
        # The queue's order (risk DESC NULLS LAST, id DESC) as an index, so a search that matches many calls walks
        # calls riskiest-first and stops after a page instead of sorting every call (SQLite's planner needs no help).
        op.execute("CREATE INDEX ix_calls_queue_order ON calls (status, risk_score DESC NULLS LAST, id DESC)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for sql in SQLITE_DOWN:
            op.execute(sql)
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_calls_queue_order")
        op.execute("DROP INDEX IF EXISTS ix_segments_grams")
        op.execute("DROP INDEX IF EXISTS ix_segments_text_trgm")
        op.execute("DROP FUNCTION IF EXISTS callqa_grams(text)")
