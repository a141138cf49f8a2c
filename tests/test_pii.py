"""PII validators and recognisers: real checksums accepted, near misses rejected, spoken forms found."""

from __future__ import annotations

import pytest

from qa.detect.base import Context, Utterance
from qa.detect.recognizers.pii import (PIIRecognizer, valid_bank_card, valid_cn_mobile, valid_cn_resident_id, valid_us_phone,
                           valid_us_ssn)
from qa.records import CallMeta

# GB 11643-1999 check character, computed here independently of the code under test.
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643(body17: str) -> str:
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, _W)) % 11]


def luhn_complete(body: str) -> str:
    total = 0
    for i, d in enumerate(reversed(body)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return body + str((10 - total % 10) % 10)


ID_VALID = gb11643("11010519900307123")          # Beijing Chaoyang, born 1990-03-07
ID_X = next(gb11643(f"4403051985061{n:04d}") for n in range(1000) if gb11643(f"4403051985061{n:04d}").endswith("X"))
CARD = luhn_complete("622202123456789012")        # 19-digit UnionPay
VISA = luhn_complete("411111111111111")
ZH = "零一二三四五六七八九"


def wrong_last(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("0" if last != "0" else "1")


def test_resident_id_checksum() -> None:
    assert valid_cn_resident_id(ID_VALID)
    assert valid_cn_resident_id(ID_X) and ID_X.endswith("X")
    assert not valid_cn_resident_id(wrong_last(ID_VALID))
    assert not valid_cn_resident_id(ID_VALID[:-1])  # 17 characters
    bad_date = gb11643("11010519901307123")  # month 13: checksum right, date impossible
    assert not valid_cn_resident_id(bad_date)


def test_bank_card_luhn() -> None:
    assert valid_bank_card(CARD) and valid_bank_card(VISA)
    assert not valid_bank_card(wrong_last(CARD))
    assert not valid_bank_card(luhn_complete("4111111111111"))  # 14 digits: too short for a bank card


def test_phones() -> None:
    assert valid_cn_mobile("13812345678") and valid_cn_mobile("8619912345678")
    assert not valid_cn_mobile("12812345678") and not valid_cn_mobile("1381234567")
    assert valid_us_phone("4155552671") and valid_us_phone("14155552671")
    assert not valid_us_phone("1155552671")  # area code cannot start with 1
    assert not valid_us_phone("4115552671")  # N11 area code
    assert not valid_us_phone("4151552671")  # exchange cannot start with 1


def test_ssn_components() -> None:
    assert valid_us_ssn("123456789")
    for bad in ("000456789", "666456789", "900456789", "123006789", "123450000", "078051120"):
        assert not valid_us_ssn(bad), bad


def _find(text: str, speaker: str = "customer", previous: str | None = None) -> list:
    utts = []
    if previous is not None:
        utts.append(Utterance(0, "agent" if speaker == "customer" else "customer", previous, 0.0, 2.0))
    utt = Utterance(len(utts), speaker, text, 10.0, 14.0)
    utts.append(utt)
    return PIIRecognizer().detect(utt, Context(CallMeta(), utts))


def test_resident_id_read_in_chinese_numerals_with_asr_spacing() -> None:
    spoken = " ".join(ZH[int(c)] if c.isdigit() else "叉" for c in ID_X)  # 一 一 零 ... 叉
    spoken = spoken.replace("一", "幺", 2)
    [f] = _find(f"我的身份證號碼是 {spoken}")
    assert f.details["pii_kind"] == "cn_resident_id" and f.details["verified"]
    assert f.subtype == "privacy/pii_spoken" and f.score >= 0.9
    assert "checksum" in f.explanation and "身份证" in f.explanation
    assert f.speaker == "customer" and (f.start, f.end) == (10.0, 14.0)


def test_context_word_raises_confidence() -> None:
    [plain] = _find(f"是 {CARD} 这个")
    [ctx] = _find(f"卡号是 {CARD}")
    [prev] = _find(f"{CARD}", previous="请问您的还款卡号是多少")
    assert ctx.score > plain.score and prev.score > plain.score
    assert plain.details["pii_kind"] == "bank_card"


def test_numbers_that_are_not_pii_are_ignored() -> None:
    assert _find("欠款23500元，2024年3月15日到期，分12期") == []
    assert _find("请提供一下身份证后四位", speaker="agent") == []
    assert _find("后四位是 1234") == []
    assert _find("the balance is $2,350.00 due on 03/15/2024") == []


def test_garbled_long_run_read_by_agent_is_flagged_at_lower_confidence() -> None:
    garbled = ID_VALID[:13]  # an 18-digit ID that ASR returned as 13 digits
    [bare] = _find(f"好的 {garbled} 对吧", speaker="agent")
    assert bare.details["verified"] is False
    assert "could not be verified" in bare.explanation
    assert 0.5 <= bare.score < 0.8
    # named as an ID just before it, it is the ID whatever the checksum says: as sure as a validated number
    [named] = _find(f"您的身份证号是 {garbled} 对吧", speaker="agent")
    assert named.details["verified"] is False and "could not be verified" in named.explanation
    assert named.score >= 0.9
    # ... also when ASR heard 身份证号 as 身份正好 (same toneless pinyin), as on the zh_05 sample call
    [slip] = _find(f"您的身份正好是{garbled}对吧", speaker="agent")
    assert slip.score >= 0.9
    # a customer's unverified run is flagged only next to a context word
    assert _find(f"是 {garbled}") == []


@pytest.mark.parametrize("text,kind", [
    ("call me at (415) 555-2671", "us_phone"),
    ("my social is 123-45-6789", "us_ssn"),
    ("my social security number is 123 45 6789", "us_ssn"),
    ("我手机 一三八 一二三四 五六七八", "cn_mobile"),
    ("email me at li.wei@example.com", "email"),
    ("it's john dot smith at gmail dot com", "email"),
    ("我住在北京市朝阳区建国路88号", "street_address"),
    ("I live at 1600 Pennsylvania Avenue", "street_address"),
])
def test_recognisers_find_each_kind(text: str, kind: str) -> None:
    kinds = [f.details["pii_kind"] for f in _find(text)]
    assert kinds == [kind]


def test_nine_digits_without_grouping_need_context_to_be_an_ssn() -> None:
    assert _find("reference 123456789 for your file") == []
    [f] = _find("my ssn is 123456789")
    assert f.details["pii_kind"] == "us_ssn"


def test_callback_number_given_by_the_agent_is_not_personal_data() -> None:
    assert _find("麻烦您转告他回个电话，号码是13812345678", speaker="agent") == []
    assert _find("Could you ask Ashley to call Tom back at 404-706-9659?", speaker="agent") == []
    assert _find("请拨打我们的客服热线4008881234", speaker="agent") == []  # 400 service line
    # the same mobile number read back to verify the customer's own record is personal data
    [f] = _find("您登记的手机号是13812345678对吗", speaker="agent")
    assert f.details["pii_kind"] == "cn_mobile"
