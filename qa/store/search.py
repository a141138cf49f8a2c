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

from sqlalchemy import Text, cast, column, exists, func, literal_column, select, table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qa.store.models import Call, SegmentRow

#: Database objects of the search index that the ORM models do not describe (see `include_object`).
INDEX_OBJECTS = frozenset({"segments_fts", "segments_fts_data", "segments_fts_idx", "segments_fts_docsize",
                           "segments_fts_config", "segments_fts_content", "segments_fts_vocab",
                           "ix_segments_tail2", "ix_segments_text_trgm", "ix_segments_grams", "ix_calls_queue_order"})
MAX_PAIR_TRIGRAMS = 2000  # a two-character term that starts more trigrams than this is left to the plain scan
#: SQLite: a term in more segments than this is common; walking calls riskiest-first and checking each call's
#: segments finds a page of them sooner than collecting and sorting every match (which costs ~0.3 s at 100k calls).
DENSE_SEGMENTS = 2000

_fts = table("segments_fts", column("rowid"), column("segments_fts"))
_vocab = table("segments_fts_vocab", column("term"))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: the search index lives in migration 0006, not in the models; leave it out of comparisons."""
    return name not in INDEX_OBJECTS


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def call_text_match(session: Session, term: str) -> ColumnElement[bool]:
    """A condition on `Call`: one of its segments contains `term`, case-insensitively (ASCII only on SQLite)."""
    like, narrowed, dense = _segment_conditions(session, term)
    if dense and session.get_bind().dialect.name == "postgresql":
        # A common pair ('上门' in 40% of calls): a per-call probe (a scalar subquery with LIMIT, which the planner
        # cannot turn into a join) lets it walk calls in queue order and stop after a page, instead of first
        # collecting every matching segment (130 ms at 100,000 calls).
        probe = select(literal_column("1")).where(SegmentRow.call_id == Call.id, like).limit(1).scalar_subquery()
        return probe.is_not(None)
    if narrowed is None or dense:
        return exists().where(SegmentRow.call_id == Call.id, like)
    checks = [like] if narrowed is like else [narrowed, like]
    if session.get_bind().dialect.name == "postgresql":  # its planner turns EXISTS into the best semi-join
        return exists().where(SegmentRow.call_id == Call.id, *checks)
    return Call.id.in_(select(SegmentRow.call_id).where(*checks))


def _segment_conditions(session: Session, term: str) -> tuple[ColumnElement[bool], ColumnElement[bool] | None, bool]:
    """(the ILIKE check, an indexed condition narrowing the segments to check or None, whether the term is common)."""
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    like = SegmentRow.text.ilike(pattern, escape="\\")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        if len(term) >= 3:
            return like, like, False  # the planner takes the pg_trgm GIN index for ILIKE (and knows how common)
        grams = cast(postgresql.array([func.lower(cast(term, Text))]), postgresql.ARRAY(Text))
        # `text || ''`: the same check, but one the trigram index cannot serve (for 1-2 characters it would return
        # every row), so the planner uses the grams index or walks calls in queue order.
        unindexed = SegmentRow.text.concat("").ilike(pattern, escape="\\")
        narrowed = func.callqa_grams(SegmentRow.text).op("@>")(grams)
        dense = len(session.scalars(select(SegmentRow.id).where(narrowed).limit(DENSE_SEGMENTS + 1)).all()) \
            > DENSE_SEGMENTS
        return unindexed, narrowed, dense
    if dialect != "sqlite" or len(term) < 2:
        return like, None, False
    if len(term) >= 3:
        query = _phrase(term)
    else:
        low = term.lower()
        starts = session.scalars(select(_vocab.c.term).where(_vocab.c.term >= low, _vocab.c.term <= low + "\U0010ffff")
                                 .limit(MAX_PAIR_TRIGRAMS + 1)).all()
        if len(starts) > MAX_PAIR_TRIGRAMS:
            return like, None, True
        query = " OR ".join(_phrase(t) for t in starts)
    dense = False
    tail = func.lower(func.substr(SegmentRow.text, literal_column("-2")))  # the expression of ix_segments_tail2
    candidates = (tail == func.lower(term)) if len(term) == 2 else None
    if query:
        matched = select(_fts.c.rowid).where(_fts.c.segments_fts.op("MATCH")(query))
        dense = len(session.scalars(matched.limit(DENSE_SEGMENTS + 1)).all()) > DENSE_SEGMENTS
        in_fts = SegmentRow.id.in_(matched)
        candidates = in_fts if candidates is None else (in_fts | candidates)
    assert candidates is not None
    return like, candidates, dense
