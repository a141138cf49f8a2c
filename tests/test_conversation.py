"""Conversation measures: talk share, silences and holds, overtalk, interruptions, rate, ending, lexicons."""

from __future__ import annotations

import pytest

from qa.assess.conversation import measure, syllables
from qa.records import Segment, Word


def seg(speaker: str, start: float, end: float, text: str = "嗯") -> Segment:
    return Segment(speaker, start, end, text)  # type: ignore[arg-type]


def test_talk_share_silence_and_long_holds() -> None:
    segs = [seg("agent", 0, 10), seg("customer", 10, 15), seg("agent", 45, 55), seg("customer", 55, 60)]
    m = measure(segs, duration=62)
    assert m.talk_s == {"agent": 20.0, "customer": 10.0}
    assert m.talk_share["agent"] == pytest.approx(0.667, abs=0.001)
    assert m.silence_s == pytest.approx(32.0)
    assert m.long_holds == [{"start": 15.0, "end": 45.0, "seconds": 30.0}]
    assert m.customer_speech_s == 10.0 and m.connected


def test_overtalk_and_who_interrupts() -> None:
    segs = [seg("customer", 0, 10), seg("agent", 6, 12), seg("customer", 11.9, 14), seg("agent", 20, 22)]
    m = measure(segs, duration=25)
    assert m.overtalk_s == pytest.approx(4.1, abs=0.01)
    assert m.interruptions == {"agent": 1, "customer": 0}  # 0.1 s overlap at 11.9 is a normal hand-over
    assert m.interruption_times == [{"speaker": "agent", "at": 6.0}]


def test_word_timestamps_refine_talk_time() -> None:
    words = [Word(0.0, 0.5, "hello"), Word(3.0, 3.5, "there")]
    m = measure([Segment("agent", 0.0, 3.5, "hello there", words=words)], duration=4)
    assert m.talk_s["agent"] == pytest.approx(1.0)


def test_a_segment_whose_words_have_no_duration_counts_its_own_span() -> None:
    """Whisper can stamp every word of a short segment with one instant; the call must still be measured (this
    crashed the ingest of a sample call) and the segment's talk time is its span."""
    words = [Word(5.0, 5.0, "好"), Word(5.0, 5.0, "的")]
    m = measure([seg("customer", 0, 4), Segment("agent", 4.2, 5.6, "好的", words=words)], duration=6)
    assert m.talk_s == {"agent": pytest.approx(1.4), "customer": 4.0}
    assert m.interruptions == {"agent": 0, "customer": 0}


def test_speech_rate_in_syllables() -> None:
    assert syllables("广州市房地产") == 6
    assert syllables("collection agency") == 7 - 1  # col-lec-tion a-gen-cy
    m = measure([seg("agent", 0, 2, "我们是华信公司"), seg("customer", 2, 4, "hello")], duration=4)
    assert m.speech_rate_sps["agent"] == pytest.approx(3.5)


def test_customer_anger_and_complaint_intent_words() -> None:
    segs = [seg("agent", 0, 3, "您好，我是华信公司的"), seg("customer", 3, 8, "你烦不烦！再打我就打12378投诉你们"),
            seg("agent", 8, 10, "好的"), seg("customer", 10, 14, "I will call my lawyer and the CFPB")]
    m = measure(segs, duration=14.5)
    assert {h.phrase for h in m.customer_anger} == {"你烦不烦"}
    assert {h.phrase for h in m.complaint_intent} == {"12378", "投诉", "lawyer", "cfpb"}
    assert {h.phrase for h in measure([seg("customer", 0, 3, "我打 一二三七八")]).complaint_intent} == {"一二三七八"}
    assert m.complaint_intent[0].start == 3
    # Agent speech is never counted as customer anger.
    assert not measure([seg("agent", 0, 3, "请不要投诉")], duration=3).complaint_intent
    assert m.ended_by == "customer" and not m.ended_with_farewell


def test_a_call_ending_with_goodbye_is_not_a_hang_up() -> None:
    m = measure([seg("agent", 0, 3, "那就这样，再见"), seg("customer", 3, 4, "拜拜")], duration=4.2)
    assert m.ended_with_farewell and m.ended_by is None and m.last_speaker == "customer"
