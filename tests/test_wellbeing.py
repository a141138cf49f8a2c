"""Agent wellbeing index and alerts from stored call histories."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from qa.store.db import session_scope
from qa.store.models import AgentDay, Alert, FindingRow, SegmentRow
from qa.assess.wellbeing import AgentCall, alert_message, assess_day
from tests.assess_helpers import add_call, assess_stored as assess, insult_to_agent

SH = ZoneInfo("Asia/Shanghai")
DAY = datetime(2025, 3, 4, 0, 0, tzinfo=SH)  # a Tuesday


def hostile_day(session, agent: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Three hostile calls back to back (30 s breaks), then a calm call off shift."""
    ids = []
    t = DAY + timedelta(hours=10)
    for i in range(3):
        ids.append(add_call(session, t, agent=agent, account=f"H{i}", findings=[insult_to_agent(9.0)]))
        t += timedelta(seconds=60)  # each call lasts ~29 s: ~30 s between calls
    ids.append(add_call(session, DAY + timedelta(hours=20), agent=agent, account="H9"))
    return ids


def alerts(session, agent: str) -> dict[str, Alert]:  # type: ignore[no-untyped-def]
    return {a.kind: a for a in session.scalars(select(Alert).where(Alert.agent_id == agent))}


def test_hostile_day_lowers_wellbeing_and_raises_alerts_with_evidence(db_url: str) -> None:
    with session_scope(db_url) as s:
        ids = hostile_day(s, "ag1")
        for i in range(4):
            add_call(s, DAY + timedelta(hours=10 + i), agent="calm", account=f"C{i}")
        hard = s.scalar(select(AgentDay).where(AgentDay.agent_id == "ag1"))
        calm = s.scalar(select(AgentDay).where(AgentDay.agent_id == "calm"))
        assert hard.day == date(2025, 3, 4) and hard.calls == 4
        assert hard.metrics["abuse_count"] == 3 and hard.metrics["max_hostile_streak"] == 3
        assert hard.metrics["short_recoveries"] == 2 and hard.metrics["off_shift_calls"] == 1
        assert hard.wellbeing < calm.wellbeing == 100.0
        found = alerts(s, "ag1")
        assert {"abuse_received", "hostile_streak", "short_recovery"} <= set(found)
        assert found["hostile_streak"].evidence["calls"] == ids[:3]
        assert "3 hostile calls in a row" in found["hostile_streak"].message
        streak = found["hostile_streak"]
        assert alert_message("ag1", streak.kind, streak.evidence, "zh") == "坐席 ag1 连续接到 3 通敌意电话"
        assert not alerts(s, "calm")


def test_alerts_are_idempotent_keep_reviewer_status_and_clear_when_resolved(db_url: str) -> None:
    with session_scope(db_url) as s:
        ids = hostile_day(s, "ag2")
        before = {(a.kind, a.severity, a.message) for a in alerts(s, "ag2").values()}
        alerts(s, "ag2")["abuse_received"].status = "acknowledged"
        for i in ids:
            assess(s, i)
        after = alerts(s, "ag2")
        assert {(a.kind, a.severity, a.message) for a in after.values()} == before
        assert after["abuse_received"].status == "acknowledged"
        # A reviewer's correction removes the insult from the middle call: the streak is broken.
        for row in s.scalars(select(FindingRow).where(FindingRow.call_id == ids[1], FindingRow.label == "harassment")):
            s.delete(row)
        s.flush()
        assess(s, ids[1])
        assert "hostile_streak" not in alerts(s, "ag2")


def test_agent_days_follow_the_site_time_zone() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    late = AgentCall(1, datetime(2025, 3, 4, 22, 30, tzinfo=zone), 300)  # 14:30 UTC
    res = assess_day("x", date(2025, 3, 4), [late], zone)
    assert res.metrics["off_shift_calls"] == 1
    assert res.metrics["evidence"]["off_shift"] == [{"call_id": 1, "at": "22:30"}]


def _voice(pitch: float, loud: float, rate: float) -> dict:
    return {"pitch_st": pitch, "pitch_range_st": 8.0, "loudness_db": loud, "instability_st": 0.5,
            "rate_sps": rate, "nuclei_rate": 3.0, "pause_ratio": 0.15}


