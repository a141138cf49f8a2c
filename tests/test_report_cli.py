"""`callqa report`, `agents`, `alerts`, `assess` over a constructed history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.store.db import session_scope
from tests.assess_helpers import add_call, insult_to_agent, threat

SH = ZoneInfo("Asia/Shanghai")
runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture
def history(db_url: str) -> dict[str, int]:
    day = datetime(2025, 3, 4, 10, 0, tzinfo=SH)
    with session_scope(db_url) as s:
        risky = add_call(s, day.replace(hour=22, minute=30), account="R1", findings=[threat(16.0)],
                         segments=[("agent", 0.5, 8.0, "喂，钱什么时候还"), ("customer", 8.5, 15.0, "我要打12378投诉你们"),
                                   ("agent", 16.0, 19.0, "你等着，我们上门找你")])
        clean = add_call(s, day, account="R2")
        for i in range(3):
            add_call(s, day + timedelta(minutes=1 + i), agent="ag9", account=f"S{i}", findings=[insult_to_agent(9.0)])
    return {"risky": risky, "clean": clean}


def test_report_json_has_findings_measures_scores_and_reasons(db_url: str, history: dict[str, int]) -> None:
    res = runner.invoke(app, ["report", str(history["risky"]), "--db", db_url, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {"call_id", "findings", "measures", "risk_score", "complaint_risk", "reasons"} <= set(data)
    subtypes = {f["subtype"] for f in data["findings"]}
    assert {"threat/violence", "compliance/calling_hours", "compliance/missing_disclosure/recording_notice"} <= subtypes
    assert data["reasons"][0]["reason"] == "agent threatened the customer"
    assert data["measures"]["complaint_intent_count"] >= 1
    clean = json.loads(runner.invoke(app, ["report", str(history["clean"]), "--db", db_url, "--json"]).output)
    assert data["risk_score"] > clean["risk_score"] and data["complaint_risk"] > clean["complaint_risk"]


def test_report_table_and_missing_call(db_url: str, history: dict[str, int]) -> None:
    res = runner.invoke(app, ["report", str(history["risky"]), "--db", db_url])
    assert res.exit_code == 0, res.output
    assert "GB/T 45251-2025" in res.output and "agent threatened the customer" in res.output
    assert "2025-03-04 22:30 Asia/Shanghai" in res.output  # shown in debtor local time
    missing = runner.invoke(app, ["report", "999", "--db", db_url])
    assert missing.exit_code == 1 and "no call with id 999" in missing.output


def test_agents_and_alerts(db_url: str, history: dict[str, int]) -> None:
    res = runner.invoke(app, ["agents", "--db", db_url, "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["agent_id"]: r for r in json.loads(res.output)}
    assert rows["ag9"]["abuse_count"] == 3 and rows["ag9"]["wellbeing_last_day"] < rows["ag1"]["wellbeing_last_day"]
    table = runner.invoke(app, ["agents", "--db", db_url])
    assert table.exit_code == 0 and "ag9" in table.output
    res = runner.invoke(app, ["alerts", "--db", db_url, "--json"])
    kinds = {(a["agent_id"], a["kind"]) for a in json.loads(res.output)}
    assert ("ag9", "hostile_streak") in kinds and ("ag9", "abuse_received") in kinds
    assert all(a["evidence"] for a in json.loads(res.output))
    assert "hostile calls in a row" in runner.invoke(app, ["alerts", "--db", db_url]).output


def test_assess_all_is_idempotent(db_url: str, history: dict[str, int]) -> None:
    before = runner.invoke(app, ["report", str(history["risky"]), "--db", db_url, "--json"]).output
    res = runner.invoke(app, ["assess", "--all", "--db", db_url])
    assert res.exit_code == 0 and "assessed 5 call(s)" in res.output
    after = runner.invoke(app, ["report", str(history["risky"]), "--db", db_url, "--json"]).output
    strip = lambda s: [{k: v for k, v in f.items() if k != "id"} for f in json.loads(s)["findings"]]  # noqa: E731
    assert strip(after) == strip(before)
    assert json.loads(after)["risk_score"] == json.loads(before)["risk_score"]
