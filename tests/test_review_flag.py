"""The review threshold: which calls enter the queue, model findings that name their words, eval-calls."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qa.assess.scoring import review_decision
from qa.config import get_settings
from qa.records import Finding

ENCODER = get_settings().models_dir / "multilingual-e5-small"
CONFIG = {"thresholds": {"agent_threat": 0.6, "agent_harassment": 0.6, "privacy": 0.9, "abuse_received": 0.85,
                         "agent_stress": None},
          "model_only": {"min_score": 0.8, "need_words": True, "never": ["privacy", "abuse_received"]}}


def _f(label: str, speaker: str, score: float, model_only: bool = False, words: list[str] | None = None,
       subtype: str | None = None) -> Finding:
    details = {"model_p": score, "model": "head@1"} if model_only else {"rule_score": score}
    if words is not None:
        details["attribution"] = {"words": words}
    return Finding(label, subtype or label, speaker, 1.0, 2.0, "span", score,  # type: ignore[arg-type]
                   "head@1" if model_only else "rule:x", "why", 0, details)


def test_strong_rule_finding_flags_the_call_with_its_reason() -> None:
    d = review_decision([_f("threat", "agent", 0.9, subtype="threat/violence")], CONFIG)
    assert d.flagged and d.reasons[0]["kind"] == "agent_threat" and d.reasons[0]["threshold"] == 0.6
    assert "agent threatened the customer" in d.reasons[0]["reason"] and d.reasons[0]["reason_zh"]


def test_weak_or_wordless_model_findings_stay_unflagged() -> None:
    weak = _f("harassment", "agent", 0.64, model_only=True, words=["frustrated"])  # "I understand your frustrated."
    wordless = _f("threat", "agent", 0.95, model_only=True, words=[])
    greeting = _f("privacy", "agent", 0.93, model_only=True, words=["Josh"])  # model-only privacy never flags
    stress = _f("stress", "agent", 0.99)
    d = review_decision([weak, wordless, greeting, stress], CONFIG)
    assert not d.flagged and d.held_back == 4
    assert review_decision([_f("threat", "agent", 0.95, model_only=True, words=["派人到你的门口"])], CONFIG).flagged


@pytest.mark.skipif(not (ENCODER / "model.safetensors").is_file(), reason="encoder not built")
def test_a_threatening_line_explanation_names_its_threatening_words() -> None:
    from qa.detect import classify_items

    [r] = classify_items([{"id": "1", "speaker": "agent",
                           "text": "You better pay up, or you'll regret it when my guys show up at your door tonight."}])
    [f] = [f for f in r["findings"] if f["label"] == "threat"]
    words = f["details"]["attribution"]["words"]
    assert words and any("regret" in w or "door" in w for w in words)
    assert "driven by" in f["explanation"] and "主要依据" in f["details"]["explanation_zh"]
    assert f["span"] in words  # the call page highlights the strongest phrase


@pytest.mark.skipif(not (ENCODER / "model.safetensors").is_file(), reason="encoder not built")
def test_eval_calls_on_a_small_subset() -> None:
    from qa.cli import app

    args = ["eval-calls", "--json", "--reference-transcripts", "--call", "d_zh_06", "--call", "d_zh_03",
            "--call", "d_en_04"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output[res.output.index("{"):])
    by_id = {c["id"]: c for c in report["per_call"]}
    assert by_id["d_zh_06"]["flagged"] and "agent_threat" in by_id["d_zh_06"]["predicted"]
    assert not by_id["d_zh_03"]["flagged"] and not by_id["d_en_04"]["flagged"]  # callback request; venting
    assert report["clean_flagged_share"] == 0.0 and report["must_flag_flagged_share"] == 1.0
