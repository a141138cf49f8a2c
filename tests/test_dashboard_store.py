"""The store queries behind the dashboard: ordering, pagination, filters, search, masking, audit, export."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from qa.access import auth
from qa.access.auth import PermissionDenied, Principal
from qa.cli import app
from qa.access.redact import mask_pii
from qa.views.audit import audit_log
from qa.views.call import add_coaching_note, audio_for_playback, call_detail, record_open_call, save_verdict
from qa.views.common import Filters, NotFound
from qa.views.compliance import compliance_view
from qa.views.export import case_file, render_csv, render_html, write_case
from qa.views.overview import overview
from qa.views.queue import review_queue
from qa.views.wellbeing import AbuseDay, wellbeing_view
from qa.store.db import get_engine, session_scope
from qa.store.models import AuditEvent, Call, FindingRow, SegmentRow, Verdict
from tests.dashboard_seed import EMAIL, PHONE, THREAT_SPAN, seed

REVIEWER = Principal("reviewer", "reviewer")
COMPLIANCE = Principal("compliance", "compliance")
MANAGER = Principal("manager", "manager", "A")
ADMIN = Principal("admin", "admin")


def _bulk_calls(url: str, n: int) -> None:
    """n processed calls with risks that tie in groups of 3 (to exercise the keyset tie-break)."""
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [{"content_hash": f"b{i}", "path": "/x.wav", "status": "done", "risk_score": float(i // 3),
             "agent_id": f"ag{i % 4}", "team": "T", "language": "zh", "started_at": t0 + timedelta(hours=i),
             "created_at": t0, "updated_at": t0, "flagged": True} for i in range(n)]
    rows += [{**rows[0], "content_hash": "null-risk", "risk_score": None}]
    with get_engine(url).begin() as conn:
        conn.execute(insert(Call), rows)


def test_queue_keyset_pagination_visits_every_call_once_in_risk_order(db_url):
    _bulk_calls(db_url, 130)
    seen, cursor, pages = [], None, 0
    with session_scope(db_url) as s:
        while True:
            page = review_queue(s, REVIEWER, cursor=cursor, page_size=25)
            assert page.total == 131
            seen += [(r.risk_score, r.call_id) for r in page.rows]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert pages == 6 and len(seen) == 131 and len({cid for _, cid in seen}) == 131
    ranked = [x for x in seen if x[0] is not None]
    assert ranked == sorted(ranked, reverse=True)
    assert seen[-1][0] is None  # unscored calls come last


def test_queue_filters_and_labels(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        assert [r.call_id for r in review_queue(s, REVIEWER, Filters(labels=("harassment",))).rows] == [d.english]
        assert [r.call_id for r in review_queue(s, REVIEWER, Filters(teams=("A",))).rows] == [d.riskiest]
        every = Filters(teams=("A",), review="all")
        assert [r.call_id for r in review_queue(s, REVIEWER, every).rows] == [d.riskiest, d.clean]
        assert [r.call_id for r in review_queue(s, REVIEWER, Filters(languages=("en",))).rows] == [d.english]
        only_day = Filters(date_from=date(2025, 3, 4), date_to=date(2025, 3, 4))
        assert [r.call_id for r in review_queue(s, REVIEWER, only_day).rows] == [d.english]
        rows = review_queue(s, REVIEWER).rows
        assert d.call_ids[3] not in [r.call_id for r in rows]  # pending calls are not in the queue
        assert rows[0].labels == ["threat", "privacy"] and rows[0].findings == 2


def test_transcript_search_chinese_english_traditional(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        def ids(term: str) -> list[int]:
            return [r.call_id for r in review_queue(s, REVIEWER, Filters(search=term)).rows]

        assert ids("还钱") == [d.riskiest]
        assert ids("還錢") == [d.riskiest]  # Traditional input finds the Simplified transcript
        assert ids("IDIOTS") == [d.english]
        assert ids("逾期") == [d.clean]
        assert ids("期%") == [] and ids("_") == []  # LIKE wildcards are literal
        assert ids("'; DROP TABLE calls; --") == []
        assert s.scalar(select(func.count(Call.id))) == 4  # bound parameters: nothing was executed


def test_number_search_needs_pii_permission(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        with pytest.raises(PermissionDenied):
            review_queue(s, REVIEWER, Filters(search=PHONE[:7]))
        assert [r.call_id for r in review_queue(s, COMPLIANCE, Filters(search=PHONE)).rows] == [d.riskiest]


def test_overview_figures(db_url):
    seed(db_url)
    with session_scope(db_url) as s:
        o = overview(s, REVIEWER)
        assert (o.processed, o.flagged) == (3, 2)
        assert o.label_calls == {"threat": 1, "privacy": 2, "harassment": 1}
        assert o.risk_histogram[90] == 1 and o.risk_histogram[70] == 1 and o.risk_histogram[10] == 1
        assert [(t.day, t.calls, t.flagged) for t in o.trend] == [
            (date(2025, 3, 3), 1, 1), (date(2025, 3, 4), 1, 1), (date(2025, 3, 5), 1, 0)]
        assert {r.source for r in o.top_rules} == {"rule:threat.visit_family", "rule:pii.cn_mobile",
                                                   "model:e5-cls-v1", "callqa-utterance-head@1.0.0"}
        assert overview(s, REVIEWER, Filters(teams=("B",))).processed == 1


def test_clean_call_below_the_review_threshold_is_not_queued_but_its_findings_show(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        assert d.clean not in [r.call_id for r in review_queue(s, REVIEWER).rows]
        assert overview(s, REVIEWER).flagged == 2  # of 3 processed: the clean call does not count
        detail = call_detail(s, REVIEWER, d.clean)
        assert [f.label for f in detail.findings] == ["privacy"]


def test_call_detail_masks_pii_for_reviewer_and_manager_only(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        add_coaching_note(s, COMPLIANCE, d.riskiest, f"customer gave {PHONE}; do not repeat it")
        for user in (REVIEWER, MANAGER):
            detail = call_detail(s, user, d.riskiest)
            blob = json.dumps([x.text for x in detail.segments] + [f.span for f in detail.findings]
                              + [n.note for n in detail.notes] + [detail.account_id], ensure_ascii=False)
            assert PHONE not in blob and "6222021234567890" not in blob and detail.masked
            assert THREAT_SPAN in blob  # only PII is masked, not the evidence
        en = call_detail(s, REVIEWER, d.english)
        assert EMAIL not in " ".join(x.text for x in en.segments)
        with pytest.raises(NotFound):  # the English call is team B's: the team-A manager does not see it
            call_detail(s, MANAGER, d.english)
        for user in (COMPLIANCE, ADMIN):
            detail = call_detail(s, user, d.riskiest)
            assert PHONE in detail.segments[1].text and not detail.masked


def test_verdicts_are_stored_audited_and_exported_as_labels(db_url, tmp_path):
    d = seed(db_url)
    with session_scope(db_url) as s:
        save_verdict(s, REVIEWER, d.threat_finding, "confirm", "clear threat")
        save_verdict(s, COMPLIANCE, d.threat_finding, "escalate")
        save_verdict(s, REVIEWER, d.insult_finding, "dismiss")
        with pytest.raises(ValueError):
            save_verdict(s, REVIEWER, d.insult_finding, "maybe")
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count(Verdict.id))) == 3
        audit = [(e.user, e.action, e.call_id) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert audit == [("reviewer", "verdict", d.riskiest), ("compliance", "verdict", d.riskiest),
                         ("reviewer", "verdict", d.english)]
        detail = call_detail(s, REVIEWER, d.riskiest)
        threat = next(f for f in detail.findings if f.id == d.threat_finding)
        assert [v.verdict for v in threat.verdicts] == ["confirm", "escalate"] and threat.latest == "escalate"
        cv = compliance_view(s, COMPLIANCE)
        assert [c.call_id for c in cv.open_cases] == [d.riskiest]
        assert "harassment" not in {r.label for r in cv.by_rule}  # dismissed: not a violation
    out = tmp_path / "labels.jsonl"
    r = CliRunner().invoke(app, ["export-labels", "--output", str(out), "--db", db_url])
    assert r.exit_code == 0, r.output
    labels = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {(x["label"], x["verdict"], x["speaker"]) for x in labels} == {("threat", "escalate", "agent"),
                                                                         ("harassment", "dismiss", "customer")}
    assert next(x for x in labels if x["label"] == "threat")["text"].startswith("你再不还钱")


def test_case_export_has_everything_and_is_escaped(db_url, tmp_path):
    d = seed(db_url)
    with session_scope(db_url) as s:
        s.add(SegmentRow(call_id=d.riskiest, idx=3, speaker="customer", start=14.0, end=15.0,
                         text="<script>alert(1)</script>", words=[]))
        save_verdict(s, REVIEWER, d.threat_finding, "escalate", "family threatened")
        case = case_file(s, COMPLIANCE, d.riskiest)
    html_doc = render_html(case, "zh")
    assert "<script>alert" not in html_doc and "&lt;script&gt;" in html_doc
    assert THREAT_SPAN in html_doc and "family threatened" in html_doc and "案件档案" in html_doc
    assert PHONE in html_doc  # compliance sees the case unmasked
    assert [a.action for a in case.audit] == ["verdict", "export"]
    csv_doc = render_csv(case)
    assert "threat/violence" in csv_doc and "escalate" in csv_doc
    html_path, csv_path = write_case(case, tmp_path, "zh")
    assert html_path.read_text(encoding="utf-8") == html_doc and csv_path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_export_is_masked_for_a_role_without_pii(db_url, monkeypatch):
    """If a site lets managers export, the export carries the manager's masking."""
    d = seed(db_url)
    monkeypatch.setitem(auth.PERMISSIONS, "export", frozenset({"compliance", "admin", "manager"}))
    with session_scope(db_url) as s:
        case = case_file(s, MANAGER, d.riskiest)
    assert case.masked
    assert PHONE not in render_html(case) and PHONE not in render_csv(case)
    assert mask_pii(PHONE) in render_csv(case)


