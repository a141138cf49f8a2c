"""Transcript text search through the index of migration 0006 (the one implementation of "segment text contains").

Semantics are those of `segments.text ILIKE '%term%'` (wildcards in the term are literal). The index only narrows
the candidate segments; every candidate is re-checked with that ILIKE, so results are identical with or without it.

- SQLite, 3+ characters: an FTS5 trigram phrase query on `segments_fts`.
- SQLite, 2 characters: the FTS5 trigrams that start with the pair (from `segments_fts_vocab`), plus segments whose
  last two characters are the pair (`ix_segments_tail2`), the only place a pair has no trigram of its own.
- SQLite, 1 character: the plain ILIKE (no index can narrow a single character; a match ends the scan early).
- PostgreSQL, 3+ characters: ILIKE over the pg_trgm GIN index; 1-2 characters: `callqa_grams(text) @> {term}`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, column, func, literal_column, select, table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qa.store.models import SegmentRow

#: Database objects of the search index that the ORM models do not describe (see `include_object`).
INDEX_OBJECTS = frozenset({"segments_fts", "segments_fts_data", "segments_fts_idx", "segments_fts_docsize",
                           "segments_fts_config", "segments_fts_content", "segments_fts_vocab",
                           "ix_segments_tail2", "ix_segments_text_trgm", "ix_segments_grams"})
MAX_PAIR_TRIGRAMS = 2000  # a two-character term that starts more trigrams than this is left to the plain scan

_fts = table("segments_fts", column("rowid"), column("segments_fts"))
_vocab = table("segments_fts_vocab", column("term"))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: the search index lives in migration 0006, not in the models; leave it out of comparisons."""
    return name not in INDEX_OBJECTS


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def segment_text_match(session: Session, term: str) -> ColumnElement[bool]:
    """A condition on `SegmentRow`: its text contains `term`, case-insensitively (ASCII on SQLite)."""
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    like = SegmentRow.text.ilike(pattern, escape="\\")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        if len(term) >= 3:
            return like  # the planner takes the pg_trgm GIN index for ILIKE
        grams = cast(postgresql.array([func.lower(cast(term, Text))]), postgresql.ARRAY(Text))
        return func.callqa_grams(SegmentRow.text).op("@>")(grams) & like
    if dialect != "sqlite" or len(term) < 2:
        return like
    if len(term) >= 3:
        query = _phrase(term)
    else:
        low = term.lower()
        starts = session.scalars(select(_vocab.c.term).where(_vocab.c.term >= low, _vocab.c.term <= low + "\U0010ffff")
                                 .limit(MAX_PAIR_TRIGRAMS + 1)).all()
        if len(starts) > MAX_PAIR_TRIGRAMS:
            return like
        query = " OR ".join(_phrase(t) for t in starts)
    candidates = func.lower(func.substr(SegmentRow.text, literal_column("-2"))) == func.lower(term) if len(term) == 2 else None
    if query:
        in_fts = SegmentRow.id.in_(select(_fts.c.rowid).where(_fts.c.segments_fts.op("MATCH")(query)))
        candidates = in_fts if candidates is None else (in_fts | candidates)
    assert candidates is not None
    return candidates & like
