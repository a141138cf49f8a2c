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
    return groups + composed_groups(seed)


# --- composed utterances: hand-written cores wrapped in varied openers/tails ----------
# Each core is its own group, so its wrapped variants (siblings) share a split.

ZH_OPEN_AGENT = ["", "唉，", "说实话，", "组长，", "不瞒你说，", "哎，"]
ZH_OPEN_CUST = ["", "喂，", "我跟你说，", "哎呀，", "你听我说，", "那个，"]
EN_OPEN_AGENT = ["", "Honestly, ", "Ugh, ", "Look, ", "I'm sorry, ", "Okay, "]
EN_OPEN_CUST = ["", "Look, ", "Listen, ", "Yeah, ", "Okay so, ", "Hey, "]

COMPOSED: list[tuple[str, str, str, tuple[str, ...], bool, list[str], list[str], list[str]]] = [
    ("cmp-str", "zh", "agent", ("stress/distress_words",), False, ZH_OPEN_AGENT, [
        "我今天真的到极限了", "我心里特别难受，说不出来的那种", "我快扛不住了，脑子一片空白",
        "我一整天都在被人骂，整个人都是懵的", "我现在特别想哭", "我觉得自己快垮了",
        "这个工作快把我逼疯了", "我已经好几天睡不着觉了", "我听到电话响就害怕",
        "我真的不想再打下一个电话了", "我胸口闷得喘不过气", "刚才那个人说要弄死我，我到现在还在抖",
        "我已经没有力气再跟人吵了", "我感觉自己像个出气筒", "我真的很委屈，眼泪一直在掉",
    ], ["", "，我想先歇一会儿", "，真的", "，不知道还能坚持多久"]),
    ("cmp-str", "en", "agent", ("stress/distress_words",), False, EN_OPEN_AGENT, [
        "I'm at the end of my rope", "I feel like I'm going to fall apart", "I can't breathe, I need a minute",
        "that call left me in tears", "I'm completely drained", "I don't think I can keep doing this job",
        "I'm scared after what that caller said", "I've been crying between calls all morning",
        "I'm so stressed I can't eat", "my heart is pounding and I can't calm down",
        "I feel like everyone here hates me", "I'm not okay today", "I just want to go home and hide",
        "being yelled at all day is wrecking me", "I'm on the verge of a breakdown",
    ], ["", ", I really am", ", I swear", ", I need to log off for a bit"]),
    ("cmp-hn-cust", "zh", "customer", (), True, ZH_OPEN_CUST, [
        "我这个月确实困难，能不能宽限到下个月", "我想申请停息挂账，怎么操作", "我要投诉你们上次那个催收员态度不好",
        "你们利息是不是算错了，我要一份明细", "我会去12378反映你们的催收频率", "我不是不还，是真的没钱",
        "我下周发工资，先还一部分", "我家里出了点事，钱都用在医院了", "你们别打我家里人电话了，我自己会处理",
        "能不能把罚息免掉，本金我一次性还", "我最近压力很大，但是这个钱我认", "我失业三个月了，还在找工作",
        "我想跟你们协商一个分期方案", "我已经还了一部分了，你们核对一下", "请你们以后只在白天联系我",
        "我打算咨询一下律师，看看这个利息合不合法", "我老婆生孩子，这个月开销特别大", "我刚刚已经转了五百过去",
        "我要求你们提供书面的还款协议", "你们的电话太多了，一天三四个，我会保留证据",
    ], ["", "。", "，行吗", "，你们看一下"]),
    ("cmp-hn-cust", "en", "customer", (), True, EN_OPEN_CUST, [
        "I can't pay the full amount this month, can we push it back", "I want to set up a hardship plan",
        "I'd like to file a complaint about the last agent I spoke to", "I think the interest on this is wrong",
        "I'm going to report these calls to the CFPB", "I'm not refusing to pay, I just don't have it right now",
        "I get paid next week, I can do part of it then", "my wife's been in the hospital and everything went to bills",
        "please stop calling my family, I'll handle it myself", "if you drop the fees I can pay the principal today",
        "I'm really stressed about this, but I know I owe it", "I've been out of work for three months",
        "I want to work out a payment arrangement", "I already paid some of this, check again",
        "please only call me during the day", "I'm going to talk to a lawyer about these charges",
        "we just had a baby and money's tight", "I sent two hundred dollars an hour ago",
        "I want the agreement in writing before I pay", "you've called me four times today, I'm keeping a log",
    ], ["", ".", ", okay?", ", please"]),
    ("cmp-hn-agent", "zh", "agent", (), True, ZH_OPEN_AGENT[:3] + ["好的，", "明白，"], [
        "逾期信息会按合同约定报送征信", "如果协商不成，债权方可能依法起诉，但我们希望协商解决",
        "请您提供身份证后四位核实一下身份", "麻烦您转告他方便时回个电话", "今天需要您给一个明确的还款日期",
        "我理解您的困难，我们可以申请分期", "您的诉求我会如实记录并反馈", "我们不会联系您的家人和单位",
        "如果您有异议，可以书面提出，我们会核实", "您的本期应还金额是两千三百元",
        "逾期会产生罚息，具体以合同为准", "您可以通过官方APP或者对公账户还款",
        "我们每天联系您不会超过三次", "减免需要审批，我先帮您提交", "这个方案是目前能争取到的最优方案了",
        "请您按约定时间还款，避免影响信用记录", "您对通话有不满意的地方可以随时投诉",
        "我们的通话全程录音，请您放心", "您本人不方便的话，我们改天再联系", "您的账户已逾期二十天，请尽快处理",
    ], ["", "。", "，您看可以吗", "，谢谢您"]),
    ("cmp-hn-agent", "en", "agent", (), True, EN_OPEN_AGENT[:2] + ["Alright, ", "Understood, "], [
        "late payments may be reported to the credit bureaus as your agreement allows",
        "if this can't be resolved the creditor may consider legal options, but we'd rather work it out",
        "can you verify the last four of your Social", "please just ask him to return my call",
        "I need a specific date for the payment today", "I understand, and we can look at a payment plan",
        "I'll document your concerns and pass them along", "we won't contact your family or your employer",
        "if you dispute the debt, send it in writing and we'll verify it", "your payment due this month is $230",
        "late fees apply according to the contract", "you can pay through the website or the phone system",
        "we'll respect your request not to be called at work", "a settlement needs approval, I'll submit it now",
        "this is the best offer I'm able to get for you", "paying on time will help keep your credit report clean",
        "if you're unhappy with this call you can ask for a supervisor", "this call is recorded for quality",
        "if this isn't a good time we can talk later", "the account is twenty days past due",
    ], ["", ".", ", does that sound fair?", ", thank you"]),
    ("cmp-har-cust", "zh", "customer", ("harassment/insult",), False, ZH_OPEN_CUST, [
        "你就是个要债的狗", "你们这帮人渣", "你脑子进水了吧", "你这个没人性的东西", "你算老几啊",
        "你们就是一群吸血的蚂蟥", "你这种人不得好死", "你真是个废物", "你一个臭打电话的装什么装",
        "你们公司全是骗子", "你是不是没长耳朵", "你这人真恶心",
    ], ["", "！", "，滚", "，听见没有"]),
    ("cmp-har-cust", "en", "customer", ("harassment/insult",), False, EN_OPEN_CUST, [
        "you're a worthless leech", "you people are scum", "are you brain dead", "you heartless creep",
        "who do you think you are, nobody", "you're all a bunch of bloodsuckers", "you're a disgusting human being",
        "you're a total loser", "you're a glorified telemarketer, act like it", "your company is a pack of crooks",
        "you're too dumb to understand English", "you make me sick",
    ], ["", "!", ", got it?", ", so back off"]),
    ("cmp-thr-imp", "zh", "agent", ("threat/exposure",), False, ZH_OPEN_AGENT[:3] + ["我提醒你，"], [
        "你应该不希望你领导接到我们的电话吧", "你家里人还不知道这件事吧，要不要我们帮你说",
        "你朋友圈那些人，我们都能联系上", "这个事情闹到你单位去，对谁都不好看",
        "你同事们要是知道你欠钱不还，会怎么看你", "我们可以低调处理，也可以让大家都知道，你选",
        "你丈母娘的电话我这里有", "你孩子的老师应该不想知道这些吧",
    ], ["", "？", "，你自己想想", "，你掂量掂量"]),
    ("cmp-thr-imp", "en", "agent", ("threat/exposure",), False, EN_OPEN_AGENT[:3] + ["Just so you know, "], [
        "you probably don't want your boss getting a call from us",
        "your family doesn't know about this yet, do they, we could fix that",
        "we can reach everyone you're friends with online",
        "this could get very awkward at your workplace",
        "I wonder what your coworkers would think if they knew",
        "we can keep this quiet or we can make it public, your call",
        "I have your in-laws' number right here", "I doubt your kids' teachers need to hear about this",
    ], ["", "?", ", think about it", ", just saying"]),
    ("cmp-thr-legal", "zh", "agent", ("threat/false_legal",), False, ZH_OPEN_AGENT[:2] + ["我正式通知你，"], [
        "你已经涉嫌诈骗罪，公安马上立案", "法院今天下午就会派人去你家执行", "你再不还就会被拘留十五天",
        "你的名字已经报到派出所了", "明天就冻结你名下所有银行账户", "我是法院的，请你配合执行",
    ], ["", "。", "，你好自为之", "，别说我没提醒你"]),
    ("cmp-thr-legal", "en", "agent", ("threat/false_legal",), False, EN_OPEN_AGENT[:2] + ["This is your final notice, "], [
        "a warrant is being issued for your arrest", "the sheriff will be at your house this afternoon",
        "you'll be charged with fraud if this isn't paid", "your name has been sent to the police",
        "all your bank accounts will be frozen tomorrow", "I'm calling on behalf of the court",
    ], ["", ".", ", and there's nothing you can do", ", don't say I didn't warn you"]),
]


def composed_groups(seed: int, variants: int = 3) -> list[dict]:
    """Each core wrapped ``variants`` times with a seeded opener/tail; one group per core."""
    groups = []
    for gid, lang, speaker, subtypes, hn, openers, cores, tails in COMPOSED:
        rng = random.Random(f"{seed}-{gid}-{lang}")
        for i, core in enumerate(cores):
            texts = []
            for _ in range(variants):
                opener, tail = rng.choice(openers), rng.choice(tails)
                text = opener + core + tail
                if lang == "en" and not opener:
                    text = text[0].upper() + text[1:]
                if lang == "en" and text[-1] not in ".!?":
                    text += rng.choice([".", ".", "?" if text.endswith(("Social", "right")) else "."])
                texts.append(text)
            groups.append({"gid": f"{lang}-{gid}-c{i:02d}", "lang": lang, "speaker": speaker,
                           "subtypes": list(subtypes), "hard_negative": hn, "texts": texts})
    return groups
