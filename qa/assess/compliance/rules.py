"""Evaluate one call against a jurisdiction rule pack, using the account's stored call history.

Pure functions over plain records: the caller reads the account's history from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from qa.assess.compliance.packs import Rule, RulePack, parse_clock
from qa.assess.conversation import is_connected
from qa.records import Finding, PriorCall, Segment
from qa.text import PhraseSet

log = logging.getLogger(__name__)


@dataclass
class CallFacts:
    """What the rules need to know about the call being assessed."""

    call_id: int | None
    started_at: datetime | None  # timezone-aware (naive is read as UTC)
    timezone: str | None = None  # the debtor's zone when known (IANA name); else the pack's zone
    account_id: str | None = None
    agent_id: str | None = None
    callee: str | None = None
    direction: str | None = None  # outbound | inbound | None (treated as outbound)
    duration: float | None = None
    customer_speech_s: float = 0.0
    segments: list[Segment] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # detector findings of this call


def as_utc(dt: datetime) -> datetime:
    """Aware UTC datetime; naive values (SQLite drops the zone) are taken as UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def debtor_zone(pack: RulePack, timezone: str | None) -> ZoneInfo:
    if timezone:
        try:
            return ZoneInfo(timezone)
        except Exception:  # noqa: BLE001
            log.warning("unknown time zone %r on call; using the %s pack zone %s", timezone,
                        pack.jurisdiction, pack.timezone)
    return pack.zone


def _outbound(direction: str | None) -> bool:
    return (direction or "outbound").lower() != "inbound"


def _source(pack: RulePack, rule: Rule) -> str:
    return f"rulepack:{pack.jurisdiction}/{rule.name}"


def _finding(pack: RulePack, rule: Rule, subtype: str, fact: str, fact_zh: str, *, speaker: str | None = None,
             start: float | None = None, end: float | None = None, span: str = "", score: float | None = None,
             segment_index: int | None = None, **details: object) -> Finding:
    return Finding(
        label=f"compliance/{rule.name}", subtype=subtype, speaker=speaker, start=start, end=end, span=span,
        score=rule.score if score is None else score, source=_source(pack, rule),
        explanation=f"{rule.citation}; {fact}", segment_index=segment_index,
        details={"jurisdiction": pack.jurisdiction, "rule": rule.name, "rule_source": rule.source,
                 "explanation_zh": f"{rule.citation_zh}；{fact_zh}", **details},
    )


def _is_prior(other: PriorCall, facts: CallFacts, start: datetime) -> bool:
    o = as_utc(other.started_at)
    if o != start:
        return o < start
    return facts.call_id is not None and other.call_id < facts.call_id


def _fmt(dt: datetime, zone: ZoneInfo) -> str:
    return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# --- rules -------------------------------------------------------------------------------------------


def check_calling_hours(pack: RulePack, facts: CallFacts) -> list[Finding]:
    rule = pack.rule("calling_hours")
    if rule is None or facts.started_at is None or not _outbound(facts.direction):
        return []
    zone = debtor_zone(pack, facts.timezone)
    local = as_utc(facts.started_at).astimezone(zone)
    earliest, latest = parse_clock(rule.get("earliest", "08:00")), parse_clock(rule.get("latest", "21:00"))
    clock = local.time().replace(tzinfo=None)
    inclusive = bool(rule.get("latest_inclusive", False))
    # inclusive: 21:00:00 is allowed, 21:00:30 is "after 9:00 p.m."; exclusive: 22:00:00 already violates.
    too_late = clock > latest if inclusive else clock >= latest
    if not (clock < earliest or too_late):
        return []
    when = f"{local:%H:%M} {zone.key}"
    return [_finding(pack, rule, "compliance/calling_hours",
                     f"call started {when} ({local:%Y-%m-%d}, UTC{local:%z})",
                     f"通话开始于{when}（{local:%Y-%m-%d}）",
                     start=0.0, end=facts.duration, local_time=local.isoformat(), timezone=zone.key)]


