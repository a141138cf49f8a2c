"""Fusion of rule hits with the learned model (a small fake classifier here; the real one in slow tests)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from qa.config import Settings
from qa.detect import detect_transcript, noisy_or
from qa.records import LABELS, CallMeta, Segment, Transcript


class FakeClassifier:
    """Fixed probabilities per text; counts predict calls (detection must batch a call in one)."""

    name = "fake-head"
    version = "0.1"

    def __init__(self, table: dict[str, dict[str, float]], thresholds: dict[str, float] | None = None) -> None:
        self.table = table
        self.thresholds = thresholds or {lab: 0.5 for lab in LABELS}
        self.calls = 0
        self.batches: list[list[str]] = []

    def predict(self, texts: list[str], speakers: list[str] | None = None) -> np.ndarray:
        self.calls += 1
        self.batches.append(list(texts))
        return np.array([[self.table.get(t, {}).get(lab, 0.02) for lab in LABELS] for t in texts], dtype=np.float32)


def transcript(*turns: tuple[str, str]) -> Transcript:
    return Transcript(1, "zh", 10.0 * len(turns),
                      [Segment(s, 10.0 * i, 10.0 * i + 4.0, t) for i, (s, t) in enumerate(turns)])  # type: ignore[arg-type]


def test_noisy_or() -> None:
    assert noisy_or(0.9, None) == 0.9
    assert noisy_or(0.9, 0.0) == pytest.approx(0.9)
    assert noisy_or(0.6, 0.5) == pytest.approx(0.8)


def test_rule_hit_is_kept_as_evidence_when_the_model_agrees() -> None:
    text = "你再不还钱，我们就打到你接为止"
    clf = FakeClassifier({text: {"harassment": 0.8}})
    [f] = detect_transcript(transcript(("agent", text)), CallMeta(), Settings(), classifier=clf)
    assert f.source == "rule:harassment.call_bombing" and f.subtype == "harassment/call_bombing"
    assert f.score == pytest.approx(1 - 0.1 * 0.2, abs=1e-4)
    assert "model agrees (p=0.80)" in f.explanation
    assert f.details["model_p"] == pytest.approx(0.8) and f.details["rule_score"] == 0.9


def test_rule_hit_survives_a_model_that_disagrees() -> None:
    text = "你再不还钱，我们就打到你接为止"
    [f] = detect_transcript(transcript(("agent", text)), CallMeta(), Settings(),
                            classifier=FakeClassifier({text: {"harassment": 0.01}}))
    assert f.score >= 0.9 and "model agrees" not in f.explanation


def test_model_only_findings_name_the_model_and_infer_subtypes() -> None:
    t1 = "你晚上出门最好小心，我们的兄弟就在你楼下"  # no seed rule matches this paraphrase
    t2 = "你等着，我知道你们公司在哪"               # customer -> agent
    t3 = "今天的天气不错"
    clf = FakeClassifier({t1: {"threat": 0.87}, t2: {"threat": 0.7}, t3: {"threat": 0.3}})
    found = detect_transcript(transcript(("agent", t1), ("customer", t2), ("agent", t3)), CallMeta(), Settings(),
                              classifier=clf)
    # one batched predict for the whole call, then one occlusion batch for every utterance with a model-only
    # finding together: each text with two characters taken out, never the whole texts again
    assert clf.batches[0] == [t1, t2, t3] and clf.calls == 1 + 1
    occluded = clf.batches[1]
    pairs = [sum(c.isalpha() for c in t) - 1 for t in (t1, t2)]  # neighbouring Chinese characters
    assert len(occluded) == sum(pairs)
    assert t1 not in occluded and t2 not in occluded
    assert occluded[0] == t1[2:] and occluded[pairs[0]] == t2[2:]
    by_seg = {f.segment_index: f for f in found}
    assert set(by_seg) == {0, 1}
    a = by_seg[0]
    assert a.source == "fake-head@0.1" and a.explanation.startswith("model fake-head 0.1: p=0.87")
    assert a.subtype == "threat/violence" and a.details["direction"] == "to_customer"
    assert (a.start, a.end, a.speaker) == (0.0, 4.0, "agent")
    # the fake scores every occluded variant low, so every unit "drives" it and the words are named
    assert "driven by" in a.explanation and a.details["attribution"]["words"]
    assert a.details["explanation_zh"].startswith("模型 fake-head 0.1：p=0.87")
    c = by_seg[1]
    assert c.subtype == "threat/to_agent" and c.details["direction"] == "to_agent" and c.speaker == "customer"


def test_model_only_without_hint_keeps_the_bare_label() -> None:
    text = "这件事情你自己掂量掂量"
    [f] = detect_transcript(transcript(("agent", text)), CallMeta(), Settings(),
                            classifier=FakeClassifier({text: {"threat": 0.9}}))
    assert f.subtype == "threat" and f.label == "threat"


def test_model_stress_is_the_agents_distress_not_a_customer_stressed_about_money() -> None:
    said = "I lost some hours at work last month, and I'm trying to catch up."
    clf = FakeClassifier({said: {"stress": 0.9}})
    assert detect_transcript(transcript(("customer", said)), CallMeta(), Settings(), classifier=clf) == []
    [f] = detect_transcript(transcript(("agent", said)), CallMeta(), Settings(), classifier=clf)
    assert f.label == "stress" and f.speaker == "agent"


def test_model_only_privacy_after_third_party_cue_is_a_disclosure() -> None:
    t = "他那边的情况比较严重，您最好让他赶紧处理一下"
    clf = FakeClassifier({t: {"privacy": 0.8}})
    found = detect_transcript(transcript(("agent", "请问是李强吗"), ("customer", "我是他同事"), ("agent", t)),
                              CallMeta(), Settings(), classifier=clf)
    [f] = [f for f in found if f.label == "privacy"]
    assert f.subtype == "privacy/third_party_disclosure" and "not the debtor" in f.explanation


def test_site_thresholds_apply_to_labels_and_subtypes() -> None:
    t = "你晚上出门最好想清楚"
    tr = transcript(("agent", t), ("agent", "打到你接为止"))
    clf = FakeClassifier({t: {"threat": 0.6}})
    assert {f.segment_index for f in detect_transcript(tr, CallMeta(), Settings(), classifier=clf)} == {0, 1}
    strict = Settings(thresholds={"threat": 0.7, "harassment/call_bombing": 0.99})
    assert detect_transcript(tr, CallMeta(), strict, classifier=clf) == []
    # the classifier's own thresholds decide model-only findings when the site sets none
    picky = FakeClassifier({t: {"threat": 0.6}}, thresholds={**{lab: 0.5 for lab in LABELS}, "threat": 0.65})
    assert [f.segment_index for f in detect_transcript(tr, CallMeta(), Settings(), classifier=picky)] == [1]


def test_use_model_false_never_calls_the_model() -> None:
    clf = FakeClassifier({"x": {"threat": 0.99}})
    assert detect_transcript(transcript(("agent", "x")), CallMeta(), Settings(), classifier=clf, use_model=False) == []
    assert clf.calls == 0


def test_rule_only_detection_does_not_import_torch() -> None:
    code = ("import sys; from qa.detect import detect_transcript; from qa.records import *; "
            "tr = Transcript(1, 'zh', 4.0, [Segment('agent', 0.0, 4.0, '打到你接为止')]); "
            "fs = detect_transcript(tr, CallMeta(), use_model=False); "
            "assert fs and 'torch' not in sys.modules and 'transformers' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
