"""Call risk and complaint risk: misconduct and violations score higher than clean calls, with reasons."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from qa.records import Finding
from qa.assess.scoring import finding_kind, score_call
from qa.store.db import session_scope
from qa.store.models import Call
from tests.assess_helpers import add_call, insult_to_agent, threat

SH = ZoneInfo("Asia/Shanghai")


def f(label: str, subtype: str, speaker: str | None, score: float = 0.9, **details: object) -> Finding:
    return Finding(label, subtype, speaker, 10.0, 12.0, "x", score, "test", "test", details=dict(details))


def test_direction_decides_the_kind_of_finding() -> None:
    assert finding_kind(f("threat", "threat/violence", "agent")) == "agent_threat"
    assert finding_kind(f("threat", "threat/to_agent", "customer")) == "abuse_received"
    assert finding_kind(f("harassment", "harassment/insult", "customer", direction="to_agent")) == "abuse_received"
    assert finding_kind(f("threat", "threat/self_harm", "customer")) == "self_harm"
    assert finding_kind(f("privacy", "privacy/third_party_disclosure", "agent")) == "third_party_disclosure"
    assert finding_kind(f("compliance/calling_hours", "compliance/calling_hours", None)) == "compliance/calling_hours"


def test_threats_score_higher_than_a_clean_call_with_reasons() -> None:
    clean = score_call([], {"interruptions": {"agent": 1}})
    assert clean.risk == 0 and clean.complaint_risk < 0.1 and clean.reasons == []
    bad = score_call([f("threat", "threat/violence", "agent", 0.95)], {})
    assert bad.risk >= 40 and bad.complaint_risk > clean.complaint_risk
    assert bad.reasons[0].reason == "agent threatened the customer" and bad.reasons[0].points > 40
    # Abuse the agent received matters less for call risk than the agent's own misconduct.
    received = score_call([f("threat", "threat/to_agent", "customer", 0.95)], {})
    assert 0 < received.risk < bad.risk


def test_complaint_words_and_violations_raise_complaint_risk() -> None:
    calm = score_call([], {"complaint_intent": [], "customer_anger": []})
    angry = score_call([f("compliance/call_frequency", "compliance/call_frequency/daily_effective", None)],
                       {"complaint_intent": [{"phrase": "投诉"}, {"phrase": "12378"}],
                        "customer_anger": [{"phrase": "烦死了"}], "ended_by": "customer"})
    assert angry.complaint_risk > 0.5 > calm.complaint_risk
    keys = [r.key for r in angry.reasons if r.kind == "complaint"]
    assert keys[0] == "complaint_intent_count" and "contact_violations" in keys
    assert all(r.to_json()["reason"] for r in angry.reasons)


def test_stored_calls_threat_call_outranks_clean_call(db_url: str) -> None:
    with session_scope(db_url) as s:
        clean = add_call(s, datetime(2025, 3, 3, 10, 0, tzinfo=SH), account="K1")
        risky = add_call(s, datetime(2025, 3, 3, 11, 0, tzinfo=SH), account="K2", findings=[threat(12.0)],
                         segments=[("agent", 0.5, 8.0, "您好，我是华信金融公司的小王，本次通话录音。"),
                                   ("customer", 8.5, 11.0, "我没钱，我要投诉你们"),
                                   ("agent", 12.0, 15.0, "你等着，我们上门找你")])
        abused = add_call(s, datetime(2025, 3, 3, 12, 0, tzinfo=SH), account="K3", findings=[insult_to_agent(9.0)])
        c, r, a = (s.get(Call, i) for i in (clean, risky, abused))
        assert r.risk_score > a.risk_score > c.risk_score
        assert r.complaint_risk > c.complaint_risk
        assert r.score_reasons[0]["reason"] == "agent threatened the customer"
        assert {"reason", "points", "kind"} <= set(r.score_reasons[0])
        assert r.measures["complaint_intent_count"] == 1


def test_a_model_guess_below_the_review_bar_cannot_outrank_rule_backed_evidence() -> None:
    """A model-only threat at p=0.73 (below the queue's 0.8) on a garbled line counts at half in the risk, with the
    reason saying so; the same score backed by a rule counts in full; a sure model finding that names its words
    counts in full, and one that names none (which the queue holds back too) at half."""
    words = {"attribution": {"words": ["show up at your door"]}}
    guess = score_call([f("threat", "threat", "agent", 0.73, model_p=0.73, **words)], {})
    backed = score_call([f("threat", "threat", "agent", 0.73, model_p=0.73, rule_score=0.7)], {})
    sure = score_call([f("threat", "threat", "agent", 0.9, model_p=0.9, **words)], {})
    wordless = score_call([f("threat", "threat", "agent", 0.9, model_p=0.9, attribution={"words": []})], {})
    assert guess.risk < backed.risk
    assert abs(guess.risk - backed.risk / 2) < 0.2 and sure.risk > backed.risk
    assert abs(wordless.risk - sure.risk / 2) < 0.2
    assert "model only" in guess.reasons[0].evidence and "model only" not in backed.reasons[0].evidence
    assert "model only" in wordless.reasons[0].evidence and "model only" not in sure.reasons[0].evidence
