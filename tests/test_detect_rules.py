"""Seed rules: threats vs lawful consequences, direction, self-harm, distress, and ASR robustness."""

from __future__ import annotations

import pytest

from qa.detect import default_registry
from qa.detect.base import Context, Utterance
from qa.records import CallMeta


def run(text: str, speaker: str = "agent") -> list:
    utt = Utterance(0, speaker, text, 5.0, 9.0)
    return default_registry().run(Context(CallMeta(), [utt]))


def subtypes(text: str, speaker: str = "agent") -> set[str]:
    return {f.subtype for f in run(text, speaker)}


@pytest.mark.parametrize("text", [
    "逾期记录会按照合同约定上报征信，请您尽快处理",
    "如果一直不处理，我们可能会依法向法院提起诉讼",
    "根据合同，逾期会产生违约金，这个需要跟您说明一下",
    "If the balance stays unpaid, the account may be reported to the credit bureaus as the agreement allows.",
    "We may refer the account to our legal department, which could file a lawsuit as permitted by law.",
    "No one is going to arrest you, this is a civil matter.",
    "我们不会上门，也不会联系您的家人，请放心",
    "请您提供一下身份证后四位，核实一下身份",
])
def test_lawful_consequences_and_reassurance_are_not_threats(text: str) -> None:
    assert not [f for f in run(text) if f.label in ("threat", "harassment")], text


@pytest.mark.parametrize("text,subtype", [
    ("你再不还钱，我们就打到你接为止", "harassment/call_bombing"),
    ("我们一天打你一百个电话", "harassment/call_bombing"),
    ("不还钱就爆你通讯录", "threat/exposure"),
    ("我会让你全家都知道你欠钱不还", "threat/exposure"),
    ("信不信我找人去你家", "threat/violence"),
    ("警察马上就来抓你", "threat/false_legal"),
    ("We will send the police to your house today.", "threat/false_legal"),
    ("You'll be arrested if you don't pay by Friday.", "threat/false_legal"),
    ("We'll keep calling until you pay.", "harassment/call_bombing"),
    ("你这个老赖", "harassment/insult"),
    ("You're a deadbeat.", "harassment/insult"),
])
def test_agent_threat_and_harassment_seeds(text: str, subtype: str) -> None:
    found = run(text)
    assert subtype in {f.subtype for f in found}, text
    f = next(f for f in found if f.subtype == subtype)
    assert f.speaker == "agent" and f.details["direction"] == "to_customer"
    assert f.start == 5.0 and f.end == 9.0 and f.source.startswith("rule:")
    assert f.span in text and f.explanation


def test_customer_threat_is_abuse_received() -> None:
    found = {f.subtype: f for f in run("你个傻逼，信不信我弄死你", speaker="customer")}
    assert set(found) == {"threat/to_agent", "harassment/insult"}
    assert all(f.details["direction"] == "to_agent" and f.speaker == "customer" for f in found.values())
    assert "abuse received" in found["threat/to_agent"].explanation


def test_denying_an_insult_is_not_an_insult() -> None:
    assert subtypes("我不是老赖，我只是暂时没钱", "customer") == set()
    assert subtypes("I'm not a deadbeat, I lost my job", "customer") == set()


@pytest.mark.parametrize("text", ["我真的不想活了", "再逼我我就去跳楼", "I just want to kill myself", "有时候觉得活不下去了"])
def test_customer_self_harm_is_urgent(text: str) -> None:
    [f] = [f for f in run(text, speaker="customer") if f.label == "threat"]
    assert f.subtype == "threat/self_harm" and f.details["urgent"] is True
    assert f.explanation.startswith("URGENT")


def test_agent_distress_words() -> None:
    [f] = run("我真的受不了了，压力好大", speaker="agent")
    assert f.label == "stress" and f.subtype == "stress/distress_words" and f.speaker == "agent"
    assert run("I can't take this anymore", speaker="agent")[0].subtype == "stress/distress_words"


@pytest.mark.parametrize("text", [
    "你再不還錢，我們就打到你接為止",          # Traditional characters
    "你再不还钱 我们就 打 到 你 接 为 止",       # spaces between characters, no punctuation
    "你再不还钱我们就打到你接位置",              # homophone slip (为止 -> 位置)
])
def test_asr_noise_still_matches(text: str) -> None:
    [f] = run(text)
    assert f.subtype == "harassment/call_bombing"
    assert f.span and f.span in text


def test_homophone_match_says_so_and_scores_lower() -> None:
    exact = run("打到你接为止")[0]
    slip = run("打到你接位置")[0]
    assert "ASR" in slip.explanation and slip.score < exact.score


def test_customer_reported_call_bombing_is_the_callers_misconduct() -> None:
    [f] = run("你们一天打了二十个电话，还让不让人活", speaker="customer")
    assert f.subtype == "harassment/call_bombing" and f.speaker is None
    assert f.details["calls"] == 20 and f.details["reported_by"] == "customer"
    assert run("你们今天打了两个电话", speaker="customer") == []  # two calls is not bombing
    [g] = run("You guys have called me 15 times today", speaker="customer")
    assert g.details["calls"] == 15
