"""Agent wellbeing: a daily index (0-100, higher is better) from the exposure an agent had, and alerts when
thresholds are crossed, each with its evidence. Thresholds and weights: `qa/data/wellbeing.yaml`.

Pure functions over plain records: the caller reads the agent's calls from `qa.store.reports` and stores the
AgentDay/Alert rows through it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from qa.assess.compliance.packs import parse_clock
from qa.config import get_settings
from qa.data import load_or_site
from qa.records import (
    AlertSpec,
    CallExposure,
    DayResult,
    Finding,
    StoredCall,
    is_abuse_received,
)


def load_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """`path`, else the site's file (`CALLQA_WELLBEING`), else the bundled `qa/data/wellbeing.yaml`."""
    return load_or_site("wellbeing", path or get_settings().wellbeing)


@dataclass
class AgentCall:
    """What wellbeing needs to know about one of an agent's calls."""

    call_id: int
    started_at: datetime  # aware
    duration: float
    risk: float | None = None
    abuse: list[tuple[str, float]] = field(default_factory=list)  # (subtype, score) of abuse received
    stress_voice: int = 0  # stress/voice findings on the agent
    arousal: float | None = None  # mean positive z of the agent's core voice markers in this call
    self_harm: bool = False

    @classmethod
    def of(cls, call: StoredCall) -> AgentCall:
        e = call_exposure(call.findings, call.measures)
        return cls(call.call_id, call.started_at, call.duration, call.risk, e.abuse, e.stress_voice, e.arousal,
                   e.self_harm)

    @property
    def end(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration or 0.0)

    @property
    def hostile(self) -> bool:
        return bool(self.abuse)


def call_exposure(findings: Sequence[Finding], measures: Mapping[str, Any] | None) -> CallExposure:
    """What a call's (active) findings and measures add to its agent's day."""
    voice = (measures or {}).get("voice") or {}
    return CallExposure(abuse=[(f.subtype, f.score) for f in findings if is_abuse_received(f)],
                        stress_voice=sum(1 for f in findings if f.subtype == "stress/voice"),
                        arousal=voice.get("agent_arousal"),
                        self_harm=any(f.subtype == "threat/self_harm" for f in findings))


def _shift(agent_id: str, cfg: Mapping[str, Any]) -> tuple[Any, Any, set[int]]:
    spec = {**cfg["shift"], **(cfg["shift"].get("agents") or {}).get(agent_id, {})}
    return parse_clock(spec["start"]), parse_clock(spec["end"]), set(spec.get("workdays", range(7)))


def _hhmm(dt: datetime, zone: ZoneInfo) -> str:
    return dt.astimezone(zone).strftime("%H:%M")


