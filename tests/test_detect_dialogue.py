"""Third-party disclosure as dialogue logic, in Mandarin and English, with the neutral callback allowed."""

from __future__ import annotations

from qa.detect import detect_transcript
from qa.records import CallMeta, Segment, Transcript, Word


def call(*turns: tuple[str, str], lang: str = "zh") -> Transcript:
    segs, t = [], 0.0
    for speaker, text in turns:
        segs.append(Segment(speaker, t, t + 3.0, text))  # type: ignore[arg-type]
        t += 3.5
    return Transcript(1, lang, t, segs)


def disclosures(tr: Transcript, meta: CallMeta | None = None) -> list:
    return [f for f in detect_transcript(tr, meta or CallMeta(), use_model=False)
            if f.subtype == "privacy/third_party_disclosure"]


def test_zh_disclosure_after_listener_says_they_are_a_neighbour() -> None:
    tr = call(("agent", "您好，请问是张伟先生吗"), ("customer", "我不是他本人，我是他邻居"),
              ("agent", "他在我们平台的借款已经逾期三个月了，欠款两万三千元"))
    [f] = disclosures(tr)
    assert f.speaker == "agent" and f.segment_index == 2 and (f.start, f.end) == (7.0, 10.0)
    assert "third party" in f.explanation and "我不是他本人" in f.explanation
    assert f.details["direction"] == "to_third_party"


def test_zh_callback_request_to_third_party_is_compliant() -> None:
    tr = call(("agent", "您好，请问是张伟先生吗"), ("customer", "我是他邻居，他不在"),
              ("agent", "好的，麻烦您转告他给我们回个电话，号码他知道的，谢谢"))
    assert disclosures(tr) == []


def test_en_disclosure_and_callback() -> None:
    tr = call(("agent", "Hi, may I speak with John Miller?"), ("customer", "He's not here, this is his wife."),
              ("agent", "Please tell him his loan payment is 90 days overdue and he owes $2,300."), lang="en")
    [f] = disclosures(tr)
    assert "overdue" in f.explanation or "owe" in f.explanation or "loan" in f.explanation
    ok = call(("agent", "Hi, may I speak with John Miller?"), ("customer", "I'm his neighbor."),
              ("agent", "Could you ask him to call Mark back at his convenience? Thank you."), lang="en")
    assert disclosures(ok) == []


def test_manifest_callee_makes_any_debt_mention_a_disclosure() -> None:
    tr = call(("agent", "您好，这里是某某金融"), ("customer", "嗯，你说"), ("agent", "张伟的贷款逾期了，您能联系上他吗"))
    [f] = disclosures(tr, CallMeta(callee="colleague"))
    assert "colleague" in f.explanation and "manifest" in f.explanation
    assert disclosures(tr, CallMeta(callee="debtor")) == []


def test_debt_talk_with_the_debtor_is_not_a_disclosure() -> None:
    tr = call(("agent", "请问是张伟先生本人吗"), ("customer", "对，我就是本人"),
              ("agent", "您在我们平台的借款已经逾期三十天，欠款五千元"))
    assert disclosures(tr) == []


def test_disclosure_before_the_listener_says_who_they_are_is_not_claimed() -> None:
    # Order matters: the debt was mentioned before anyone said they were not the debtor.
    tr = call(("agent", "您的借款已经逾期了"), ("customer", "我不是他本人，我是他同事"), ("agent", "好的，打扰了"))
    assert disclosures(tr) == []


def test_finding_time_comes_from_word_timings() -> None:
    seg = Segment("agent", 20.0, 26.0, "你老公欠我们两万块钱",
                  words=[Word(20.0, 20.8, "你老公"), Word(21.0, 21.6, "欠我们"), Word(21.7, 22.9, "两万块钱")])
    tr = Transcript(1, "zh", 26.0, [seg])
    [f] = [f for f in detect_transcript(tr, CallMeta(), use_model=False) if f.label == "privacy"]
    assert f.subtype == "privacy/third_party_disclosure" and (f.start, f.end) == (20.0, 22.9)
    call_bomb = Transcript(1, "zh", 30.0, [Segment("agent", 10.0, 16.0, "那我们就打到你接为止",
                           words=[Word(10.0, 11.0, "那我们就"), Word(11.2, 13.5, "打到你接为止")])])
    [g] = detect_transcript(call_bomb, CallMeta(), use_model=False)
    assert (g.start, g.end) == (11.2, 13.5) and g.span == "打到你接为止"


def _reported(tr: Transcript) -> list:
    return [f for f in detect_transcript(tr, CallMeta(), use_model=False) if f.source == "rule:dialogue.reported_disclosure"]


def test_customer_objecting_to_a_garbled_id_readout_flags_the_call() -> None:
    """zh_05 as the recogniser heard it on one machine: the ID came out as 15 digits (no checksum to verify) and
    '这些信息不要在电话里念' as '…电话理念'. The objection right after the agent's long number is the evidence."""
    from qa.assess.scoring import review_decision

    tr = call(("agent", "我再跟您合对一下新鲜的纯纯纯号序是030619881123131对吧"),
              ("customer", "你怎么把我的纯纯正好全面出来了"), ("customer", "这些信息不要再电话理念我旁边还有人"))
    findings = detect_transcript(tr, CallMeta(), use_model=False)
    [f] = [f for f in findings if f.source == "rule:dialogue.reported_disclosure"]
    assert f.label == "privacy" and f.speaker is None and f.segment_index == 2 and f.score >= 0.9
    assert f.span == "电话理念" and "15-digit number" in f.explanation and "matched by sound" in f.explanation
    assert "15 位数字" in f.details["explanation_zh"]
    assert review_decision(findings).flagged
    unverified = [g for g in findings if g.source == "rule:pii.unverified_run"]
    assert unverified and not review_decision(unverified).flagged  # the number alone would not have flagged it


def test_objection_without_a_number_before_it_is_shown_but_does_not_flag() -> None:
    from qa.assess.scoring import review_decision

    tr = call(("agent", "您好，我这边核对一下您的身份信息"), ("customer", "你别在电话里念我的身份证号，我发短信给你"))
    [f] = _reported(tr)
    assert f.score < 0.9 and "no long number" in f.explanation
    assert not review_decision(detect_transcript(tr, CallMeta(), use_model=False)).flagged
    # a request to hear a number again is not an objection to a disclosure
    assert _reported(call(("agent", "我们的客服电话是4008123456"), ("customer", "你能把我的卡号再念一遍吗"))) == []
    # and the company's service line is not the customer's data: the objection after it stays below review
    [g] = _reported(call(("agent", "我们的客服电话是4008123456"), ("customer", "你别在电话里念我的信息")))
    assert g.score < 0.9 and "no long number" in g.explanation


def test_en_objection_after_a_card_number() -> None:
    tr = call(("agent", "I have your card on file as 4111 1111 1111 1112, is that right?"),
              ("customer", "Why did you just read out my full card number? My kids are right here."), lang="en")
    [f] = _reported(tr)
    assert f.score >= 0.9 and "16-digit number" in f.explanation
