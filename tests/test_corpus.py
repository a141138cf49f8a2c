"""The project's labelled collection-call corpus: format, coverage and split hygiene.

The corpus trains and evaluates the learned classifier; a malformed line, a label
outside the shared vocabulary or a paraphrase leaking from train into test would
silently corrupt the model card's held-out figures.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from qa.records import LABELS

DATA = Path(__file__).resolve().parent.parent / "models" / "data"
CORPUS = DATA.parents[1] / "qa" / "data" / "corpus" / "collection_corpus.jsonl"
FIELDS = {"id", "text", "speaker", "lang", "labels", "subtypes", "split", "hard_negative", "group"}
#: The test split as first built (corpus 1.0, lines 1-1,869); see models/data/README.md.
TEST_SPLIT_BUILT_FROM = 1869
TEST_SPLIT_SHA256 = "a93dfb64aeaa26ea3d3089ab3c3f05dbd14fbb25c584e7e5616f7547ad4ddeee"
SUBTYPES = {
    "threat/violence", "threat/exposure", "threat/false_legal", "threat/self_harm", "threat/to_agent",
    "harassment/insult", "harassment/profanity", "harassment/call_bombing", "harassment/demeaning",
    "privacy/third_party_disclosure", "privacy/pii_spoken", "privacy/contact_exposure",
    "stress/distress_words",
}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _norm(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def test_every_line_follows_the_format(rows: list[dict]) -> None:
    ids = set()
    for r in rows:
        assert set(r) == FIELDS, r["id"]
        assert r["id"] not in ids
        ids.add(r["id"])
        assert re.fullmatch(rf"{r['lang']}-\d{{4}}", r["id"])
        assert r["speaker"] in ("agent", "customer")
        assert r["lang"] in ("zh", "en")
        assert r["split"] in ("train", "dev", "test")
        assert isinstance(r["hard_negative"], bool)
        assert isinstance(r["text"], str) and r["text"].strip() == r["text"] and r["text"]
        assert set(r["labels"]) <= set(LABELS)
        assert list(r["labels"]) == [lab for lab in LABELS if lab in r["labels"]]  # canonical order
        assert set(r["subtypes"]) <= SUBTYPES
        # labels are exactly the labels implied by the subtypes
        assert set(r["labels"]) == {s.split("/")[0] for s in r["subtypes"]}, r["id"]


def test_language_matches_script(rows: list[dict]) -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for r in rows:
        assert bool(han.search(r["text"])) == (r["lang"] == "zh"), r["id"]


def test_size_language_and_speaker_balance(rows: list[dict]) -> None:
    assert len(rows) >= 1800
    langs = Counter(r["lang"] for r in rows)
    assert 0.52 <= langs["zh"] / len(rows) <= 0.68
    for lang in ("zh", "en"):
        speakers = Counter(r["speaker"] for r in rows if r["lang"] == lang)
        assert speakers["customer"] >= 0.25 * langs[lang], lang
        assert speakers["agent"] >= 0.25 * langs[lang], lang


def test_each_label_has_enough_positives_in_both_languages(rows: list[dict]) -> None:
    for label in LABELS:
        pos = [r for r in rows if label in r["labels"]]
        assert len(pos) >= 150, label
        by_lang = Counter(r["lang"] for r in pos)
        assert by_lang["zh"] >= 50 and by_lang["en"] >= 50, (label, by_lang)
        by_split = Counter(r["split"] for r in pos)
        assert by_split["test"] >= 15 and by_split["dev"] >= 15, (label, by_split)


def test_stress_is_agent_and_self_harm_is_customer(rows: list[dict]) -> None:
    for r in rows:
        if "stress/distress_words" in r["subtypes"]:
            assert r["speaker"] == "agent", r["id"]
        if {"threat/self_harm", "threat/to_agent"} & set(r["subtypes"]):
            assert r["speaker"] == "customer", r["id"]
        if {"privacy/third_party_disclosure", "privacy/pii_spoken"} & set(r["subtypes"]):
            assert r["speaker"] == "agent", r["id"]


def test_hard_negatives_are_plentiful_and_mostly_clean(rows: list[dict]) -> None:
    hn = [r for r in rows if r["hard_negative"]]
    assert len(hn) >= 0.30 * len(rows)
    assert sum(1 for r in hn if not r["labels"]) >= 0.9 * len(hn)
    for lang in ("zh", "en"):
        assert sum(1 for r in hn if r["lang"] == lang) >= 0.25 * sum(1 for r in rows if r["lang"] == lang)


def test_split_proportions(rows: list[dict]) -> None:
    """The first 1,869 lines were split 70/15/15; lines added since (`src/added/`) go to train and dev only."""
    first = rows[:TEST_SPLIT_BUILT_FROM]
    share = Counter(r["split"] for r in first)
    assert 0.62 <= share["train"] / len(first) <= 0.78
    assert 0.10 <= share["dev"] / len(first) <= 0.20
    assert 0.10 <= share["test"] / len(first) <= 0.20
    added = Counter(r["split"] for r in rows[TEST_SPLIT_BUILT_FROM:])
    assert added["test"] == 0 and 0.70 <= added["train"] / sum(added.values()) <= 0.90


def test_the_held_out_test_split_never_changes(rows: list[dict]) -> None:
    """Every model card figure on the corpus test split compares heads on these same 279 lines: adding corpus
    lines must not move a line into or out of it, or change one."""
    test = [[r["id"], r["text"], r["labels"], r["speaker"], r["hard_negative"]] for r in rows if r["split"] == "test"]
    digest = hashlib.sha256(json.dumps(test, ensure_ascii=False).encode("utf-8")).hexdigest()
    assert (len(test), digest) == (279, TEST_SPLIT_SHA256)


def test_groups_never_straddle_splits(rows: list[dict]) -> None:
    splits_of = defaultdict(set)
    for r in rows:
        splits_of[r["group"]].add(r["split"])
    straddling = {g: s for g, s in splits_of.items() if len(s) > 1}
    assert not straddling


def test_no_duplicate_texts_anywhere(rows: list[dict]) -> None:
    seen: dict[str, str] = {}
    for r in rows:
        key = _norm(r["text"])
        assert key not in seen, (r["id"], seen.get(key))
        seen[key] = r["id"]


def test_known_hard_negatives_are_clean_and_known_positives_labelled(rows: list[dict]) -> None:
    by_text = {_norm(r["text"]): r for r in rows}

    def find(fragment: str) -> dict:
        hits = [r for k, r in by_text.items() if _norm(fragment) in k]
        assert hits, fragment
        return hits[0]

    assert find("逾期记录会按规定报送征信系统")["labels"] == []
    assert find("麻烦您转告他回个电话")["labels"] == []
    assert find("last four digits of your Social")["labels"] == []
    assert find("This heat is killing me")["labels"] == []
    assert find("file a complaint with the CFPB")["labels"] == []
    assert find("你也不想你单位的人都知道你欠钱不还吧")["labels"] == ["threat"]
    assert find("It would be a shame if your employer found out")["labels"] == ["threat"]
    assert find("打到你接为止")["labels"] == ["harassment"]
    assert find("我真的撑不住了，每天被骂几十次")["labels"] == ["stress"]


def test_pii_template_numbers_are_valid(rows: list[dict]) -> None:
    """Spoken resident IDs carry a correct GB 11643 check digit, so a validator-based
    rule and the corpus agree on what counts as a real ID."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    checked = 0
    for r in rows:
        if r["group"].startswith("zh-tpl-pii-id"):
            digits = re.sub(r"\s", "", r["text"])
            digits = digits.translate(str.maketrans("零一二三四五六七八九叉", "0123456789X"))
            match = re.search(r"\d{17}[\dX]", digits)
            assert match, r["id"]
            body, check = match.group()[:17], match.group()[17]
            assert "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11] == check
            checked += 1
    assert checked >= 5


def test_build_is_deterministic_and_matches_committed_file(tmp_path: Path) -> None:
    code = (
        "import json, sys; sys.path.insert(0, %r); import build_corpus as b; "
        "print('\\n'.join(json.dumps(r, ensure_ascii=False) for r in b.build()))" % str(DATA)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         encoding="utf-8").stdout
    assert out.strip() == CORPUS.read_text(encoding="utf-8").strip()
