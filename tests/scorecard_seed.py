"""A database with sample calls scored the way ingestion leaves them, and the QA team's users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from qa.access.users import add_user
from qa.store.db import session_scope
from qa.store.models import Call
from tests import forms_helpers as fh
from tests.assess_helpers import add_call, assess_stored

USERS = {  # name: (role, agent id)
    "rita": ("reviewer", None), "rob": ("reviewer", None), "lena": ("compliance", None),
    "dana": ("agent", "EN-A01"), "rick": ("agent", "EN-A03"),
}
PASSWORD = "qa-workflow-pass"
SAMPLES = ("en_01_clean_minimiranda", "en_03_threat_insult", "en_04_customer_abuse", "zh_01_clean_reminder")


def store_sample(session: Session, name: str, team: str) -> int:
    """A sample call stored as ingestion leaves it (scripted turns; the labelled subtypes of each turn as
    detector findings), then assessed (`callqa assess`): the analysis stores its scorecard."""
    c, meta = fh.labels()[name], fh.meta(name)
    findings = [{"label": st.split("/")[0], "subtype": st, "speaker": t["speaker"], "start": t["start"],
                 "end": t["end"], "span": t["text"], "score": 0.9}
                for t in c["turns"] for st in t["subtypes"]]
    call_id = add_call(session, meta.started_at, jurisdiction=meta.jurisdiction, account=meta.account_id,
                       agent=meta.agent_id, callee=meta.callee, direction=meta.direction,
                       segments=[(t["speaker"], t["start"], t["end"], t["text"]) for t in c["turns"]],
                       findings=findings, assess=False)
    call = session.get(Call, call_id)
    call.team, call.language = team, c["language"]
    assess_stored(session, call_id)
    return call_id


@dataclass
class Seeded:
    url: str
    calls: dict[str, int]


def seed(url: str, users: bool = True) -> Seeded:
    with session_scope(url) as s:
        calls = {n: store_sample(s, n, "blue" if n.startswith("en") else "red") for n in SAMPLES}
        if users:
            for name, (role, agent_id) in USERS.items():
                add_user(s, name, role, PASSWORD, agent_id=agent_id)
    return Seeded(url, calls)
