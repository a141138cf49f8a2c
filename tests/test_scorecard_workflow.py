"""The QA workflow on stored calls: every assessed call gets a scorecard; a reviewer's override recomputes the
score and survives re-analysis; an agent sees only their own calls and disputes within the window; a QA lead
accepts (the score changes) or rejects; calibration agreement; coaching; the weekly PDF/XLSX report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from qa.access.auth import PermissionDenied, Principal
from qa.cli import app
from qa.store.db import session_scope
from qa.store.models import AuditEvent, ScorecardRow
from qa.views import scorecards as sv
from tests.assess_helpers import assess_stored
from tests.scorecard_seed import seed

REVIEWER = Principal("rita", "reviewer")
REVIEWER2 = Principal("rob", "reviewer")
LEAD = Principal("lena", "compliance")
AGENT_US = Principal("dana", "agent", agent_id="EN-A01")
AGENT_OTHER = Principal("rick", "agent", agent_id="EN-A03")
MANAGER = Principal("mia", "manager", team="blue")


@pytest.fixture
def calls(db_url: str) -> dict[str, int]:
    return seed(db_url, users=False).calls


def test_assessed_calls_carry_a_scorecard(db_url: str, calls: dict[str, int]) -> None:
    with session_scope(db_url) as s:
        clean = sv.scorecard(s, REVIEWER, calls["en_01_clean_minimiranda"])
        bad = sv.scorecard(s, REVIEWER, calls["en_03_threat_insult"])
        zh = sv.scorecard(s, REVIEWER, calls["zh_01_clean_reminder"])
    assert clean.form == "us_collection" and not clean.fatal_failed and clean.percent == 100.0
    assert zh.form == "cn_collection" and not zh.fatal_failed and zh.percent == 100.0
    assert bad.fatal_failed and bad.score == 0
    failed = {i.id: i for i in bad.items if i.result == "fail"}
    assert {"mini_miranda", "no_threats"} <= set(failed)
    assert failed["no_threats"].coaching["compliant"]["zh"] and failed["no_threats"].coaching["compliant"]["en"]


def test_cli_prints_a_stored_scorecard(db_url: str, calls: dict[str, int]) -> None:
    cid = calls["en_03_threat_insult"]
    result = CliRunner().invoke(app, ["scorecard", str(cid), "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["call_id"] == cid and data["fatal_failed"] is True and data["form"] == "us_collection"
    missing = CliRunner().invoke(app, ["scorecard", "9999", "--json", "--db", db_url])
    assert missing.exit_code == 1


def test_override_recomputes_keeps_history_and_survives_reanalysis(db_url: str, calls: dict[str, int]) -> None:
    cid = calls["en_01_clean_minimiranda"]
    with session_scope(db_url) as s:
        view = sv.override_item(s, REVIEWER, cid, "courtesy", "fail", "rude tone at 0:40")
        assert view.percent < 100.0
        item = next(i for i in view.items if i.id == "courtesy")
        assert item.result == "fail" and item.auto is False and item.auto_result == "pass"
        with pytest.raises(PermissionDenied):
            sv.override_item(s, AGENT_US, cid, "courtesy", "pass", "no")
        with pytest.raises(ValueError):
            sv.override_item(s, REVIEWER, cid, "courtesy", "pass", "  ")
    with session_scope(db_url) as s:
        first_id = s.scalar(select(ScorecardRow.id).where(ScorecardRow.call_id == cid))
        assess_stored(s, cid)  # re-analysis rewrites the automatic items
    with session_scope(db_url) as s:
        view = sv.scorecard(s, REVIEWER, cid)
        assert next(i for i in view.items if i.id == "courtesy").result == "fail"
        assert [(h.item_id, h.previous, h.result, h.user) for h in view.history] == [("courtesy", "pass", "fail", "rita")]
        assert s.scalar(select(ScorecardRow.id).where(ScorecardRow.call_id == cid)) == first_id
        actions = [a.action for a in s.scalars(select(AuditEvent).where(AuditEvent.call_id == cid))]
    assert "score_override" in actions


def test_agent_sees_only_own_calls_and_disputes_within_the_window(db_url: str, calls: dict[str, int]) -> None:
    own, other = calls["en_04_customer_abuse"], calls["en_03_threat_insult"]
    with session_scope(db_url) as s:
        listed = {r.call_id for r in sv.scorecard_list(s, AGENT_US)}
        assert listed == {calls["en_01_clean_minimiranda"], own}
        assert {r.call_id for r in sv.scorecard_list(s, AGENT_US, agent_id="EN-A03")} == listed  # scope wins
        with pytest.raises(sv.NotFound):
            sv.scorecard(s, AGENT_US, other)
        with pytest.raises(sv.NotFound):
            sv.my_findings(s, AGENT_US, other)
        assert all(f.call_id == own for f in sv.my_findings(s, AGENT_US, own))
        with pytest.raises(sv.NotFound):
            sv.dispute_item(s, AGENT_US, other, "no_threats", "not me")
        with pytest.raises(PermissionDenied):
            sv.dispute_item(s, REVIEWER, own, "courtesy", "reviewers do not dispute")
        sv.acknowledge(s, AGENT_US, calls["en_01_clean_minimiranda"])
        sv.override_item(s, REVIEWER, own, "courtesy", "fail", "sounded curt")
        before = sv.scorecard(s, AGENT_US, own).score
        d = sv.dispute_item(s, AGENT_US, own, "courtesy", "I said please and thank you at 0:30")
        with pytest.raises(sv.NotAllowed):
            sv.dispute_item(s, AGENT_US, own, "courtesy", "again")
        assert [x.id for x in sv.dispute_queue(s, AGENT_US)] == [d.id]
        with pytest.raises(PermissionDenied):
            sv.decide_dispute(s, REVIEWER, d.id, True, "ok")  # reviewers are not QA leads
        assert [x.id for x in sv.dispute_queue(s, LEAD)] == [d.id]
        decided = sv.decide_dispute(s, LEAD, d.id, True, "agreed, the courtesy phrases are there")
        assert decided.status == "accepted"
        after = sv.scorecard(s, AGENT_US, own)
        assert after.score > before
        assert next(i for i in after.items if i.id == "courtesy").result == "pass"
        assert [h.kind for h in after.history] == ["override", "dispute"]
        d2 = sv.dispute_item(s, AGENT_US, own, "debt_details", "the balance was stated")
        rejected = sv.decide_dispute(s, LEAD, d2.id, False, "the item passed already")
        assert rejected.status == "rejected" and sv.scorecard(s, AGENT_US, own).score == after.score
        s.get(ScorecardRow, s.scalar(select(ScorecardRow.id).where(ScorecardRow.call_id == own))).scored_at = \
            datetime.now(UTC) - timedelta(days=8)
        s.flush()
        with pytest.raises(sv.NotAllowed, match="7-day"):
            sv.dispute_item(s, AGENT_US, own, "closing", "late")
        actions = {a.action for a in s.scalars(select(AuditEvent))}
    assert {"score_ack", "dispute", "dispute_decision", "open_scorecard"} <= actions


def test_a_manager_sees_only_the_team(db_url: str, calls: dict[str, int]) -> None:
    with session_scope(db_url) as s:
        assert {r.team for r in sv.scorecard_list(s, MANAGER)} == {"blue"}
        with pytest.raises(sv.NotFound):
            sv.scorecard(s, MANAGER, calls["zh_01_clean_reminder"])


def test_calibration_is_blind_until_all_have_scored_then_shows_agreement(db_url: str, calls: dict[str, int]) -> None:
    from qa.access.users import add_user

    cid = calls["en_03_threat_insult"]
    with session_scope(db_url) as s:
        for u in (REVIEWER, REVIEWER2):
            add_user(s, u.name, u.role, "password-123")
        with pytest.raises(PermissionDenied):
            sv.create_calibration(s, REVIEWER, "w45", [cid], ["rita", "rob"])
        sid = sv.create_calibration(s, LEAD, "w45", [cid], ["rita", "rob"])
        auto = {i.id: i.result for i in sv.scorecard(s, LEAD, cid).items}
        sv.submit_calibration(s, REVIEWER, sid, cid, auto)
        blind = sv.calibration(s, REVIEWER2, sid)
        assert blind.items == [] and blind.my_scores[cid] == {}
        theirs = dict(auto, courtesy="pass" if auto["courtesy"] == "fail" else "fail")
        sv.submit_calibration(s, REVIEWER2, sid, cid, theirs)
        view = sv.calibration(s, REVIEWER, sid)
    assert set(view.submitted) == {"rita", "rob"}
    by = {a.item_id: a for a in view.items}
    assert by["courtesy"].percent_agreement == 0.0 and by["mini_miranda"].percent_agreement == 1.0
    assert by["courtesy"].auto_agreement == 0.5 and by["mini_miranda"].auto_agreement == 1.0
    assert view.overall_kappa is not None and 0.5 < view.overall_kappa < 1.0
    assert view.overall_agreement == pytest.approx((len(auto) - 1) / len(auto), abs=1e-3)


def test_coaching_assigned_done_and_pass_rates_by_week(db_url: str, calls: dict[str, int]) -> None:
    cid = calls["en_04_customer_abuse"]
    with session_scope(db_url) as s:
        aid = sv.assign_coaching(s, LEAD, "EN-A01", "courtesy", [cid], "listen to 0:30")
        with pytest.raises(ValueError):
            sv.assign_coaching(s, LEAD, "EN-A01", "courtesy", [calls["en_03_threat_insult"]])  # not her call
        mine = sv.coaching_list(s, AGENT_US)
        assert [c.id for c in mine] == [aid] and mine[0].entry["compliant"]["en"]
        assert sv.coaching_list(s, AGENT_OTHER) == []
        with pytest.raises(sv.NotFound):
            sv.coaching_done(s, AGENT_OTHER, aid)
        sv.coaching_done(s, AGENT_US, aid)
        assert sv.coaching_list(s, AGENT_US)[0].status == "done"
        rates = sv.agent_pass_rates(s, AGENT_US, agent_id="EN-A03")  # an agent always gets their own
    weeks = {r.week for r in rates}
    assert weeks == {"2026-W45"}
    courtesy = next(r for r in rates if r.item_id == "courtesy")
    assert courtesy.applicable == 2 and courtesy.rate == 1.0


def test_weekly_report_pdf_and_xlsx_contain_the_team_scores(db_url: str, calls: dict[str, int],
                                                           tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    pdf, xlsx = tmp_path / "blue.pdf", tmp_path / "blue.xlsx"
    for out in (pdf, xlsx):
        result = CliRunner().invoke(app, ["qa-report", "--team", "blue", "--week", "2026-W45", "-o", str(out),
                                          "--db", db_url])
        assert result.exit_code == 0, result.output
    with session_scope(db_url) as s:
        report = sv.team_week_report(s, LEAD, "blue", "2026-W45")
    assert report.calls == 3 and {a.agent_id for a in report.agents} == {"EN-A01", "EN-A03"}
    text = "".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    assert "blue" in text and "2026-W45" in text and "EN-A01" in text and "EN-A03" in text
    assert "质检周报" in text
    for a in report.agents:
        assert f"{a.mean_percent:.1f}%" in text
    wb = load_workbook(xlsx)
    agents = {row[0]: row for row in wb["agents"].iter_rows(min_row=5, values_only=True)}
    assert agents["EN-A03"][2] == 0.0 and agents["EN-A03"][3] == 1  # en_03: fatal, score 0
    assert agents["EN-A01"][1] == 2 and agents["EN-A01"][2] == 100.0
    calls_sheet = list(wb["calls"].iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in calls_sheet} == {calls["en_01_clean_minimiranda"], calls["en_03_threat_insult"],
                                         calls["en_04_customer_abuse"]}
    bad = CliRunner().invoke(app, ["qa-report", "--team", "blue", "--week", "2026-45", "-o", str(pdf), "--db", db_url])
    assert bad.exit_code == 2 and "ISO week" in bad.output