def check_call_frequency(pack: RulePack, facts: CallFacts, history: Sequence[PriorCall]) -> list[Finding]:
    rule = pack.rule("call_frequency")
    if rule is None or facts.started_at is None or not _outbound(facts.direction) or not pack.is_debtor(facts.callee):
        return []
    zone = debtor_zone(pack, facts.timezone)
    start = as_utc(facts.started_at)
    day = start.astimezone(zone).date()
    prior = [c for c in history if _is_prior(c, facts, start)]
    to_debtor = [c for c in prior if pack.is_debtor(c.callee)]

    def local_day(c: PriorCall) -> date:
        return as_utc(c.started_at).astimezone(zone).date()

    out: list[Finding] = []
    daily_max = rule.get("daily_max_effective")
    if daily_max is not None and is_connected(facts.customer_speech_s):
        same_day = [c for c in to_debtor if _outbound(c.direction) and is_connected(c.customer_speech_s)
                    and local_day(c) == day]
        n = len(same_day) + 1
        if n > int(daily_max):
            times = ", ".join(f"#{c.call_id} {as_utc(c.started_at).astimezone(zone):%H:%M}" for c in same_day)
            out.append(_finding(
                pack, rule, "compliance/call_frequency/daily_effective",
                f"this is effective call {n} to account {facts.account_id} on {day} ({zone.key}); earlier: {times}",
                f"这是{day}对账户{facts.account_id}的第{n}次有效通话；此前：{times}",
                start=0.0, end=facts.duration, count=n, limit=int(daily_max), day=day.isoformat(),
                earlier_call_ids=[c.call_id for c in same_day]))

    window = rule.get("max_attempts_in_window")
    if window is not None:
        days = int(rule.get("window_days", 7))
        first = day - timedelta(days=days - 1)
        in_window = [c for c in to_debtor if _outbound(c.direction) and first <= local_day(c) <= day]
        n = len(in_window) + 1
        if n > int(window):
            out.append(_finding(
                pack, rule, "compliance/call_frequency/attempts_in_window",
                f"this is call {n} to account {facts.account_id} in the {days} days {first}..{day} ({zone.key}); "
                f"limit {window}",
                f"这是账户{facts.account_id}在{first}至{day}的{days}天内第{n}次来电；上限{window}次",
                start=0.0, end=facts.duration, count=n, limit=int(window), window=[first.isoformat(), day.isoformat()],
                earlier_call_ids=[c.call_id for c in in_window]))

    quiet = rule.get("conversation_quiet_days")
    if quiet is not None:
        convs = [c for c in to_debtor if is_connected(c.customer_speech_s)
                 and local_day(c) <= day < local_day(c) + timedelta(days=int(quiet))]
        if convs:
            last = max(convs, key=lambda c: as_utc(c.started_at))
            out.append(_finding(
                pack, rule, "compliance/call_frequency/after_conversation",
                f"call placed {_fmt(start, zone)} within {quiet} days after a telephone conversation on "
                f"{_fmt(as_utc(last.started_at), zone)} (call #{last.call_id})",
                f"于{_fmt(start, zone)}来电，距{_fmt(as_utc(last.started_at), zone)}的通话（#{last.call_id}）不足{quiet}天",
                start=0.0, end=facts.duration, conversation_call_id=last.call_id))
    return out


def check_third_party(pack: RulePack, facts: CallFacts, history: Sequence[PriorCall]) -> list[Finding]:
    rule = pack.rule("third_party_contact")
    if rule is None:
        return []
    out: list[Finding] = []
    subtypes = tuple(rule.get("disclosure_subtypes", ["privacy/third_party_disclosure"]))
    for f in facts.findings:
        if f.subtype.startswith(subtypes):
            out.append(_finding(
                pack, rule, "compliance/third_party_contact/disclosure",
                f"the debt was disclosed to a third party ({f.explanation})",
                f"向第三方透露了债务（{f.explanation}）",
                speaker=f.speaker, start=f.start, end=f.end, span=f.span,
                score=max(rule.score, f.score), segment_index=f.segment_index, detector_source=f.source))
    if pack.is_debtor(facts.callee) or facts.started_at is None or not _outbound(facts.direction):
        return out
    start = as_utc(facts.started_at)
    zone = debtor_zone(pack, facts.timezone)
    prior = [c for c in history if _is_prior(c, facts, start)]
    reach_days = rule.get("debtor_reachable_days")
    if reach_days is not None:
        reached = [c for c in prior if pack.is_debtor(c.callee) and is_connected(c.customer_speech_s)
                   and start - as_utc(c.started_at) <= timedelta(days=float(reach_days))]
        if reached:
            last = max(reached, key=lambda c: as_utc(c.started_at))
            out.append(_finding(
                pack, rule, "compliance/third_party_contact/debtor_reachable",
                f"called a third party ({facts.callee}) although the debtor was reached on "
                f"{_fmt(as_utc(last.started_at), zone)} (call #{last.call_id}), within {reach_days} days",
                f"债务人于{_fmt(as_utc(last.started_at), zone)}（#{last.call_id}）可联系，仍联系第三方（{facts.callee}）",
                start=0.0, end=facts.duration, score=rule.score * 0.8, debtor_call_id=last.call_id))
    max_contacts = rule.get("max_contacts_per_third_party")
    if max_contacts is not None and facts.callee:
        same = [c for c in prior if (c.callee or "").lower() == facts.callee.lower()
                and is_connected(c.customer_speech_s)]
        if len(same) >= int(max_contacts):
            out.append(_finding(
                pack, rule, "compliance/third_party_contact/repeat_contact",
                f"third party ({facts.callee}) contacted again; earlier conversation(s): "
                + ", ".join(f"#{c.call_id} {_fmt(as_utc(c.started_at), zone)}" for c in same),
                f"再次联系同一第三方（{facts.callee}）",
                start=0.0, end=facts.duration, score=rule.score * 0.8, earlier_call_ids=[c.call_id for c in same]))
    return out


