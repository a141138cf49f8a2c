"""Templated utterances for the collection corpus.

Each template is one group (all its filled instances share a split).  Fillers
are drawn with a seeded RNG.  Numbers read out as PII are *valid* (GB 11643
check digit for resident IDs, Luhn for bank cards, real-looking mobile
prefixes) so that rule validators and the model see the same thing; amounts,
dates and order numbers are the hard negatives.
"""

from __future__ import annotations

import random
from collections.abc import Callable

ZH_DIGITS = "零一二三四五六七八九"
ZH_DIGITS_PHONE = "零幺二三四五六七八九"  # phone readers often say 幺 for 1
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

ZH_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
ZH_RELATIONS = ["同事", "邻居", "妈妈", "爸爸", "爱人", "老婆", "老公", "朋友", "室友", "姐姐", "弟弟",
                "表哥", "领导", "房东", "同学", "前台", "岳母", "女朋友", "舅舅", "合伙人"]
ZH_PLATFORMS = ["花呗", "借呗", "分期乐", "微粒贷", "信用卡", "网贷", "消费贷", "京东白条", "美团月付", "安逸花"]
EN_FIRST = ["Michael", "Jennifer", "David", "Maria", "James", "Ashley", "Robert", "Jessica", "Carlos",
            "Tanya", "Kevin", "Linda", "Marcus", "Brittany", "Luis", "Denise", "Tyrone", "Heather"]
EN_LAST = ["Johnson", "Williams", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Lee", "Walker",
           "Thompson", "Nguyen", "Patel", "Robinson", "Clark", "Lewis", "Hall"]
EN_RELATIONS = ["neighbor", "coworker", "roommate", "mother", "father", "wife", "husband", "sister",
                "brother", "landlord", "boss", "girlfriend", "boyfriend", "cousin", "aunt", "friend"]
EN_CREDITORS = ["Capital Finance", "Summit Auto Loans", "the credit card account", "Horizon Medical billing",
                "the personal loan", "Bluebird Lending", "the store card", "Metro Bank"]
US_STATES_STREETS = ["Maple Street", "Oak Avenue", "Elm Drive", "Lincoln Boulevard", "Cedar Lane",
                     "Washington Street", "Sunset Road", "Pine Court"]
US_CITIES = ["Dallas", "Tampa", "Phoenix", "Columbus", "Sacramento", "Atlanta", "Denver", "Fresno"]


# --- valid identifiers --------------------------------------------------------------

def cn_resident_id(rng: random.Random) -> str:
    """An 18-character ID with a correct GB 11643-1999 check character."""
    area = rng.choice(["110101", "310104", "440305", "320102", "510107", "330106", "420111", "370202"])
    year = rng.randint(1965, 2002)
    body = f"{area}{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


def luhn_card(rng: random.Random, prefix: str, length: int) -> str:
    """A card number of ``length`` digits that passes the Luhn check."""
    digits = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # these positions get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def cn_mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "135", "136", "150", "151", "158", "186", "187", "177", "199"]) + \
        "".join(str(rng.randint(0, 9)) for _ in range(8))


def us_phone(rng: random.Random) -> str:
    return f"{rng.choice([214, 813, 602, 614, 916, 404, 720, 559])}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def us_ssn(rng: random.Random) -> str:
    return f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"


def zh_read(digits: str, phone: bool = False) -> str:
    table = ZH_DIGITS_PHONE if phone else ZH_DIGITS
    return "".join(table[int(c)] if c.isdigit() else ("叉" if c == "X" else c) for c in digits)


def en_read(digits: str) -> str:
    return " ".join(EN_DIGITS[int(c)] for c in digits if c.isdigit())


def spaced(digits: str, rng: random.Random) -> str:
    """ASR-style chunking of a long digit string."""
    out, i = [], 0
    while i < len(digits):
        n = rng.randint(2, 5)
        out.append(digits[i:i + n])
        i += n
    return " ".join(out)


