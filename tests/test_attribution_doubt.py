"""A call whose speakers may be mixed up: findings that depend on who spoke carry the doubt (issue: honest
uncertainty), so a mono call with similar voices is not driven to the top of the queue by a guess."""

from __future__ import annotations

from qa.pipeline import analyze
from qa.records import CallMeta, Finding, Segment, SpeakerAssignment, Transcript
from qa.speakers.attribution import Attribution, with_doubt

THREAT = "你再不还钱，我就派人到你家门口，让你好看。"


def _transcript(confidence: float) -> Transcript:
    segs = [
        Segment("agent", 0.0, 3.0, "你好，这里是信达金融，请问是王先生吗？"),
        Segment("customer", 3.5, 5.0, "是我，什么事？"),
        Segment("agent", 5.5, 10.0, THREAT),
        Segment("customer", 10.5, 12.0, "我下周还。"),
    ]
    reason = "only one voice found in 12 s of speech" if confidence < 1 else "channels"
    speakers = [SpeakerAssignment("agent", "cluster 0", "diarization", confidence, reason),
                SpeakerAssignment("customer", "cluster 1", "diarization", confidence, reason)]
    return Transcript(None, "zh", 12.0, segs, speakers)


def test_uncertain_attribution_lowers_speaker_dependent_findings_only() -> None:
    threat = Finding("threat", "threat/violence", "agent", 5.5, 10.0, "派人到你家门口", 0.9, "rule:x", "why")
    pii = Finding("privacy", "privacy/pii_spoken", "customer", 3.5, 5.0, "110", 0.95, "rule:pii", "id number")
    sure = with_doubt([threat, pii], Attribution(0.9, "two voices"))
    assert sure == [threat, pii]
    doubted, kept = with_doubt([threat, pii], Attribution(0.3, "one voice heard"))
    assert kept == pii
    assert abs(doubted.score - 0.27) < 1e-6 and doubted.details["score_before_attribution"] == 0.9
    assert "Speaker attribution is uncertain" in doubted.explanation and "one voice heard" in doubted.explanation
    assert "说话人归属不确定" in doubted.details["attribution_note_zh"]


def test_the_same_threat_scores_lower_risk_when_the_speakers_may_be_swapped() -> None:
    meta = CallMeta(jurisdiction="cn", callee="debtor", direction="outbound")
    confident = analyze(_transcript(1.0), meta, use_model=False)
    doubtful = analyze(_transcript(0.3), meta, use_model=False)
    agent_threats = [f for f in confident.findings if f.label == "threat" and f.speaker == "agent"]
    assert agent_threats, "the rule must see the doorstep threat"
    doubted = [f for f in doubtful.findings if f.label == "threat" and f.speaker == "agent"]
    assert all("uncertain" in f.explanation for f in doubted)
    assert doubtful.risk < confident.risk


def test_call_page_and_queue_say_when_speakers_are_uncertain(db_url: str) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from qa.access.auth import Principal
    from qa.store import calls as store
    from qa.store.db import session_scope
    from qa.views.call import call_detail
    from qa.views.common import Filters
    from qa.views.queue import review_queue
    from tests.assess_helpers import add_call

    meta = CallMeta(jurisdiction="cn", callee="debtor", direction="outbound")
    with session_scope(db_url) as s:
        unsure = add_call(s, datetime(2025, 3, 4, 10, tzinfo=ZoneInfo("Asia/Shanghai")), assess=False)
        store.save_analysis(s, unsure, analyze(_transcript(0.3), meta, use_model=False, call_id=unsure))
        sure = add_call(s, datetime(2025, 3, 4, 11, tzinfo=ZoneInfo("Asia/Shanghai")), assess=False)
        store.save_analysis(s, sure, analyze(_transcript(1.0), meta, use_model=False, call_id=sure))
    user = Principal("c", "compliance")
    with session_scope(db_url) as s:
        d = call_detail(s, user, unsure)
        assert d.attribution_uncertain and "one voice" in d.attribution_reason
        assert not call_detail(s, user, sure).attribution_uncertain
        rows = {r.call_id: r for r in review_queue(s, user, Filters(review="all")).rows}
        assert rows[unsure].attribution_uncertain and not rows[sure].attribution_uncertain
