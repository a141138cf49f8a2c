"""Jurisdiction rule packs: hours, frequency, third parties, disclosures, impersonation, record keeping.

Rule-level tests use plain records; history tests build call histories in a temporary database and run
the analysis after detection (`qa.pipeline.analyze` via `qa.ingest.analysis.reanalyze`) the way ingestion does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from qa.assess.compliance import CallFacts, PriorCall, check_call, load_pack
from qa.assess.compliance.packs import RulePackError, available_packs
from qa.records import Finding, Segment

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")

CN_OPENING = "您好，我是华信金融公司的客服小王，工号1024，本次通话将全程录音。"
US_OPENING = ("Hi, my name is Dana calling from Acme Recovery Services. This call is recorded. "
              "This is an attempt to collect a debt and any information obtained will be used for that purpose.")


def facts(started_at: datetime, *, pack: str = "cn", opening: str | None = None, callee: str | None = "debtor",
          customer_s: float = 30.0, call_id: int = 100, **kw) -> CallFacts:
    opening = opening if opening is not None else (CN_OPENING if pack == "cn" else US_OPENING)
    segs = [Segment("agent", 0.5, 8.0, opening), Segment("customer", 8.5, 8.5 + customer_s, "嗯，你说。")]
    kw.setdefault("account_id", "A1")
    kw.setdefault("agent_id", "ag1")
    return CallFacts(call_id=call_id, started_at=started_at, callee=callee, direction="outbound",
                     duration=10.0 + customer_s, customer_speech_s=customer_s, segments=segs, **kw)


def labels(findings: list[Finding]) -> set[str]:
    return {f.subtype for f in findings}


def test_packs_load_and_every_rule_cites_its_source() -> None:
    assert {"cn", "us"} <= set(available_packs())
    for code in ("cn", "us"):
        pack = load_pack(code)
        assert set(pack.rules) == {"calling_hours", "call_frequency", "third_party_contact", "missing_disclosure",
                                   "impersonation", "record_keeping"}
        for rule in pack.rules.values():
            assert rule.citation and rule.source and rule.citation_zh
    with pytest.raises(RulePackError, match="no rule pack"):
        load_pack("xx")


@pytest.mark.parametrize(("hour", "minute", "violates"), [(22, 30, True), (20, 30, False), (7, 59, True),
                                                          (8, 0, False), (22, 0, True), (21, 59, False)])
def test_cn_calling_hours(hour: int, minute: int, violates: bool) -> None:
    started = datetime(2025, 3, 3, hour, minute, tzinfo=SH)
    found = [f for f in check_call(load_pack("cn"), facts(started)) if f.label == "compliance/calling_hours"]
    assert bool(found) is violates
    if violates:
        assert "GB/T 45251-2025" in found[0].explanation
        assert f"{hour:02d}:{minute:02d} Asia/Shanghai" in found[0].explanation


def test_cn_hours_use_debtor_local_time_not_utc() -> None:
    # 14:30 UTC is 22:30 in Shanghai: a violation, although the UTC clock looks like afternoon.
    started = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
    assert "compliance/calling_hours" in labels(check_call(load_pack("cn"), facts(started)))


def test_us_hours_follow_the_callers_zone_and_dst() -> None:
    pack = load_pack("us")
    # 00:30 UTC on 2025-07-10 is 20:30 EDT (UTC-4): allowed; the same UTC clock in January is 19:30 EST.
    summer = datetime(2025, 7, 10, 0, 30, tzinfo=UTC)
    assert "compliance/calling_hours" not in labels(check_call(pack, facts(summer, pack="us")))
    # 01:30 UTC in July = 21:30 EDT: too late; in January = 20:30 EST: allowed. Only correct with DST.
    assert "compliance/calling_hours" in labels(check_call(pack, facts(datetime(2025, 7, 10, 1, 30, tzinfo=UTC),
                                                                       pack="us")))
    assert "compliance/calling_hours" not in labels(check_call(pack, facts(datetime(2025, 1, 10, 1, 30, tzinfo=UTC),
                                                                           pack="us")))
    # A per-call zone wins over the pack default: 13:30 UTC is 06:30 in Los Angeles (PDT), 09:30 in New York.
    early = datetime(2025, 7, 10, 13, 30, tzinfo=UTC)
    assert "compliance/calling_hours" in labels(check_call(pack, facts(early, pack="us",
                                                                       timezone="America/Los_Angeles")))
    assert "compliance/calling_hours" not in labels(check_call(pack, facts(early, pack="us")))
    # 21:00 itself is not "after 9:00 p.m."
    assert "compliance/calling_hours" not in labels(check_call(pack, facts(datetime(2025, 7, 10, 21, 0, tzinfo=NY),
                                                                           pack="us")))


def test_cn_fourth_effective_call_in_a_day_violates_frequency() -> None:
    pack = load_pack("cn")
    day = datetime(2025, 3, 3, 9, 0, tzinfo=SH)
    history = [PriorCall(i, day + timedelta(hours=i), "outbound", "debtor", 20.0) for i in range(1, 4)]
    # Short/unanswered attempts do not count as effective calls.
    history += [PriorCall(10 + i, day + timedelta(hours=i, minutes=30), "outbound", "debtor", 0.0) for i in range(3)]
    fourth = facts(day + timedelta(hours=5), call_id=50)
    found = [f for f in check_call(pack, fourth, history) if f.subtype == "compliance/call_frequency/daily_effective"]
    assert found and found[0].details["count"] == 4 and "at most 3 effective calls" in found[0].explanation
    # The third effective call is fine, and so is a fourth that was not answered.
    assert not [f for f in check_call(pack, fourth, history[1:]) if f.label == "compliance/call_frequency"]
    unanswered = facts(day + timedelta(hours=5), call_id=50, customer_s=0.0)
    assert not [f for f in check_call(pack, unanswered, history) if f.label == "compliance/call_frequency"]
    # Calls on the previous local day do not count, even when they fall on the same UTC day.
    prev_day = [PriorCall(i, datetime(2025, 3, 2, 23, 0, tzinfo=SH) + timedelta(minutes=i), "outbound", "debtor",
                          20.0) for i in range(1, 4)]
    assert not [f for f in check_call(pack, facts(datetime(2025, 3, 3, 8, 30, tzinfo=SH)), prev_day)
                if f.label == "compliance/call_frequency"]


def test_us_eighth_call_in_seven_days_violates_frequency() -> None:
    pack = load_pack("us")
    start = datetime(2025, 5, 1, 10, 0, tzinfo=NY)
    history = [PriorCall(i, start + timedelta(days=i - 1), "outbound", "debtor", 0.0) for i in range(1, 8)]  # 7 attempts
    eighth = facts(start + timedelta(days=6, hours=2), pack="us", customer_s=0.0, call_id=99)
    found = labels(check_call(pack, eighth, history))
    assert "compliance/call_frequency/attempts_in_window" in found
    assert "compliance/call_frequency/attempts_in_window" not in labels(check_call(pack, eighth, history[1:]))
    # The 7-day window is rolling: a day later the first attempt drops out.
    later = facts(start + timedelta(days=7, hours=2), pack="us", customer_s=0.0, call_id=99)
    assert "compliance/call_frequency/attempts_in_window" not in labels(check_call(pack, later, history))


def test_us_call_within_seven_days_after_a_conversation() -> None:
    pack = load_pack("us")
    conv = PriorCall(1, datetime(2025, 5, 1, 10, 0, tzinfo=NY), "outbound", "debtor", 60.0)
    assert "compliance/call_frequency/after_conversation" in labels(
        check_call(pack, facts(datetime(2025, 5, 7, 10, 0, tzinfo=NY), pack="us"), [conv]))
    # Day of the conversation is day 1: on day 8 (May 8) calling is allowed again.
    assert "compliance/call_frequency/after_conversation" not in labels(
        check_call(pack, facts(datetime(2025, 5, 8, 10, 0, tzinfo=NY), pack="us"), [conv]))


def test_missing_disclosure_is_flagged_per_element() -> None:
    cn, us = load_pack("cn"), load_pack("us")
    when = datetime(2025, 3, 3, 10, 0, tzinfo=SH)
    assert not [f for f in check_call(cn, facts(when)) if f.label == "compliance/missing_disclosure"]
    bare = labels(check_call(cn, facts(when, opening="喂，你欠的钱什么时候还？")))
    assert {"compliance/missing_disclosure/agent_identity", "compliance/missing_disclosure/recording_notice",
            "compliance/missing_disclosure/company"} <= bare
    no_miranda = "Hi, my name is Dana calling from Acme Recovery Services. This call is recorded."
    found = [f for f in check_call(us, facts(when, pack="us", opening=no_miranda))
             if f.label == "compliance/missing_disclosure"]
    assert [f.subtype for f in found] == ["compliance/missing_disclosure/mini_miranda"]
    assert "1006.18" in found[0].explanation and found[0].speaker == "agent"
    assert not [f for f in check_call(us, facts(when, pack="us")) if f.label == "compliance/missing_disclosure"]
    # Third parties must not hear the mini-Miranda, and unanswered calls have nobody to disclose to.
    assert not [f for f in check_call(us, facts(when, pack="us", opening=no_miranda, callee="neighbor"))
                if f.label == "compliance/missing_disclosure"]
    assert not [f for f in check_call(us, facts(when, pack="us", opening=no_miranda, customer_s=0.0))
                if f.label == "compliance/missing_disclosure"]


def test_disclosure_survives_asr_spacing_and_small_errors() -> None:
    cn = load_pack("cn")
    garbled = "您 好 我 是 华 信 金 融 公 司 的 小 王 本 次 通 话 将 全 程 路 音"  # 录音 misheard as 路音
    found = labels(check_call(cn, facts(datetime(2025, 3, 3, 10, 0, tzinfo=SH), opening=garbled)))
    assert "compliance/missing_disclosure/agent_identity" not in found
    assert "compliance/missing_disclosure/company" not in found


def test_impersonation_of_police_or_court() -> None:
    cn, us = load_pack("cn"), load_pack("us")
    when = datetime(2025, 3, 3, 10, 0, tzinfo=SH)
    f = facts(when)
    f.segments.append(Segment("agent", 40.0, 45.0, "我是市公安局的，你再不还钱就抓你。"))
    hits = [x for x in check_call(cn, f) if x.label == "compliance/impersonation"]
    assert hits and hits[0].start == 40.0 and "公安" in hits[0].span
    lawful = facts(when)
    lawful.segments.append(Segment("agent", 40.0, 45.0, "我是华信公司的，不是律师，逾期可能会被依法起诉到法院。"))
    assert not [x for x in check_call(cn, lawful) if x.label == "compliance/impersonation"]
    g = facts(when, pack="us")
    g.segments.append(Segment("agent", 40.0, 45.0, "I'm officer Miller, and a warrant will be issued."))
    assert [x for x in check_call(us, g) if x.label == "compliance/impersonation"]


def test_third_party_disclosure_and_contact_rules() -> None:
    cn, us = load_pack("cn"), load_pack("us")
    when = datetime(2025, 3, 3, 10, 0, tzinfo=SH)
    disclosed = Finding("privacy", "privacy/third_party_disclosure", "agent", 20.0, 24.0, "他欠了我们三万块",
                        0.9, "rule:third_party", "debt amount told to the callee's neighbor")
    f = facts(when, callee="neighbor", findings=[disclosed])
    found = [x for x in check_call(cn, f) if x.subtype == "compliance/third_party_contact/disclosure"]
    assert found and found[0].start == 20.0 and "PIPL" in found[0].explanation
    reached = PriorCall(1, when - timedelta(days=1), "outbound", "debtor", 40.0)
    assert "compliance/third_party_contact/debtor_reachable" in labels(check_call(cn, facts(when, callee="neighbor"),
                                                                                 [reached]))
    assert "compliance/third_party_contact/debtor_reachable" not in labels(check_call(cn, facts(when, callee="neighbor")))
    again = PriorCall(2, when - timedelta(days=20), "outbound", "neighbor", 30.0)
    assert "compliance/third_party_contact/repeat_contact" in labels(
        check_call(us, facts(when, pack="us", callee="neighbor"), [again]))


def test_record_keeping_metadata() -> None:
    found = [x for x in check_call(load_pack("cn"), facts(datetime(2025, 3, 3, 10, 0, tzinfo=SH), agent_id=None))
             if x.label == "compliance/record_keeping"]
    assert found and "agent_id" in found[0].explanation and "5 years" in found[0].explanation


# --- histories stored in a database, assessed like ingestion does --------------------------------------

from sqlalchemy import select  # noqa: E402

from qa.store.db import session_scope  # noqa: E402
from qa.store.models import FindingRow  # noqa: E402
from tests.assess_helpers import add_call, assess_stored as assess  # noqa: E402


def stored_labels(session, call_id: int) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.subtype for r in session.scalars(select(FindingRow).where(FindingRow.call_id == call_id))}


def test_stored_history_cn_hours_and_frequency(db_url: str) -> None:
    with session_scope(db_url) as s:
        late = add_call(s, datetime(2025, 3, 3, 22, 30, tzinfo=SH), account="B")
        ok = add_call(s, datetime(2025, 3, 3, 20, 30, tzinfo=SH), account="C")
        assert "compliance/calling_hours" in stored_labels(s, late)
        assert "compliance/calling_hours" not in stored_labels(s, ok)
        row = s.scalar(select(FindingRow).where(FindingRow.call_id == late, FindingRow.label == "compliance/calling_hours"))
        assert row.explanation.startswith("GB/T 45251-2025: no collection calls 22:00-08:00 debtor local time")
        assert "22:30 Asia/Shanghai" in row.explanation

        ids = [add_call(s, datetime(2025, 3, 4, 9 + i, 0, tzinfo=SH)) for i in range(3)]
        add_call(s, datetime(2025, 3, 4, 12, 30, tzinfo=SH), customer_s=0.0)  # unanswered: not effective
        fourth = add_call(s, datetime(2025, 3, 4, 15, 0, tzinfo=SH))
        assert all("compliance/call_frequency/daily_effective" not in stored_labels(s, i) for i in ids)
        assert "compliance/call_frequency/daily_effective" in stored_labels(s, fourth)


def test_stored_history_us_eight_calls_in_seven_days(db_url: str) -> None:
    with session_scope(db_url) as s:
        # Seven unanswered attempts on Nov 1-7 (across the DST change of Nov 2), then an eighth on Nov 7.
        ids = [add_call(s, datetime(2025, 11, 1 + i, 10, 0, tzinfo=NY), jurisdiction="us", account="U1",
                        customer_s=0.0) for i in range(7)]
        ids.append(add_call(s, datetime(2025, 11, 7, 20, 45, tzinfo=NY), jurisdiction="us", account="U1",
                            customer_s=0.0))
        assert "compliance/calling_hours" not in stored_labels(s, ids[7])  # 20:45 EST is allowed
        assert "compliance/call_frequency/attempts_in_window" in stored_labels(s, ids[7])
        assert all("compliance/call_frequency/attempts_in_window" not in stored_labels(s, i) for i in ids[:7])


def test_assessment_is_idempotent_and_flags_missing_disclosure(db_url: str) -> None:
    with session_scope(db_url) as s:
        cid = add_call(s, datetime(2025, 3, 3, 22, 30, tzinfo=SH), opening="喂，钱什么时候还？")
        before = sorted((r.label, r.subtype, r.explanation) for r in s.scalars(
            select(FindingRow).where(FindingRow.call_id == cid)))
        assert ("compliance/missing_disclosure", "compliance/missing_disclosure/recording_notice") in {
            (a, b) for a, b, _ in before}
        assess(s, cid)
        assess(s, cid)
        after = sorted((r.label, r.subtype, r.explanation) for r in s.scalars(
            select(FindingRow).where(FindingRow.call_id == cid)))
        assert after == before