def zh_amount(rng: random.Random) -> str:
    return rng.choice([f"{rng.randint(2, 98) * 100}", f"{rng.randint(1, 9)}万{rng.randint(1, 9)}千",
                       f"{rng.randint(3, 49)}{rng.choice(['00', '50', '80'])}块", f"{rng.randint(1, 9)}千多"])


def en_amount(rng: random.Random) -> str:
    return rng.choice([f"${rng.randint(2, 98) * 50:,}", f"${rng.randint(300, 9000):,}.{rng.randint(0, 99):02d}",
                       f"{rng.randint(2, 19)} thousand dollars", f"about ${rng.randint(5, 95) * 100}"])


# --- template tables: (group id, lang, speaker, subtypes, hard_negative, n, filler) ----

Filler = Callable[[random.Random], tuple[int, str]]


def _zh(rng: random.Random) -> dict:
    sur = rng.choice(ZH_SURNAMES)
    return {
        "sur": sur, "rel": rng.choice(ZH_RELATIONS), "plat": rng.choice(ZH_PLATFORMS),
        "amt": zh_amount(rng), "days": rng.choice(["十几天", "一个多月", "三个月", "半年", "四十多天", "两个月", "九十天"]),
        "id": cn_resident_id(rng), "card": luhn_card(rng, rng.choice(["622202", "621700", "622848", "625807"]), 19),
        "tel": cn_mobile(rng), "last4": f"{rng.randint(0, 9999):04d}", "day": rng.randint(1, 28),
        "mon": rng.randint(1, 12), "agent": rng.choice(["小刘", "小陈", "小王", "李专员", "周经理", "张客服"]),
        "hotline": rng.choice(["4008881234", "95188", "4006060606", "021-62345678"]),
    }


def _en(rng: random.Random) -> dict:
    return {
        "first": rng.choice(EN_FIRST), "last": rng.choice(EN_LAST), "rel": rng.choice(EN_RELATIONS),
        "cred": rng.choice(EN_CREDITORS), "amt": en_amount(rng),
        "days": rng.choice(["30 days", "sixty days", "90 days", "three months", "over a year", "45 days"]),
        "ssn": us_ssn(rng), "card": luhn_card(rng, rng.choice(["4", "51", "37", "6011"]), 16),
        "tel": us_phone(rng), "last4": f"{rng.randint(0, 9999):04d}", "day": rng.randint(1, 28),
        "month": rng.choice(["January", "March", "April", "June", "August", "October", "December"]),
        "agent": rng.choice(["Dana", "Mike", "Sarah", "Chris", "Angela", "Tom"]),
        "street": f"{rng.randint(10, 9899)} {rng.choice(US_STATES_STREETS)}", "city": rng.choice(US_CITIES),
        "acct": f"{rng.randint(10**7, 10**8 - 1)}",
    }


def _fmt(templates: list[str], ctx: Callable[[random.Random], dict], extra: Callable | None = None):
    def make(rng: random.Random) -> str:
        d = ctx(rng)
        if extra:
            d.update(extra(rng, d))
        idx = rng.randrange(len(templates))
        return idx, templates[idx].format(**d)
    return make


def _pii_zh(rng: random.Random, d: dict) -> dict:
    return {"id_read": rng.choice([zh_read(d["id"]), d["id"], spaced(d["id"], rng)]),
            "card_read": rng.choice([zh_read(d["card"]), d["card"], spaced(d["card"], rng)]),
            "tel_read": rng.choice([zh_read(d["tel"], phone=True), d["tel"], spaced(d["tel"], rng)])}


def _pii_en(rng: random.Random, d: dict) -> dict:
    return {"ssn_read": rng.choice([d["ssn"], en_read(d["ssn"]), d["ssn"].replace("-", " ")]),
            "card_read": rng.choice([d["card"], en_read(d["card"]), spaced(d["card"], rng)]),
            "tel_read": rng.choice([d["tel"], en_read(d["tel"])])}


