"""Transcript search through the index (migration 0006) returns exactly what a substring match over the text returns.

The expected call ids come from Python (`term.lower() in text.lower()`) over the same texts, so the index can only
narrow the rows it checks, never change the answer: Chinese and English, 1/2/3+ characters, no match, a pair at
the very end of a segment, two-character segments, and after a re-ingest, an edit and a delete.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, text, update

from qa.access.auth import Principal
from qa.records import AudioInfo, CallAnalysis, CallExposure, Segment, Transcript
from qa.store import search
from qa.store.calls import save_analysis
from qa.store.db import get_engine, session_scope
from qa.store.models import Call, SegmentRow
from qa.views.common import Filters
from qa.views.queue import _search_condition, review_queue

ADMIN = Principal("admin", "admin")
LINES = ["您好，这里是某某金融，请问是张先生吗？", "您的账单已经逾期三十天了。", "你再不还钱，我们就上门找你家人。",
         "我们明天上门", "好的", "嗯", "Hello, this is Acme Recovery calling for John.", "Can we set up a Payment Plan?",
         "You people are IDIOTS, stop calling me.", "OK", "I will pay 100% next week_end.", "payment plan agreed"]
TERMS = ["上门", "上门找", "逾期三十天", "好的", "嗯", "门", "payment plan", "PAYMENT", "idiots", "ok", "Ok", "k",
         "100%", "_", "week_end", "不存在的词", "zebra", "您好，这里", "ll"]


def _seed(url: str, n: int = 60) -> dict[int, list[str]]:
    rng = random.Random(3)
    texts: dict[int, list[str]] = {}
    with session_scope(url) as s:
        for i in range(n):
            call = Call(content_hash=f"s{i}", path=f"/r/{i}.wav", status="done", risk_score=float(rng.randrange(100)),
                        started_at=datetime(2025, 1, 1, tzinfo=UTC), language="zh")
            lines = [rng.choice(LINES) for _ in range(rng.randrange(1, 4))]
            call.segments = [SegmentRow(idx=k, speaker="agent", start=k, end=k + 1, text=t, words=[])
                             for k, t in enumerate(lines)]
            s.add(call)
            s.flush()
            texts[call.id] = lines
    return texts


def _expected(texts: dict[int, list[str]], term: str) -> set[int]:
    return {cid for cid, lines in texts.items() if any(term.lower() in t.lower() for t in lines)}


def _found(url: str, term: str) -> set[int]:
    with session_scope(url) as s:
        return {r.call_id for r in review_queue(s, ADMIN, Filters(search=term), page_size=200).rows}


def _check_all(url: str, texts: dict[int, list[str]]) -> None:
    for term in TERMS:
        assert _found(url, term) == _expected(texts, term), term


@pytest.mark.parametrize("path", ["index", "common-term scan", "pair with many trigrams"])
def test_search_results_equal_substring_match_through_changes(db_url, monkeypatch, path):
    if path == "common-term scan":
        monkeypatch.setattr(search, "DENSE_SEGMENTS", 0)
    elif path == "pair with many trigrams":
        monkeypatch.setattr(search, "MAX_PAIR_TRIGRAMS", 0)
    texts = _seed(db_url)
    assert _expected(texts, "上门") and _expected(texts, "payment plan") and not _expected(texts, "zebra")
    _check_all(db_url, texts)

    first, second, third = sorted(texts)[:3]
    with session_scope(db_url) as s:  # re-ingest: segments updated in place, extra ones deleted
        info = AudioInfo(path="/r/x.wav", sha256="s-x", size_bytes=1, duration=2.0, channels=1, source_rate=16000,
                         codec="pcm")
        new = ["我们会上门核实地址", "zebra crossing ahead"]
        transcript = Transcript(first, "zh", 2.0, [Segment("agent", 0, 1, t) for t in new])
        save_analysis(s, first, CallAnalysis(transcript, [], {}, 0.0, 0.0, [], CallExposure(), audio=info,
                                             asr_model="base"))
        texts[first] = new
        s.execute(update(SegmentRow).where(SegmentRow.call_id == second).values(text="已经改成别的内容 OK"))
        texts[second] = ["已经改成别的内容 OK"] * len(texts[second])
        s.execute(delete(Call).where(Call.id == third))  # segments go with it (ON DELETE CASCADE)
        del texts[third]
    assert _found(db_url, "zebra") == {first}
    _check_all(db_url, texts)


def test_sqlite_search_uses_the_trigram_index(tmp_path):
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    _seed(url, n=5)
    engine = get_engine(url)
    with session_scope(url) as s:
        for term in ("上门找", "上门", "payment plan"):
            cond = _search_condition(s, term, ADMIN)
            sql = select(Call.id).where(cond).compile(engine, compile_kwargs={"literal_binds": True})
            plan = " | ".join(r[-1] for r in s.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "segments_fts VIRTUAL TABLE INDEX" in plan, (term, plan)
            assert "SCAN segments" not in plan.replace("SCAN segments_fts", ""), (term, plan)


def test_upgrade_indexes_transcripts_stored_before_the_index(db_url):
    from sqlalchemy import create_engine

    from qa.store import migrate

    engine = create_engine(db_url)
    migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO calls (id, content_hash, path, status, risk_score, created_at, updated_at) "
                          "VALUES (7, 'old', '/r/old.wav', 'done', 50, '2025-01-01', '2025-01-01')"))
        conn.execute(text("INSERT INTO segments (call_id, idx, speaker, start, \"end\", text, words) "
                          "VALUES (7, 0, 'agent', 0, 1, '我们明天上门拜访 Payment Plan', '[]')"))
    migrate.upgrade(engine)
    engine.dispose()
    for term in ("上门拜访", "上门", "payment plan", "门"):
        assert _found(db_url, term) == {7}, term
    assert _found(db_url, "银河") == set()
