"""Review-queue and overview query times at 100,000 calls.

Builds synthetic calls (with segments and findings) by bulk insert, then times the queries the
dashboard runs, through the same `qa.views` functions the pages call.

    python benchmarks/queue_load.py                      # SQLite file in a temp folder
    python benchmarks/queue_load.py --db postgresql+psycopg://user@host/db --calls 100000
    python benchmarks/queue_load.py --db sqlite:///big.db --reuse   # time an already-built database
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from qa.access.auth import Principal
from qa.views.common import Filters, filter_options
from qa.views.overview import overview
from qa.views.queue import review_queue
from qa.store.db import get_engine, session_scope
from qa.store.models import Call, FindingRow, SegmentRow

ZH = ["您好，这里是某某金融，请问是张先生吗？", "您的账单已经逾期三十天了。", "我这个月确实没钱，下个月再说。",
      "请您今天之内处理一下。", "你再不还钱，我们就上门找你家人。", "好的，我知道了，谢谢。"]
EN = ["Hello, this is Acme Recovery calling for John.", "Your account is thirty days past due.",
      "I lost my job, I cannot pay right now.", "Can we set up a payment plan?",
      "You people are idiots, stop calling me.", "Thank you, goodbye."]
LABELS = [("threat", "threat/violence", "rule:threat.visit_family"),
          ("harassment", "harassment/insult", "model:e5-cls-v1"),
          ("privacy", "privacy/pii_spoken", "rule:pii.cn_mobile"),
          ("stress", "stress/voice", "acoustics:stress-v1"),
          ("compliance/hours", "compliance/hours", "rule:cn.hours")]
TEAMS = ["A", "B", "C", "D"]


def build(url: str, n_calls: int, segments_per_call: int, finding_rate: float, seed: int = 7,
          chunk: int = 5000) -> dict[str, float]:
    rng = random.Random(seed)
    engine = get_engine(url)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    n_seg = n_find = 0
    with engine.begin() as conn:
        first_id = (conn.execute(select(func.max(Call.id))).scalar() or 0) + 1
    for base in range(0, n_calls, chunk):
        calls, segs, finds = [], [], []
        for i in range(base, min(base + chunk, n_calls)):
            cid = first_id + i
            zh = rng.random() < 0.6
            risk = round(min(100.0, rng.expovariate(1 / 18)), 1)
            calls.append({"id": cid, "content_hash": f"bench-{cid}", "path": f"/recordings/{cid}.wav",
                          "agent_id": f"agent{rng.randrange(200):03d}", "team": rng.choice(TEAMS),
                          "started_at": t0 + timedelta(minutes=5 * i), "jurisdiction": "cn" if zh else "us",
                          "language": "zh" if zh else "en", "duration": 60.0 + rng.random() * 240,
                          "status": "done", "risk_score": risk, "complaint_risk": round(risk / 100, 2),
                          "created_at": t0, "updated_at": t0})
            lines = ZH if zh else EN
            for k in range(segments_per_call):
                segs.append({"call_id": cid, "idx": k, "speaker": "agent" if k % 2 == 0 else "customer",
                             "start": 10.0 * k, "end": 10.0 * k + 9, "text": rng.choice(lines), "words": [],
                             "voice": {"pitch_mean_hz": 150 + rng.random() * 80}})
            if rng.random() < finding_rate:
                for _ in range(1 + int(rng.random() < 0.3)):
                    label, subtype, source = rng.choice(LABELS)
                    k = rng.randrange(segments_per_call)
                    finds.append({"call_id": cid, "segment_idx": k, "label": label, "subtype": subtype,
                                  "speaker": "agent", "start": 10.0 * k, "end": 10.0 * k + 5, "span": "…",
                                  "score": round(rng.random(), 2), "source": source, "explanation": "synthetic",
                                  "created_at": t0})
        with engine.begin() as conn:
            conn.execute(insert(Call), calls)
            conn.execute(insert(SegmentRow), segs)
            if finds:
                conn.execute(insert(FindingRow), finds)
        n_seg += len(segs)
        n_find += len(finds)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"build_s": time.perf_counter() - started, "segments": n_seg, "findings": n_find}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times), result


def measure(url: str, repeat: int = 5, only: str = "") -> list[tuple[str, float, float, str]]:
    user = Principal("bench", "admin")
    out = []

    def run(name: str, fn: Callable[[Any], Any], note: Callable[[Any], str] = lambda r: "") -> Any:
        with session_scope(url) as s:
            fn(s)  # warm the cache and the connection
            med, worst, result = timed(lambda: fn(s), repeat)
        out.append((name, med, worst, note(result)))
        return result

    if only:
        full = run

        def run(name: str, fn: Callable[[Any], Any], note: Callable[[Any], str] = lambda r: "") -> Any:
            return full(name, fn, note) if only in name else None

    first = run("queue: first page (50) + total", lambda s: review_queue(s, user),
                lambda r: f"{r.total:,} calls")
    cursor = first.next_cursor if first else None
    with session_scope(url) as s:  # walk 200 pages: the 10,001st call onwards
        for _ in range(199 if first else 0):
            cursor = review_queue(s, user, cursor=cursor, count=False).next_cursor
    run("queue: page 201 (keyset)", lambda s: review_queue(s, user, cursor=cursor, count=False),
        lambda r: f"risk <= {r.rows[0].risk_score}")
    run("queue: label filter (threat) + total", lambda s: review_queue(s, user, Filters(labels=("threat",))),
        lambda r: f"{r.total:,} calls")
    run("queue: team + language filter + total",
        lambda s: review_queue(s, user, Filters(teams=("A",), languages=("zh",))), lambda r: f"{r.total:,} calls")
    run("queue: date range (7 days) + total",
        lambda s: review_queue(s, user, Filters(date_from=datetime(2025, 2, 1).date(),
                                                    date_to=datetime(2025, 2, 7).date())),
        lambda r: f"{r.total:,} calls")
    run("queue: transcript search '上门' (zh)", lambda s: review_queue(s, user, Filters(search="上门")),
        lambda r: f"{len(r.rows)} on page")
    run("queue: transcript search 'payment plan' (en)",
        lambda s: review_queue(s, user, Filters(search="payment plan")), lambda r: f"{len(r.rows)} on page")
    run("queue: transcript search '上门找' (zh, 3 chars)", lambda s: review_queue(s, user, Filters(search="上门找")),
        lambda r: f"{len(r.rows)} on page")
    run("queue: search with no match (zh)", lambda s: review_queue(s, user, Filters(search="不存在的词")),
        lambda r: f"{len(r.rows)} on page")
    run("queue: search with no match (zh, 2 chars)", lambda s: review_queue(s, user, Filters(search="银河")),
        lambda r: f"{len(r.rows)} on page")
    run("queue: search with no match (en)", lambda s: review_queue(s, user, Filters(search="zebra crossing")),
        lambda r: f"{len(r.rows)} on page")
    run("overview: all calls", lambda s: overview(s, user), lambda r: f"{r.processed:,} processed")
    run("overview: team A", lambda s: overview(s, user, Filters(teams=("A",))),
        lambda r: f"{r.processed:,} processed")
    run("filter options", lambda s: filter_options(s, user), lambda r: f"{len(r.agents)} agents")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="database URL (default: a new SQLite file in a temp folder)")
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--segments", type=int, default=6, help="segments per call")
    ap.add_argument("--finding-rate", type=float, default=0.35, help="share of calls with findings")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="", help="time only the queries whose name contains this (e.g. 'search')")
    ap.add_argument("--reuse", action="store_true", help="time the existing data, do not insert")
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='callqa-bench-')) / 'bench.db'}"
    engine = get_engine(url)
    print(f"database: {engine.dialect.name} {url.split('@')[-1]}")
    if not args.reuse:
        built = build(url, args.calls, args.segments, args.finding_rate)
        print(f"built {args.calls:,} calls, {built['segments']:,} segments, {built['findings']:,} findings "
              f"in {built['build_s']:.1f} s")
    with session_scope(url) as s:
        n = s.scalar(select(func.count(Call.id)))
    print(f"timing with {n:,} calls (median and worst of {args.repeat} warm runs)\n")
    print(f"{'query':48} {'median':>9} {'worst':>9}  result")
    for name, med, worst, note in measure(url, args.repeat, args.only):
        flag = "" if med < 1.0 else "  (over 1 s)"
        print(f"{name:48} {med * 1000:7.1f}ms {worst * 1000:7.1f}ms  {note}{flag}")


if __name__ == "__main__":
    main()