def test_wellbeing_scoped_to_manager_team(db_url):
    seed(db_url)
    with session_scope(db_url) as s:
        team_a = wellbeing_view(s, MANAGER)
        assert team_a.agents == ["a1", "a2"]
        assert {a.agent_id for a in team_a.alerts} == {"a1"}
        assert PHONE not in team_a.alerts[0].message.en + team_a.alerts[0].message.zh  # managers get masked alert text
        everyone = wellbeing_view(s, ADMIN)
        assert everyone.agents == ["a1", "a2", "b1"]
        b1_abuse = [a for a in everyone.abuse if a.agent_id == "b1"]
        assert b1_abuse == [AbuseDay("b1", date(2025, 3, 4), abusive_findings=1, calls=1)]
        assert [x.wellbeing for x in team_a.days if x.agent_id == "a1"] == [80, 65, 50]
        why = team_a.why["a1"]  # the latest day, its penalties largest first, in both languages
        assert (why.day, why.wellbeing) == (date(2025, 3, 5), 50)
        assert [(p.reason.en, p.reason.zh, p.value, p.points) for p in why.penalties] == [
            ("abuse received from customers", "受到客户辱骂或威胁", 4, 24.0),
            ("hostile calls in a row", "连续的敌意通话", 3, 10.0)]
        assert team_a.why["a2"].penalties == [] and "b1" not in team_a.why


