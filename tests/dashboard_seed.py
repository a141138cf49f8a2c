"""A small, known database for the dashboard tests (and the browser test): users, calls, flags, wellbeing."""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from qa.store.db import session_scope
from qa.store.models import AgentDay, Alert, Call, FindingRow, SegmentRow
from qa.access.users import add_user

PASSWORDS = {role: f"{role}-pass-2025" for role in ("reviewer", "compliance", "manager", "admin")}
PHONE = "13800138000"
EMAIL = "john.doe@example.com"
THREAT_SPAN = "上门找你家人，让你好看"
DAY0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@dataclass
class Seeded:
    url: str
    riskiest: int = 0
    english: int = 0
    clean: int = 0
    threat_finding: int = 0
    pii_finding: int = 0
    insult_finding: int = 0
    audio: Path | None = None
    call_ids: list[int] = field(default_factory=list)


def write_wav(path: Path, seconds: float = 3.0, rate: int = 8000) -> Path:
    """A short silent WAV: enough for the audio player, no real voice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


def _voice(pitch: float, loudness: float, rate: float) -> dict[str, float]:
    return {"pitch_hz": pitch, "loudness_db": loudness, "rate_sps": rate}  # as qa.assess.acoustics stores them


def seed(url: str, audio_dir: Path | None = None) -> Seeded:
    out = Seeded(url=url)
    if audio_dir is not None:
        out.audio = write_wav(audio_dir / "call_risky.wav")
    with session_scope(url) as s:
        for role, password in PASSWORDS.items():
            add_user(s, role, role, password, team="A" if role == "manager" else None)

        risky = Call(content_hash="h1", path=str(out.audio or "/nonexistent/risky.wav"), agent_id="a1", team="A",
                     account_id="ACC-6222021234567890", callee="debtor", started_at=DAY0, direction="outbound",
                     jurisdiction="cn", duration=14.0, language="zh", status="done", risk_score=92.0,
                     complaint_risk=0.81, flagged=True,
                     score_reasons=[{"reason": "agent threatened the customer", "reason_zh": "坐席威胁客户",
                                     "points": 45.0, "kind": "risk", "key": "agent_threat", "evidence": ""}])
        risky.segments = [
            SegmentRow(idx=0, speaker="agent", start=0.0, end=4.0, text="您好，这里是某某金融，请问是张先生吗？",
                       words=[], voice=_voice(180, -20, 4.2)),
            SegmentRow(idx=1, speaker="customer", start=4.0, end=8.0, text=f"是我，我的电话是{PHONE}。",
                       words=[], voice=_voice(210, -18, 4.8)),
            SegmentRow(idx=2, speaker="agent", start=8.0, end=14.0, text=f"你再不还钱，我们就{THREAT_SPAN}。",
                       words=[], voice=_voice(240, -12, 6.1)),
        ]
        threat = FindingRow(segment_idx=2, label="threat", subtype="threat/violence", speaker="agent", start=9.0,
                            end=13.0, span=THREAT_SPAN, score=0.91, source="rule:threat.visit_family",
                            explanation="Threatens to visit the family (GB/T 45251; Criminal Law art. 293-1)")
        pii = FindingRow(segment_idx=1, label="privacy", subtype="privacy/pii_spoken", speaker="customer", start=5.5,
                         end=7.5, span=PHONE, score=0.95, source="rule:pii.cn_mobile",
                         explanation="A mobile number was read out on the call")
        risky.findings = [threat, pii]

        english = Call(content_hash="h2", path="/nonexistent/en.wav", agent_id="b1", team="B", started_at=DAY0
                       + timedelta(days=1), jurisdiction="us", duration=10.0, language="en", status="done",
                       risk_score=75.0, complaint_risk=0.4, flagged=True)
        english.segments = [
            SegmentRow(idx=0, speaker="agent", start=0.0, end=4.0, text="This is Acme Recovery calling for John.",
                       words=[], voice=_voice(120, -22, 3.0)),
            SegmentRow(idx=1, speaker="customer", start=4.0, end=10.0,
                       text=f"You people are idiots, stop calling me. Write to {EMAIL} instead.", words=[],
                       voice=_voice(190, -10, 5.5)),
        ]
        insult = FindingRow(segment_idx=1, label="harassment", subtype="harassment/insult", speaker="customer",
                            start=4.0, end=6.0, span="You people are idiots", score=0.8, source="model:e5-cls-v1",
                            explanation="Insult directed at the agent")
        english.findings = [insult]

        clean = Call(content_hash="h3", path="/nonexistent/clean.wav", agent_id="a2", team="A",
                     started_at=DAY0 + timedelta(days=2), jurisdiction="cn", duration=8.0, language="zh",
                     status="done", risk_score=10.0, complaint_risk=0.05)
        clean.segments = [SegmentRow(idx=0, speaker="agent", start=0.0, end=5.0,
                                     text="您好，提醒您本月账单已逾期，请尽快处理。", words=[])]
        # below the review threshold: shown on the call page as low-confidence, the call is not flagged
        clean.findings = [FindingRow(segment_idx=0, label="privacy", subtype="privacy", speaker="agent", start=0.0,
                                     end=5.0, span="您好，提醒您本月账单已逾期，请尽快处理。", score=0.55,
                                     source="callqa-utterance-head@1.0.0",
                                     explanation="model callqa-utterance-head 1.0.0: p=0.55; no words drive it",
                                     details={"model_p": 0.55, "low_confidence": True})]
        pending = Call(content_hash="h4", path="/nonexistent/pending.wav", agent_id="a1", team="A",
                       started_at=DAY0, status="pending")
        s.add_all([risky, english, clean, pending])
        for i, agent in enumerate(("a1", "a2", "b1")):
            for d in range(3):
                metrics: dict[str, object] = {"abuse_received": d}
                if agent == "a1" and d == 2:  # penalties as an older build stored them: English reasons only
                    metrics["penalties"] = [
                        {"key": "hostile_streak", "reason": "hostile calls in a row", "value": 3, "points": 10.0},
                        {"key": "abuse_received", "reason": "abuse received from customers", "value": 4,
                         "points": 24.0}]
                s.add(AgentDay(agent_id=agent, day=date(2025, 3, 3) + timedelta(days=d), calls=5 + d,
                               wellbeing=80 - 15 * d if agent == "a1" else 70 + i, metrics=metrics))
        s.add(Alert(agent_id="a1", kind="wellbeing_drop", severity="warning", day=date(2025, 3, 5),
                    message=f"Wellbeing fell 30 points in 3 days; a customer read out {PHONE}",
                    evidence={"calls": [1], "wellbeing": [80, 65, 50]}))
        s.add(Alert(agent_id="b1", kind="abuse_received", severity="info", day=date(2025, 3, 4),
                    message="Insulted on 1 call", evidence={"calls": [2]}))
        s.flush()
        out.riskiest, out.english, out.clean = risky.id, english.id, clean.id
        out.threat_finding, out.pii_finding, out.insult_finding = threat.id, pii.id, insult.id
        out.call_ids = [risky.id, english.id, clean.id, pending.id]
    return out