def day_metrics(agent_id: str, calls: Sequence[AgentCall], zone: ZoneInfo,
                cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Exposure metrics of one agent-day; `calls` are that day's calls."""
    cfg = cfg or load_config()
    calls = sorted(calls, key=lambda c: c.started_at)
    start, end, workdays = _shift(agent_id, cfg)
    streak = best = 0
    best_ids: list[int] = []
    cur_ids: list[int] = []
    for c in calls:
        if c.hostile:
            streak += 1
            cur_ids.append(c.call_id)
            if streak > best:
                best, best_ids = streak, list(cur_ids)
        else:
            streak, cur_ids = 0, []
    off = [c for c in calls if c.started_at.astimezone(zone).weekday() not in workdays
           or not (start <= c.started_at.astimezone(zone).time().replace(tzinfo=None) < end)]
    hard_min = float(cfg["hard_call"]["min_risk"])
    min_rec = float(cfg["min_recovery_s"])
    short: list[dict[str, Any]] = []
    gaps = []
    for a, b in zip(calls, calls[1:]):
        if a.hostile or a.self_harm or a.stress_voice or (a.risk or 0) >= hard_min:
            gap = (b.started_at - a.end).total_seconds()
            gaps.append(gap)
            if gap < min_rec:
                short.append({"hard_call": a.call_id, "next_call": b.call_id, "gap_s": round(max(gap, 0.0))})
    arousals = [c.arousal for c in calls if c.arousal is not None]
    severity = sum(s * (2.0 if sub.startswith("threat") else 1.0) for c in calls for sub, s in c.abuse)
    return {
        "calls": len(calls),
        "hours_on_calls": round(sum(c.duration or 0.0 for c in calls) / 3600, 2),
        "abuse_count": sum(len(c.abuse) for c in calls),
        "threats_received": sum(1 for c in calls for sub, _ in c.abuse if sub.startswith("threat")),
        "abuse_severity": round(severity, 2),
        "hostile_calls": sum(1 for c in calls if c.hostile),
        "max_hostile_streak": best,
        "stress_voice_findings": sum(c.stress_voice for c in calls),
        "stress_z": round(sum(arousals) / len(arousals), 2) if arousals else None,
        "off_shift_calls": len(off),
        "short_recoveries": len(short),
        "min_recovery_gap_s": round(min(gaps)) if gaps else None,
        "self_harm_calls": sum(1 for c in calls if c.self_harm),
        "evidence": {
            "hostile_call_ids": [c.call_id for c in calls if c.hostile],
            "hostile_streak_call_ids": best_ids,
            "stress_call_ids": [c.call_id for c in calls if c.stress_voice],
            "off_shift": [{"call_id": c.call_id, "at": _hhmm(c.started_at, zone)} for c in off],
            "short_recoveries": short,
            "self_harm_call_ids": [c.call_id for c in calls if c.self_harm],
        },
    }


def wellbeing_index(metrics: Mapping[str, Any], cfg: Mapping[str, Any] | None = None
                    ) -> tuple[float, list[dict[str, Any]]]:
    """100 minus the configured penalties, and the penalties that applied."""
    cfg = cfg or load_config()
    applied = []
    for key, spec in cfg["penalties"].items():
        value = metrics.get(spec["metric"])
        if value is None:
            continue
        pts = min(float(spec["cap"]), float(spec["per_unit"]) * max(0.0, float(value) - float(spec["free"])))
        if pts > 0:
            applied.append({"key": key, "reason": spec["reason"], "value": value, "points": round(pts, 1)})
    applied.sort(key=lambda p: -p["points"])
    return max(0.0, round(100.0 - sum(p["points"] for p in applied), 1)), applied


_EVIDENCE_FOR = {
    "abuse_received": "hostile_call_ids", "threat_received": "hostile_call_ids",
    "hostile_streak": "hostile_streak_call_ids", "voice_stress": "stress_call_ids", "stress_level": "stress_call_ids",
    "off_shift": "off_shift", "short_recovery": "short_recoveries", "self_harm_exposure": "self_harm_call_ids",
}


def _severity(value: float, spec: Mapping[str, Any]) -> str | None:
    if value >= float(spec["critical"]):
        return "critical"
    if value >= float(spec["at"]):
        return spec.get("severity", "warning")
    return None


_AGENT = {"en": "agent {agent} ", "zh": "坐席 {agent} "}


def _message(agent_id: str, spec: Mapping[str, Any], lang: str, **fields: Any) -> str:
    template = spec.get("message_zh") if lang == "zh" else None
    return _AGENT[lang if template else "en"].format(agent=agent_id) + (template or spec["message"]).format(**fields)


def alert_message(agent_id: str, kind: str, evidence: Mapping[str, Any], lang: str,
                  cfg: Mapping[str, Any] | None = None) -> str | None:
    """A stored alert's message in `lang`, rebuilt from its kind and evidence; None when the site's
    configuration no longer knows the kind (the stored English message then stands)."""
    cfg = cfg or load_config()
    spec = cfg["alerts"].get(kind) or cfg["week_alerts"].get(kind)
    if spec is None or "value" not in evidence:
        return None
    value = float(evidence["value"])
    days = sum(v is not None for v in (evidence.get("days") or {}).values())
    return _message(agent_id, spec, lang, value=value, index=100.0 - value, days=days)


def day_alerts(agent_id: str, day: date, metrics: Mapping[str, Any], index: float,
               cfg: Mapping[str, Any] | None = None) -> list[AlertSpec]:
    cfg = cfg or load_config()
    values = {**metrics, "wellbeing_deficit": 100.0 - index}
    out = []
    for kind, spec in cfg["alerts"].items():
        value = values.get(spec["metric"])
        if value is None:
            continue
        sev = _severity(float(value), spec)
        if not sev:
            continue
        evidence: dict[str, Any] = {"metric": spec["metric"], "value": value, "threshold": spec["at"]}
        if kind in _EVIDENCE_FOR:
            evidence["calls"] = metrics["evidence"][_EVIDENCE_FOR[kind]]
        if kind == "low_wellbeing":
            evidence["penalties"] = metrics.get("penalties", [])
        msg = _message(agent_id, spec, "en", value=float(value), index=index)
        out.append(AlertSpec(kind, sev, msg, day, evidence))
    return out


def week_alerts(agent_id: str, week: Sequence[tuple[date, Mapping[str, Any]]],
                cfg: Mapping[str, Any] | None = None) -> list[AlertSpec]:
    """Alerts over an ISO week of AgentDay metrics (day, metrics); dated on the Monday."""
    cfg = cfg or load_config()
    if not week:
        return []
    monday = min(d for d, _ in week) - timedelta(days=min(d for d, _ in week).weekday())
    stress = [m["stress_z"] for _, m in week if m.get("stress_z") is not None]
    agg = {"hours_on_calls": sum(m.get("hours_on_calls", 0) for _, m in week),
           "abuse_count": sum(m.get("abuse_count", 0) for _, m in week),
           "stress_z_mean": sum(stress) / len(stress) if stress else None}
    out = []
    for kind, spec in cfg["week_alerts"].items():
        value = agg.get(spec["metric"])
        if value is None or (spec["metric"] == "stress_z_mean" and len(stress) < int(spec.get("min_days", 1))):
            continue
        sev = _severity(float(value), spec)
        if sev:
            msg = _message(agent_id, spec, "en", value=float(value), days=len(stress))
            out.append(AlertSpec(kind, sev, msg, monday, {
                "metric": spec["metric"], "value": round(float(value), 2), "threshold": spec["at"],
                "days": {d.isoformat(): m.get(spec["metric"] if spec["metric"] != "stress_z_mean" else "stress_z")
                         for d, m in sorted(week)}}))
    return out


def assess_day(agent_id: str, day: date, calls: Sequence[AgentCall], zone: ZoneInfo,
               cfg: Mapping[str, Any] | None = None) -> DayResult:
    cfg = cfg or load_config()
    metrics = day_metrics(agent_id, calls, zone, cfg)
    index, penalties = wellbeing_index(metrics, cfg)
    metrics["penalties"] = penalties
    return DayResult(agent_id, day, len(calls), index, metrics, day_alerts(agent_id, day, metrics, index, cfg))
