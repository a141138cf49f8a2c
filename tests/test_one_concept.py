"""One implementation per concept: the normaliser and phrase matcher, Chinese digits, offsets, settings,
data files, metrics, connected calls and abuse received each have one definition that every user shares.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qa.access.redact import mask_pii
from qa.assess.compliance import CallFacts, check_call, load_pack
from qa.assess.compliance.packs import RulePackError, _load as load_pack_file
from qa.assess.conversation import is_connected, load_config, measure
from qa.assess.scoring import finding_kind
from qa.config import load_settings
from qa.data import DataFileError, load, load_file
from qa.detect.metrics import label_metrics, matrix_metrics
from qa.detect.recognizers.phrases import phrase_detectors
from qa.records import Finding, Segment, is_abuse_received
from qa.speakers.roles import load_cues
from qa.text import PhraseSet, UtteranceText, digit_runs, fmt_offset, normalize, read_digits, to_simplified

SH = ZoneInfo("Asia/Shanghai")


# --- numerals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spoken", ["一八六", "幺八六", "壹捌陆", "186", "１８６"])
def test_every_reading_of_a_digit_gives_the_same_digits(spoken: str) -> None:
    assert read_digits(spoken) == "186"
    number = spoken + "1234" + "五六七八"  # a mobile number read in a mix of forms
    runs = digit_runs(UtteranceText(number).base)
    assert [r.digits for r in runs] == ["18612345678"]
    masked = mask_pii(f"号码是{number}。")
    assert masked.startswith("号码是") and masked.endswith("。") and set(masked[3:-1]) == {"*"}


def test_words_holding_digit_characters_are_not_numbers() -> None:
    assert digit_runs(UtteranceText("我一天打了两个电话").base) == []
    assert mask_pii("壹佰元") == "壹佰元"


# --- one normaliser, one phrase matcher ---------------------------------------------------------------


def test_compliance_detection_roles_and_conversation_share_one_phrase_set() -> None:
    element = load_pack("cn").disclosure_elements()[0]
    detector = phrase_detectors()[0]
    cue = load_cues().cues[0]
    conv = load_config()
    for phrases in (element.phrases, detector.phrases, *cue.phrases.values(), conv.anger, conv.farewell):
        assert type(phrases) is PhraseSet


def test_one_normaliser_for_matching_and_search() -> None:
    text = "您 好，本次通話將被錄音！ This Call is  RECORDED."
    assert normalize(text) == "您好本次通话将被录音 this call is recorded"
    assert to_simplified("請您儘快還款") == "请您尽快还款"
    # Traditional script, ASR spacing and punctuation: compliance reads it through the same view.
    when = datetime(2025, 3, 3, 10, 0, tzinfo=SH)
    opening = "您 好 ， 我 是 華 信 金 融 公 司 的 小 王 ， 本 次 通 話 將 全 程 錄 音"
    segs = [Segment("agent", 0.5, 8.0, opening), Segment("customer", 8.5, 30.0, "嗯，你说。")]
    facts = CallFacts(call_id=1, started_at=when, callee="debtor", direction="outbound", duration=31.0,
                      customer_speech_s=21.5, segments=segs, account_id="A1", agent_id="ag1")
    assert not [f for f in check_call(load_pack("cn"), facts) if f.label == "compliance/missing_disclosure"]


def test_phrase_set_covers_literals_patterns_pinyin_fuzzy_and_negators() -> None:
    ps = PhraseSet.from_spec({"zh": {"literals": ["打到你接为止"], "patterns": [r"上门\w{0,2}"],
                                     "negators": ["不会"]},
                              "en": {"literals": ["ssn"]}}, fuzzy_min_len=4)
    assert ps.find("我们打到你接为止").how == "literal"
    assert ps.find("我们打到你接位置").how == "pinyin"  # homophone slip
    assert ps.find("明天上门找你").how == "pattern"
    assert ps.find("我们不会上门") is None  # negated
    assert ps.find("lessness") is None and ps.find("your SSN please").text == "ssn"  # whole words only
    assert ps.find("我们打到你接为吧").how == "fuzzy"
    assert ps.find("我们打到你接为吧", fuzzy=False) is None
    flat = PhraseSet.from_spec({"literals": ["投诉", "我要投诉"]}, pinyin_min_len=None)
    assert [m.text for m in flat.find_all("我要投诉你们")] == ["我要投诉"]  # longest of overlapping hits


# --- time offsets -------------------------------------------------------------------------------------


def test_one_offset_format() -> None:
    assert fmt_offset(65.5) == "01:05.5"
    assert fmt_offset(65.5, decimals=0) == "01:05"
    assert fmt_offset(3725.0) == "1:02:05.0"
    assert fmt_offset(None) == "" and fmt_offset(None, missing="–") == "–"


# --- settings and data files --------------------------------------------------------------------------


def test_every_callqa_variable_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CALLQA_SESSION_TIMEOUT_MIN", "5")
    monkeypatch.setenv("CALLQA_UI_LANGUAGE", "en")
    monkeypatch.setenv("CALLQA_RULE_PACKS", str(tmp_path))
    monkeypatch.setenv("CALLQA_SCORING", str(tmp_path / "scoring.yaml"))
    monkeypatch.setenv("CALLQA_WELLBEING", str(tmp_path / "wellbeing.yaml"))
    s = load_settings()
    assert (s.session_timeout_min, s.ui_language, s.rule_packs) == (5.0, "en", str(tmp_path))
    assert s.scoring.endswith("scoring.yaml") and s.wellbeing.endswith("wellbeing.yaml")
    monkeypatch.setenv("CALLQA_SESSION_TIMEOUT_MIN", "half an hour")
    with pytest.raises(ValueError, match="CALLQA_SESSION_TIMEOUT_MIN"):
        load_settings()


def test_a_renamed_setting_still_reads_after_an_upgrade(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    site = tmp_path / "settings.yaml"
    site.write_text("asr_mono_parts: 3\n", encoding="utf-8")
    assert load_settings(site).asr_streams == 3
    monkeypatch.setenv("CALLQA_ASR_MONO_PARTS", "1")
    assert load_settings().asr_streams == 1
    monkeypatch.setenv("CALLQA_ASR_STREAMS", "4")  # the current name wins
    assert load_settings().asr_streams == 4


def test_data_files_name_the_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"abuse\.yaml: missing key rules\.no_such_rule"):
        load("lexicons/abuse")["rules"]["no_such_rule"]
    bad = tmp_path / "settings.yaml"
    bad.write_text("asr_beam_size: many\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"settings\.yaml: key 'asr_beam_size'"):
        load_settings(bad)
    broken = tmp_path / "x.yaml"
    broken.write_text("a: [1,\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="x.yaml: not valid YAML"):
        load_file(broken)


# --- connected calls ----------------------------------------------------------------------------------


def test_connected_call_has_one_threshold(tmp_path: Path) -> None:
    threshold = load_config().effective_min_customer_speech_s
    assert is_connected(threshold) and not is_connected(threshold - 0.1)
    segs = [Segment("agent", 0.0, 3.0, "您好"), Segment("customer", 3.0, 3.0 + threshold - 0.5, "嗯")]
    assert measure(segs).connected is False
    for pack in ("cn", "us"):
        assert "speech_s" not in Path(load_pack(pack).path).read_text(encoding="utf-8").replace(
            "effective_min_customer_speech_s` of conversation.yaml", "").replace(
            "(the customer spoke at least `effective_min_customer_speech_s`", "")
    old = tmp_path / "xx.yaml"
    old.write_text("jurisdiction: xx\ntimezone: UTC\nrules:\n  call_frequency:\n    citation: x\n"
                   "    effective_min_customer_speech_s: 9\n", encoding="utf-8")
    with pytest.raises(RulePackError, match="conversation.yaml"):
        load_pack_file(old)


# --- abuse received -----------------------------------------------------------------------------------


def _f(label: str, subtype: str, speaker: str | None, **details: object) -> Finding:
    return Finding(label, subtype, speaker, 0.0, 1.0, "", 0.9, "rule:x", "", details=dict(details))


def test_abuse_received_is_customer_hostility_to_the_agent_not_self_harm() -> None:
    assert is_abuse_received(_f("threat", "threat/to_agent", "customer", direction="to_agent"))
    assert is_abuse_received(_f("harassment", "harassment/insult", "customer"))
    assert not is_abuse_received(_f("threat", "threat/self_harm", "customer", direction="self", urgent=True))
    assert not is_abuse_received(_f("threat", "threat/violence", "agent", direction="to_customer"))
    assert not is_abuse_received(_f("stress", "stress", "customer"))
    assert finding_kind(_f("threat", "threat/self_harm", "customer")) == "self_harm"


# --- metrics ------------------------------------------------------------------------------------------


def test_eval_and_model_card_share_metrics() -> None:
    import numpy as np

    gold = [["threat"], ["threat", "privacy"], [], ["stress"]]
    pred = [["threat"], ["privacy"], ["threat"], []]
    report = label_metrics(gold, pred)
    assert report["labels"]["threat"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2,
                                          "predicted": 2, "tp": 1}
    assert report["labels"]["stress"]["f1"] == 0.0 and report["exact_match"] == 0.25
    y = np.array([[1, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    p = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert matrix_metrics(y, p) == report