def test_voice_stress_against_the_agents_stored_baseline(db_url: str) -> None:
    with session_scope(db_url) as s:
        for d in range(6):  # six ordinary earlier calls with measured agent turns
            cid = add_call(s, DAY - timedelta(days=7 - d) + timedelta(hours=10), agent="v1", account=f"V{d}",
                           assess=False,
                           segments=[("agent", 0.5, 8.0, "您好，我是华信金融公司的小王，本次通话录音。"),
                                     ("customer", 8.5, 20.0, "嗯"), ("agent", 21.0, 26.0, "好的"),
                                     ("agent", 27.0, 30.0, "谢谢")])
            for k, row in enumerate(s.scalars(select(SegmentRow).where(SegmentRow.call_id == cid,
                                                                       SegmentRow.speaker == "agent"))):
                row.voice = _voice(20.0 + 0.8 * ((d + k) % 3 - 1), -25.0 + 1.5 * ((d * 2 + k) % 3 - 1),
                                   4.5 + 0.3 * ((d + 2 * k) % 3 - 1))
            s.flush()
            assess(s, cid)
        cid = add_call(s, DAY + timedelta(hours=11), agent="v1", account="V9", assess=False,
                       segments=[("agent", 0.5, 8.0, "您好，我是华信金融公司的小王，本次通话录音。"),
                                 ("customer", 8.5, 20.0, "你们这群骗子"), ("agent", 21.0, 26.0, "请您不要这样说")],
                       findings=[insult_to_agent(9.0)])
        rows = list(s.scalars(select(SegmentRow).where(SegmentRow.call_id == cid, SegmentRow.speaker == "agent")
                              .order_by(SegmentRow.idx)))
        rows[0].voice = _voice(20.0, -25.0, 4.5)
        rows[1].voice = _voice(24.0, -18.0, 5.6)
        s.flush()
        assess(s, cid)  # audio=None keeps the stored voice measures
        stress = s.scalars(select(FindingRow).where(FindingRow.call_id == cid, FindingRow.subtype == "stress/voice")).all()
        assert len(stress) == 1 and stress[0].start == 21.0
        assert "vs agent baseline of 6 calls" in stress[0].explanation
        assert "pitch +" in stress[0].explanation and "harassment/insult" in stress[0].explanation
        assert rows[1].voice["z"]["pitch_st"] > 2
        day = s.scalar(select(AgentDay).where(AgentDay.agent_id == "v1", AgentDay.day == date(2025, 3, 4)))
        assert day.metrics["stress_voice_findings"] == 1 and day.metrics["stress_z"] > 0.5


def test_wellbeing_page_counts_abuse_like_the_index_by_site_day(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Charts and index agree on Shanghai days (23:30 and 00:30 local are two days), and a customer's
    self-harm statement is not counted as abuse the agent received."""
    from qa.access.auth import Principal
    from qa.config import get_settings
    from qa.views.common import Filters
    from qa.views.overview import overview
    from qa.views.wellbeing import AbuseDay, wellbeing_view

    monkeypatch.setenv("CALLQA_DEFAULT_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    self_harm = {"label": "threat", "subtype": "threat/self_harm", "speaker": "customer", "start": 3.0, "end": 5.0,
                 "span": "我不想活了", "explanation": "self-harm"}
    late = datetime(2025, 3, 4, 23, 30, tzinfo=SH)  # 15:30 UTC
    with session_scope(db_url) as s:
        add_call(s, late, agent="tz", account="T1", findings=[insult_to_agent(9.0), self_harm])
        add_call(s, late + timedelta(hours=1), agent="tz", account="T2", findings=[self_harm])  # 00:30 next day
        admin = Principal("admin", "admin")
        view = wellbeing_view(s, admin)
        index = {d.day: d for d in s.scalars(select(AgentDay).where(AgentDay.agent_id == "tz"))}
        trend = overview(s, admin).trend
        next_day_only = wellbeing_view(s, admin, Filters(date_from=date(2025, 3, 5), date_to=date(2025, 3, 5)))
    assert view.abuse == [AbuseDay("tz", date(2025, 3, 4), abusive_findings=1, calls=1),
                          AbuseDay("tz", date(2025, 3, 5), abusive_findings=0, calls=1)]
    assert sorted(index) == [date(2025, 3, 4), date(2025, 3, 5)]
    assert [index[a.day].metrics["abuse_count"] for a in view.abuse] == [a.abusive_findings for a in view.abuse]
    assert [(d.day, d.calls) for d in view.days] == [(a.day, a.calls) for a in view.abuse]
    assert [(t.day, t.calls) for t in trend] == [(date(2025, 3, 4), 1), (date(2025, 3, 5), 1)]
    assert [a.day for a in next_day_only.abuse] == [date(2025, 3, 5)]