TEMPLATES: list[tuple[str, str, str, tuple[str, ...], bool, int, Filler]] = [
    # ---- Mandarin: PII read out in full (agent) ----
    ("tpl-pii-id", "zh", "agent", ("privacy/pii_spoken",), False, 14, _fmt([
        "我跟您核对一下，您的身份证号码是{id_read}，对吧？",
        "{sur}先生，你身份证{id_read}，这个没错吧",
        "系统里登记的身份证号是{id_read}，你自己听听是不是你的",
        "身份证号{id_read} 名字{sur}某某 这不是你是谁",
    ], _zh, _pii_zh)),
    ("tpl-pii-card", "zh", "agent", ("privacy/pii_spoken",), False, 12, _fmt([
        "您绑定的还款卡号是{card_read}，请确认一下。",
        "你的银行卡{card_read}里面明明有钱，为什么不还",
        "我们这边显示你的卡号{card_read}，今天会发起扣款",
        "卡号{card_read}，开户行是建行，没错吧？",
    ], _zh, _pii_zh)),
    ("tpl-pii-tel", "zh", "agent", ("privacy/pii_spoken",), False, 12, _fmt([
        "你另外一个手机号{tel_read}也是你的吧，我们都查到了",
        "你老婆的电话是{tel_read}，要不要我直接打给她",
        "你留的紧急联系人电话{tel_read}，是你{rel}对吧",
        "你的手机号{tel_read}，身份证后面几位我就不念了",
    ], _zh, _pii_zh)),
    # ---- Mandarin: third-party disclosure (agent, callee is not the debtor) ----
    ("tpl-3p-a", "zh", "agent", ("privacy/third_party_disclosure",), False, 14, _fmt([
        "你是他{rel}是吧？那麻烦你转告他，他在{plat}欠的{amt}已经逾期{days}了。",
        "你是{sur}某某的{rel}吧 他{plat}逾期{days}了 一共欠{amt} 你让他赶紧处理",
        "既然你是他{rel}，我就直说了，他欠我们{amt}，拖了{days}了。",
        "我们联系不上他本人，你作为他{rel}，能不能帮他把{plat}那{amt}先还了？",
        "跟你说一下，你{rel}在我们这里有笔{plat}欠款，逾期{days}，你们家里人管一管。",
    ], _zh)),
    ("tpl-3p-b", "zh", "agent", ("privacy/third_party_disclosure",), False, 10, _fmt([
        "哦你不是本人，那你知道他欠了{amt}吗？已经{days}没还了",
        "不是本人没关系，你告诉他，{plat}的账单逾期了，金额{amt}，再不还要上门了",
        "那你帮我带个话，他那个{amt}的欠款今天必须还",
    ], _zh)),
    # ---- Mandarin hard negatives: callback to third party without the debt ----
    ("tpl-cb", "zh", "agent", (), True, 16, _fmt([
        "好的，那麻烦您转告他回个电话，号码是{hotline}，谢谢您。",
        "不好意思打扰了，请您让{sur}先生方便的时候回电给我们，我姓{sur}。",
        "那您见到他的时候，跟他说一声有个{agent}找他，回这个号码就行。",
        "明白，具体事情需要跟他本人沟通，麻烦您帮忙带句话让他回电。",
        "那就不打扰您了，请他有空回拨{hotline}，我们找他有点事。",
        "谢谢您，麻烦让他今天或者明天联系一下{agent}，祝您生活愉快。",
    ], _zh)),
    # ---- Mandarin hard negatives: identity check with last four only ----
    ("tpl-last4", "zh", "agent", (), True, 14, _fmt([
        "为了确认是您本人，麻烦报一下身份证后四位。",
        "您好，请问您的银行卡尾号是{last4}吗？",
        "我这边核对一下，您手机号后四位是{last4}对吗？",
        "请说一下身份证的最后四位数字，其他信息不用说。",
        "核实一下，您还款卡尾号{last4}，是这张卡吗",
        "麻烦您提供一下注册手机号后四位，我们确认身份后再跟您沟通账户情况。",
    ], _zh)),
    # ---- Mandarin hard negatives: amounts and dates ----
    ("tpl-amt", "zh", "agent", (), True, 16, _fmt([
        "您本期账单金额是{amt}，最后还款日是{mon}月{day}号。",
        "如果{mon}月{day}号之前还{amt}，我们可以申请减免部分罚息。",
        "您目前的逾期金额是{amt}，您看这个月能先还多少？",
        "{mon}月{day}号您还了一笔{amt}，这边已经入账了。",
        "我们约定{mon}月{day}号还{amt}，到时候我再联系您确认。",
        "您在{plat}的账单，本金加利息一共{amt}。",
    ], _zh)),
    ("tpl-amt-c", "zh", "customer", (), True, 12, _fmt([
        "我{mon}月{day}号发工资，到时候先还{amt}。",
        "我已经在{mon}月{day}号还过{amt}了，你们查一下。",
        "能不能每个月还{amt}？多了我真的没有。",
        "卡尾号{last4}那张卡里钱够，你们扣就行。",
        "我{plat}那边也欠着{amt}，两头都要还，压力很大。",
    ], _zh)),
    # ---- Mandarin hard negatives: lawful consequence ----
    ("tpl-lawful", "zh", "agent", (), True, 14, _fmt([
        "根据您签订的合同，逾期{days}的记录会按规定报送征信。",
        "提醒您一下，如果协商不成，债权方可能会依法通过法院起诉，不过我们更希望协商解决。",
        "按照合同约定，逾期期间会产生罚息，目前累计是{amt}。",
        "逾期信息会如实上报人民银行征信中心，这个会影响您以后的贷款和信用卡申请。",
        "如果账户长期逾期，公司有权依法采取诉讼等合法途径，这个我要如实告知您。",
        "我们不会联系您的家人或单位，但逾期记录是会按规定报送的，请您理解。",
    ], _zh)),
    # ---- Mandarin: call bombing (agent) ----
    ("tpl-bomb", "zh", "agent", ("harassment/call_bombing",), False, 10, _fmt([
        "今天你不回电话，我每隔{n}分钟打一次，打到你接为止。",
        "你拉黑也没用，我们有{n}个号码轮流打你。",
        "一天给你打{n}个电话，看你能躲多久。",
        "从现在开始，你的手机每{n}分钟响一次，直到你还钱。",
    ], _zh, lambda rng, d: {"n": rng.choice([5, 10, 15, 20, 30, 50, 100])})),
    # ---- English: PII read out in full ----
    ("tpl-pii-en", "en", "agent", ("privacy/pii_spoken",), False, 16, _fmt([
        "Just to confirm, your Social Security number is {ssn_read}, correct?",
        "I have your card number here, {card_read}, and we'll be running the payment on it today.",
        "Is {tel_read} still your cell, and you're at {street}, {city}?",
        "The card on file is {card_read}, expiring next year, is that right?",
        "Your social is {ssn_read} and your date of birth is {month} {day}, 1984.",
        "We also have your wife's number, {tel_read}, in case we can't reach you.",
    ], _en, _pii_en)),
    # ---- English: third-party disclosure ----
    ("tpl-3p-en", "en", "agent", ("privacy/third_party_disclosure",), False, 16, _fmt([
        "Oh, you're his {rel}? Well, can you let him know he's {days} past due on {cred}, about {amt}?",
        "Since you're the {rel}, maybe you can talk some sense into her. She owes us {amt} and hasn't paid in {days}.",
        "I'm calling about {first}'s debt with {cred}. As the {rel}, are you able to help cover the {amt}?",
        "Please tell {first} that the balance of {amt} on {cred} is seriously delinquent.",
        "You're the {rel}? Okay, then you should know {first} is in default on a loan with us.",
        "Ma'am, your {rel} {first} has an unpaid collection account, {amt}, and we need it resolved.",
    ], _en)),
    # ---- English hard negatives: callback without the debt ----
    ("tpl-cb-en", "en", "agent", (), True, 16, _fmt([
        "No problem. Could you please ask {first} to call {agent} back at {tel}? Thank you.",
        "I understand. I can only discuss this with {first} directly, so please just ask them to return my call.",
        "That's fine, I'll try again later. If you see {first}, could you pass along my number, {tel}?",
        "Sorry to bother you. It's a personal business matter, please have {first} give us a call back.",
        "Thanks, just let {first} know {agent} from the office called and would like a call back.",
        "Okay, I won't take up your time. Please ask {first} to reach me at {tel} at their convenience.",
    ], _en)),
    # ---- English hard negatives: identity check, last four ----
    ("tpl-last4-en", "en", "agent", (), True, 14, _fmt([
        "For verification, can you give me the last four digits of your Social?",
        "Can you confirm the last four of the card on file? I have it ending in {last4}.",
        "Before I go on, I need to verify your identity. What's your date of birth and the last four of your Social?",
        "Just the last four digits of your phone number, please, so I can pull up the right account.",
        "I'm showing a card ending in {last4}. Is that the one you'd like to use today?",
        "Can you verify your zip code and the last four of your Social Security number?",
    ], _en)),
    # ---- English hard negatives: amounts/dates/account references ----
    ("tpl-amt-en", "en", "agent", (), True, 16, _fmt([
        "Your current balance is {amt}, and the minimum payment due on {month} {day} is $75.",
        "If you can pay {amt} by {month} {day}, I can set up the rest in monthly installments.",
        "I see a payment of {amt} posted on {month} {day}. Thank you for that.",
        "Your reference number for today's arrangement is {acct}.",
        "We can offer a settlement of {amt} if it's paid in full by the {day}th.",
        "So that's {amt} on the {day}th of every month, starting in {month}. Does that work?",
    ], _en)),
    ("tpl-amt-en-c", "en", "customer", (), True, 12, _fmt([
        "I get paid on the {day}th, so I can do {amt} then.",
        "I already sent {amt} on {month} {day}, check your records.",
        "My card ends in {last4}, you can use that one.",
        "Can we do {amt} a month? That's really all I can swing right now.",
        "My confirmation number from the last payment is {acct}.",
    ], _en)),
    # ---- English hard negatives: lawful consequence ----
    ("tpl-lawful-en", "en", "agent", (), True, 14, _fmt([
        "As the agreement allows, late payments may be reported to the credit bureaus.",
        "I do need to let you know that if the account remains unpaid, the creditor may consider its legal options through the proper channels.",
        "This is a communication from a debt collector. This is an attempt to collect a debt and any information obtained will be used for that purpose.",
        "Per your agreement, a late fee of $25 may be applied after the {day}th.",
        "No lawsuit has been filed at this time. We'd like to work out a payment plan with you.",
        "You have the right to dispute this debt in writing within 30 days, and we'll send you verification.",
    ], _en)),
    # ---- English: call bombing ----
    ("tpl-bomb-en", "en", "agent", ("harassment/call_bombing",), False, 10, _fmt([
        "We'll keep calling every {n} minutes until you pick up.",
        "You can block this number, we've got {n} more lines to call you from.",
        "I'm going to call you {n} times a day until this gets paid.",
        "Don't bother ignoring us, your phone is going to ring every {n} minutes, day and night.",
    ], _en, lambda rng, d: {"n": rng.choice([5, 10, 15, 20, 30, 50])})),
]


def template_groups(seed: int) -> list[dict]:
    """Fill every template table ``n`` times; one group per sentence pattern, so
    instances of the same pattern (template siblings) always share a split.
    Exact duplicates are dropped later by the builder."""
    groups = []
    for gid, lang, speaker, subtypes, hn, n, make in TEMPLATES:
        rng = random.Random(f"{seed}-{gid}")
        by_pattern: dict[int, list[str]] = {}
        for _ in range(n):
            idx, text = make(rng)
            by_pattern.setdefault(idx, []).append(text)
        for idx in sorted(by_pattern):
            groups.append({"gid": f"{lang}-{gid}-p{idx}", "lang": lang, "speaker": speaker,
                           "subtypes": list(subtypes), "hard_negative": hn, "texts": by_pattern[idx]})
    return groups
