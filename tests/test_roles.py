"""Which diarised speaker is the agent, from what each one says (Mandarin and English)."""

from __future__ import annotations

from qa.speakers.roles import AgentChoice, identify_agent


def test_mandarin_customer_answers_first() -> None:
    """Outbound call: the callee picks up with 喂 (cluster 0), the agent introduces themself (cluster 1)."""
    choice = identify_agent({
        0: ["喂？", "嗯，是我，什么事？", "我现在手头紧，下个月再说吧。"],
        1: ["您好，我是安信消费金融的工作人员，工号3021。", "请问是张伟先生本人吗？",
            "您在我们平台的借款已经逾期三十天了，今天需要还款两千元。"],
    }, "zh")
    assert choice.agent_cluster == 1
    assert choice.confidence > 0.9
    assert "cluster 1" in choice.reason and "我是安信消费金融" in choice.reason
    assert "cluster 0" in choice.reason and "answers the phone" in choice.reason


def test_mandarin_agent_first_with_recording_notice() -> None:
    choice = identify_agent({
        0: ["您好，本次通话将被录音。这里是华融信用卡中心。", "您的账单最低还款额还没有还。"],
        1: ["你是谁啊？怎么有我的电话？", "我没钱，别打了。"],
    }, "zh")
    assert choice.agent_cluster == 0
    assert "announces that the call is recorded" in choice.reason or "introduces themself" in choice.reason
    assert "asks who is calling" in choice.reason


def test_english_customer_answers_first_with_mini_miranda() -> None:
    choice = identify_agent({
        0: ["Hello?", "Yeah, who is this?", "I lost my job, I can't pay right now."],
        1: ["Hi, this is Mark from Summit Recovery Services.", "Am I speaking with John Smith?",
            "This is an attempt to collect a debt and any information obtained will be used for that purpose.",
            "Your balance of four hundred dollars is past due."],
    }, "en")
    assert choice.agent_cluster == 1
    assert choice.confidence > 0.9
    assert "debt-collector disclosure" in choice.reason


def test_english_disclosure_survives_asr_misspelling() -> None:
    choice = identify_agent({
        0: ["hello"],
        1: ["This is an atempt to colect a dept, any information obtained will be used for that purpose."],
    }, "en")
    assert choice.agent_cluster == 1
    assert "debt-collector disclosure" in choice.reason


def test_collection_talk_outweighs_a_polite_customer() -> None:
    """Both greet; only one talks about the overdue account: that one is the agent."""
    choice = identify_agent({
        0: ["Good afternoon.", "Sure, go ahead."],
        1: ["Good afternoon, calling about your account.", "The payment is overdue and the balance is outstanding."],
    }, "en")
    assert choice.agent_cluster == 1


def test_early_turns_weigh_more() -> None:
    """The speaker who introduces themself at the start beats one who mentions the debt only late and often."""
    late = ["ok"] * 8 + ["还款", "逾期", "账单"]
    choice = identify_agent({0: late, 1: ["您好，我是诚信资产管理公司的调解员。", "好的。"]}, "zh")
    assert choice.agent_cluster == 1


def test_tie_falls_back_to_first_speaker() -> None:
    choice = identify_agent({0: ["明白", "可以"], 1: ["知道了", "行"]}, "zh")
    assert choice == AgentChoice(0, 0.5, choice.reason)
    assert "fallback" in choice.reason and "spoke first" in choice.reason
    choice = identify_agent({0: ["ok"], 1: ["ok"]}, "en", first_cluster=1)
    assert choice.agent_cluster == 1 and choice.confidence == 0.5


def test_single_speaker_and_empty_input() -> None:
    agent_only = identify_agent({0: ["您好，我是平安银行信用卡中心的，您的信用卡已经逾期，请尽快回电。"]}, "zh")
    assert agent_only.agent_cluster == 0 and agent_only.confidence > 0.8
    customer_only = identify_agent({0: ["Who is this? Stop calling me."]}, "en")
    assert customer_only.agent_cluster == 1  # the absent cluster: every turn is the customer's
    assert "sounds like the customer" in customer_only.reason
    assert identify_agent({}).confidence == 0.5


def test_english_call_ignores_chinese_cues_only_when_language_is_en() -> None:
    texts = {0: ["ok"], 1: ["您好，我是XX金融的"]}
    assert identify_agent(texts, "zh").agent_cluster == 1
    assert identify_agent(texts, "en").confidence == 0.5  # English call: Chinese cues not read


def test_attribution_confidence_reflects_voices_and_content() -> None:
    from qa.records import SpeakerAssignment, Transcript
    from qa.speakers.attribution import attribution, mono_attribution
    from qa.speakers.diarize import Diarization

    sure_role = AgentChoice(0, 0.95, "cluster 0 introduces themself on behalf of a company")
    distinct = mono_attribution(Diarization([], 2, 0.45, ""), sure_role, 60.0)
    similar = mono_attribution(Diarization([], 2, 0.80, ""), sure_role, 60.0)
    merged = mono_attribution(Diarization([], 1, 0.83, "the two candidate voices are nearly the same"), sure_role,
                              60.0)
    short = mono_attribution(Diarization([], 1, None, "too little speech to compare voices"), sure_role, 3.0)
    assert distinct.confidence > 0.9 and not distinct.uncertain
    assert similar.confidence < distinct.confidence and similar.uncertain
    assert merged.uncertain and "one voice" in merged.reason
    assert not short.uncertain  # a short single-voice clip is not evidence of a merged second party
    coin = mono_attribution(Diarization([], 2, 0.45, ""), AgentChoice(0, 0.5, "no cue"), 60.0)
    assert coin.uncertain  # two clear voices, but nothing says which is the agent

    stereo = Transcript(None, "zh", 10.0, [], [SpeakerAssignment("agent", "channel 0", "channel", 1.0, "left"),
                                                SpeakerAssignment("customer", "channel 1", "channel", 1.0, "right")])
    assert attribution(stereo).confidence == 1.0
    mono = Transcript(None, "zh", 60.0, [], [SpeakerAssignment("agent", "cluster 0", "diarization",
                                                                merged.confidence, merged.reason)])
    assert attribution(mono).uncertain and attribution(mono).reason == merged.reason