def check_disclosures(pack: RulePack, facts: CallFacts) -> list[Finding]:
    rule = pack.rule("missing_disclosure")
    if rule is None:
        return []
    # Only connected calls with the debtor: a third party must not hear the mini-Miranda (it discloses the debt).
    if not is_connected(facts.customer_speech_s) or not pack.is_debtor(facts.callee):
        return []
    window = float(rule.get("window_s", 60.0))
    agent = [s for s in facts.segments if s.speaker == "agent" and s.start < window]
    text = " ".join(s.text for s in agent)
    end = max((s.end for s in agent), default=window)
    out = []
    for el in pack.disclosure_elements():
        if not el.required or el.phrases.find(text):
            continue
        heard = "no agent speech" if not agent else "not heard"
        out.append(_finding(
            pack, rule, f"compliance/missing_disclosure/{el.name}",
            f"{el.label} {heard} in the agent's first {window:.0f} s",
            f"前{window:.0f}秒内坐席未{'发言' if not agent else '告知'}{el.label_zh}",
            speaker="agent", start=0.0, end=round(min(end, window), 2), element=el.name))
    return out


def check_impersonation(pack: RulePack, facts: CallFacts) -> list[Finding]:
    rule = pack.rule("impersonation")
    if rule is None:
        return []
    phrases = PhraseSet.from_spec({"patterns": rule.get("patterns", [])}, pinyin_min_len=None)
    who = rule.get("speaker", "agent")
    out = []
    for i, seg in enumerate(facts.segments):
        if seg.speaker != who:
            continue
        hits = [m.text for m in phrases.find_all(seg.text)]
        if hits:
            out.append(_finding(
                pack, rule, "compliance/impersonation", f"agent said \"{hits[0]}\" at {seg.start:.1f} s",
                f"坐席在{seg.start:.1f}秒说“{hits[0]}”", speaker=seg.speaker, start=seg.start, end=seg.end,
                span=hits[0], segment_index=i))
    return out


def check_record_keeping(pack: RulePack, facts: CallFacts) -> list[Finding]:
    rule = pack.rule("record_keeping")
    if rule is None:
        return []
    missing = [f for f in rule.get("required_fields", []) if not getattr(facts, f, None)]
    if not missing:
        return []
    return [_finding(pack, rule, "compliance/record_keeping",
                     f"call record lacks {', '.join(missing)} (retention {rule.get('retention_years')} years)",
                     f"通话记录缺少{', '.join(missing)}（需保存{rule.get('retention_years')}年）",
                     missing_fields=missing)]


def check_call(pack: RulePack, facts: CallFacts, history: Sequence[PriorCall] = ()) -> list[Finding]:
    """All compliance findings of one call under `pack`; `history` holds the account's other stored calls."""
    return [
        *check_calling_hours(pack, facts),
        *check_call_frequency(pack, facts, history),
        *check_third_party(pack, facts, history),
        *check_disclosures(pack, facts),
        *check_impersonation(pack, facts),
        *check_record_keeping(pack, facts),
    ]