def test_audit_log_filters(db_url):
    d = seed(db_url)
    with session_scope(db_url) as s:
        record_open_call(s, REVIEWER, d.riskiest)
        audio_for_playback(s, REVIEWER, d.riskiest, 9.0, d.threat_finding)
        page = audit_log(s, ADMIN, call_id=d.riskiest)
        assert [r.action for r in page.rows] == ["play_audio", "open_call"] and page.total == 2
        assert audit_log(s, COMPLIANCE, action="open_call").total == 1


def test_no_transcript_or_pii_in_logs(db_url, caplog):
    d = seed(db_url)
    caplog.set_level(logging.DEBUG)
    with session_scope(db_url) as s:
        review_queue(s, COMPLIANCE, Filters(search=PHONE))
        call_detail(s, COMPLIANCE, d.riskiest)
        save_verdict(s, COMPLIANCE, d.pii_finding, "confirm", f"number {PHONE} read out")
        render_html(case_file(s, COMPLIANCE, d.riskiest))
        details = [json.dumps(e.detail, ensure_ascii=False) for e in s.scalars(select(AuditEvent))]
    logged = caplog.text
    assert "audit" in logged  # something was logged
    for secret in (PHONE, "还钱", "电话"):
        assert secret not in logged
        assert all(secret not in x for x in details)  # the search term and note stay out of the audit log


def test_finding_text_pii_masked_by_span(db_url):
    """A spoken number the regexes miss is still masked through its privacy/pii_spoken finding."""
    d = seed(db_url)
    with session_scope(db_url) as s:
        s.add(SegmentRow(call_id=d.english, idx=2, speaker="customer", start=10.0, end=12.0,
                         text="my card ends in four four two one", words=[]))
        s.add(FindingRow(call_id=d.english, segment_idx=2, label="privacy", subtype="privacy/pii_spoken",
                         speaker="customer", start=10.0, end=12.0, span="four four two one", score=0.7,
                         source="rule:pii.spoken", explanation="card digits read out"))
    with session_scope(db_url) as s:
        detail = call_detail(s, REVIEWER, d.english)
    assert detail.segments[-1].text == "my card ends in **** **** *** ***"
