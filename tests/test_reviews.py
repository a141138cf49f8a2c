"""Reviewers' work survives re-analysis, and `callqa verdict` judges findings like the dashboard does."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from qa.access.auth import Principal
from qa.access.users import add_user, set_active
from qa.assess.scoring import review_decision
from qa.cli import app
from qa.records import CallAnalysis, CallExposure, Finding, Segment, Transcript
from qa.store import calls as store
from qa.store.db import session_scope
from qa.store.models import AuditEvent, Call, FindingRow, SegmentRow, Verdict
from qa.store.reviews import add_verdict
from qa.views.call import call_detail
from qa.views.common import Filters
from qa.views.overview import overview
from qa.views.queue import review_queue
from tests.assess_helpers import CN_OPENING, add_call

SH = ZoneInfo("Asia/Shanghai")
runner = CliRunner(env={"COLUMNS": "250"})
THREAT_TEXT = "你等着，我们上门找你家人，让你好看"
INSULT_TEXT = "你们这群骗子"


def _threat(start: float = 16.0, end: float = 19.0) -> Finding:
    return Finding("threat", "threat/violence", "agent", start, end, "上门找你", 0.95, "rule:threat.violence",
                   "threat of violence", segment_index=2)


def _insult() -> Finding:
    return Finding("harassment", "harassment/insult", "customer", 19.5, 22.0, "骗子", 0.9, "model", "insult",
                   segment_index=3, details={"direction": "to_agent"})


def _analysis(findings: list[Finding], risk: float) -> CallAnalysis:
    """What `qa.pipeline.analyze` returns for these findings (the review flag decided the same way)."""
    tr = Transcript(None, "zh", 22.5, [Segment("agent", 0.5, 8.0, CN_OPENING)])
    review = review_decision(findings)
    return CallAnalysis(tr, findings, {}, risk, 0.1, [], CallExposure(), flagged=review.flagged,
                        flag_reasons=review.reasons)


def _rows(s, call_id: int) -> dict[str, FindingRow]:  # type: ignore[no-untyped-def]
    return {r.subtype: r for r in s.scalars(select(FindingRow).where(FindingRow.call_id == call_id))}


def test_reconcile_keeps_ids_verdicts_and_supersedes_only_reviewed_findings(db_url: str) -> None:
    with session_scope(db_url) as s:
        cid = add_call(s, datetime(2025, 3, 4, 10, tzinfo=SH), assess=False)
        store.save_analysis(s, cid, _analysis([_threat(), _insult(), Finding(
            "stress", "stress/distress_words", "customer", 9.0, 10.0, "活不下去", 0.7, "rule", "distress")], 80.0))
        rows = _rows(s, cid)
        threat_id, insult_id = rows["threat/violence"].id, rows["harassment/insult"].id
        add_verdict(s, threat_id, "rev", "confirm", "heard it on the recording")
        add_verdict(s, insult_id, "rev", "escalate")
        # A new model: the threat is found a little later (overlapping), the insult and the distress no longer fire.
        store.save_analysis(s, cid, _analysis([_threat(16.4, 19.6)], 60.0))
        rows = _rows(s, cid)
        assert rows["threat/violence"].id == threat_id and rows["threat/violence"].status == "active"
        assert rows["threat/violence"].start == 16.4
        assert [(v.verdict, v.note) for v in rows["threat/violence"].verdicts] == [
            ("confirm", "heard it on the recording")]
        assert rows["harassment/insult"].id == insult_id and rows["harassment/insult"].status == "superseded"
        assert [v.verdict for v in rows["harassment/insult"].verdicts] == ["escalate"]
        assert "stress/distress_words" not in rows  # nobody reviewed it: gone
        # The insult fires again on a later run: the same row, active again, verdict still there.
        store.save_analysis(s, cid, _analysis([_threat(), _insult()], 80.0))
        rows = _rows(s, cid)
        assert rows["harassment/insult"].id == insult_id and rows["harassment/insult"].status == "active"


def test_superseded_findings_are_shown_but_not_counted(db_url: str) -> None:
    with session_scope(db_url) as s:
        cid = add_call(s, datetime(2025, 3, 4, 10, tzinfo=SH), assess=False)
        store.save_analysis(s, cid, _analysis([_threat(), _insult()], 80.0))
        insult = _rows(s, cid)["harassment/insult"]
        add_verdict(s, insult.id, "rev", "confirm")
        store.save_analysis(s, cid, _analysis([_threat()], 60.0))
    user = Principal("c", "compliance")
    with session_scope(db_url) as s:
        page = review_queue(s, user)
        row = next(r for r in page.rows if r.call_id == cid)
        assert row.labels == ["threat"] and row.findings == 1 and row.reviewed == 0
        assert overview(s, user).label_calls.get("harassment", 0) == 0
        assert not review_queue(s, user, Filters(labels=("harassment",))).rows
        detail = call_detail(s, user, cid)
        assert {(f.subtype, f.status) for f in detail.findings} == {("threat/violence", "active"),
                                                                     ("harassment/insult", "superseded")}
        assert [r["subtype"] for r in s.get(Call, cid).flag_reasons] == ["threat/violence"]


def test_a_superseded_finding_never_flags_the_call(db_url: str) -> None:
    with session_scope(db_url) as s:
        cid = add_call(s, datetime(2025, 3, 4, 10, tzinfo=SH), assess=False)
        store.save_analysis(s, cid, _analysis([_insult()], 50.0))
        assert s.get(Call, cid).flagged  # abuse received at 0.90 reaches its review threshold (0.85)
        add_verdict(s, _rows(s, cid)["harassment/insult"].id, "rev", "confirm")
        store.save_analysis(s, cid, _analysis([], 5.0))  # a new model no longer finds it: superseded, kept
        call = s.get(Call, cid)
        assert _rows(s, cid)["harassment/insult"].status == "superseded"
        assert not call.flagged and call.flag_reasons == []
    user = Principal("c", "compliance")
    with session_scope(db_url) as s:
        assert cid not in [r.call_id for r in review_queue(s, user).rows]
        assert overview(s, user).flagged == 0
        assert cid in [r.call_id for r in review_queue(s, user, Filters(review="all")).rows]


def _users(url: str) -> None:
    with session_scope(url) as s:
        add_user(s, "rev", "reviewer", "reviewer-pass-2025")
        add_user(s, "boss", "manager", "manager-pass-2025", team="A")
        add_user(s, "gone", "compliance", "compliance-pass-2025")
        set_active(s, "gone", False)


def test_verdict_cli_checks_the_user_and_the_report_shows_it(db_url: str) -> None:
    _users(db_url)
    with session_scope(db_url) as s:
        cid = add_call(s, datetime(2025, 3, 4, 10, tzinfo=SH), assess=False)
        store.save_analysis(s, cid, _analysis([_threat()], 60.0))
        fid = _rows(s, cid)["threat/violence"].id
    for user, says in (("nobody", "no active user named 'nobody'"), ("gone", "no active user named 'gone'"),
                       ("boss", "user 'boss' (role manager) may not judge findings")):
        res = runner.invoke(app, ["verdict", str(fid), "escalate", "--user", user, "--db", db_url])
        assert res.exit_code == 1 and says in res.output, res.output
    res = runner.invoke(app, ["verdict", "999999", "confirm", "--user", "rev", "--db", db_url])
    assert res.exit_code == 1 and "no finding with id 999999" in res.output
    res = runner.invoke(app, ["verdict", str(fid), "escalate", "--user", "rev", "--note", "threat to family",
                              "--db", db_url])
    assert res.exit_code == 0, res.output
    with session_scope(db_url) as s:
        assert s.scalar(select(Verdict).where(Verdict.finding_id == fid)).user == "rev"
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "verdict")).all()
        assert [(a.user, a.call_id, a.detail["finding_id"], a.detail["verdict"]) for a in audit] == [
            ("rev", cid, fid, "escalate")]
    data = json.loads(runner.invoke(app, ["report", str(cid), "--db", db_url, "--json"]).output)
    f = next(x for x in data["findings"] if x["id"] == fid)
    assert f["status"] == "active"
    assert [(v["verdict"], v["user"], v["note"]) for v in f["verdicts"]] == [("escalate", "rev", "threat to family")]
    assert f["verdicts"][0]["at"].startswith(datetime.now().strftime("%Y"))


@pytest.mark.slow
def test_detect_again_keeps_reviewers_work_on_real_detection(db_url: str) -> None:
    """`callqa detect` with the real detectors: a matched finding keeps id, verdict and note; one that no
    longer fires after the transcript changed is kept as superseded and drops out of the risk score."""
    _users(db_url)
    with session_scope(db_url) as s:
        cid = add_call(s, datetime(2025, 3, 4, 10, tzinfo=SH), assess=False, segments=[
            ("agent", 0.5, 8.0, CN_OPENING), ("customer", 8.5, 15.0, "我没钱"), ("agent", 16.0, 19.0, THREAT_TEXT),
            ("customer", 19.5, 22.0, INSULT_TEXT)])
    assert runner.invoke(app, ["detect", str(cid), "--db", db_url]).exit_code == 0
    before = json.loads(runner.invoke(app, ["report", str(cid), "--db", db_url, "--json"]).output)
    ids = {f["subtype"]: f["id"] for f in before["findings"]}
    assert {"threat/violence", "harassment/insult"} <= set(ids)
    for sub, verdict in (("threat/violence", "confirm"), ("harassment/insult", "escalate")):
        res = runner.invoke(app, ["verdict", str(ids[sub]), verdict, "--user", "rev", "--note", f"{sub} checked",
                                  "--db", db_url])
        assert res.exit_code == 0, res.output
    # Re-detection on the same transcript: every finding keeps its row, verdict and note.
    assert runner.invoke(app, ["detect", "--all", "--db", db_url]).exit_code == 0
    again = json.loads(runner.invoke(app, ["report", str(cid), "--db", db_url, "--json"]).output)
    kept = {f["id"]: f for f in again["findings"]}
    for sub, verdict in (("threat/violence", "confirm"), ("harassment/insult", "escalate")):
        f = kept[ids[sub]]
        assert f["status"] == "active" and [(v["verdict"], v["note"]) for v in f["verdicts"]] == [
            (verdict, f"{sub} checked")]
    assert again["risk_score"] == before["risk_score"]
    # The agent's line is corrected (as a better ASR model would hear it): the threat no longer fires.
    with session_scope(db_url) as s:
        row = s.scalar(select(SegmentRow).where(SegmentRow.call_id == cid, SegmentRow.idx == 2))
        row.text = "请您按合同约定尽快还款"
    assert runner.invoke(app, ["detect", str(cid), "--db", db_url]).exit_code == 0
    after = json.loads(runner.invoke(app, ["report", str(cid), "--db", db_url, "--json"]).output)
    threat = next(f for f in after["findings"] if f["id"] == ids["threat/violence"])
    assert threat["status"] == "superseded" and threat["verdicts"][0]["note"] == "threat/violence checked"
    assert after["risk_score"] < before["risk_score"]
    assert all(r["key"] != "agent_threat" for r in after["reasons"])
    with session_scope(db_url) as s:
        assert s.get(Call, cid).risk_score == after["risk_score"]
