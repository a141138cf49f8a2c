"""Reviewers' verdicts teach the model (real encoder + bundled head), and calibration picks thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.assess.scoring import calibrate_thresholds
from qa.config import Settings, get_settings
from qa.data import DATA_DIR
from qa.records import LABELS

ENCODER = get_settings().models_dir / "multilingual-e5-small"


def _small_corpus(path: Path) -> Path:
    rows = [json.loads(x) for x in (DATA_DIR / "corpus" / "collection_corpus.jsonl").read_text(encoding="utf-8")
            .splitlines() if x.strip()]
    keep = [r for s in ("train", "dev", "test") for r in [r for r in rows if r.get("split") == s][:20]]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep), encoding="utf-8")
    return path


@pytest.mark.skipif(not (ENCODER / "model.safetensors").is_file(), reason="encoder not built")
def test_training_with_verdicts_changes_predictions_on_the_judged_lines(tmp_path: Path) -> None:
    from qa.detect.classifier import model as clf_model
    from qa.detect.classifier.verdicts import VerdictLine, train_with_verdicts

    settings = Settings(home=tmp_path, encoder_model=str(ENCODER))
    clf_model._CACHE.clear()
    bundled = clf_model.load_classifier(settings)
    # reviewers dismissed the model's "harassment" on an agent's empathy (a known false alarm) ...
    dismissed = ["I understand your frustrated.", "I understand your frustration, sir.",
                 "I understand you're frustrated, let's sort this out."]
    lines = [VerdictLine(t, "agent", "harassment", False) for t in dismissed]
    h = LABELS.index("harassment")
    before = bundled.predict(dismissed, ["agent"] * 3)[:, h]
    assert before[0] >= bundled.thresholds["harassment"]  # the false alarm is there before

    result = train_with_verdicts(lines, settings=settings, corpus=_small_corpus(tmp_path / "c.jsonl"),
                                 replay_rows=20)
    assert result.version.endswith("+site.1") and (tmp_path / "models" / "classifier" / "head.npz").is_file()
    site = clf_model.load_classifier(settings)  # the site head wins over the bundled one
    assert site.version == result.version
    after = site.predict(dismissed, ["agent"] * 3)[:, h]
    trained = [i for i, v in enumerate(lines) if not v.holdout]
    assert trained and all(after[i] < site.thresholds["harassment"] for i in trained)
    assert (after < before).all()  # the held-out paraphrase moves the same way
    assert result.changed_on_judged >= 1
    # a confirmed insult stays an insult
    insult = site.predict(["You're a pathetic liar and a worthless idiot."], ["agent"])[0, h]
    assert insult >= site.thresholds["harassment"]
    assert set(result.before) == {"corpus_test", "verdict_holdout", "verdict_train"}
    clf_model._CACHE.clear()


def test_calibration_picks_the_lowest_threshold_that_reaches_the_target_precision() -> None:
    judged = [("agent_harassment", s, ok) for s, ok in
              [(0.55, False), (0.6, False), (0.65, True), (0.7, False), (0.8, True), (0.85, True), (0.9, True),
               (0.95, True)]]
    judged += [("privacy", 0.9, True)] * 2
    out = calibrate_thresholds(judged, target_precision=0.8, min_verdicts=5)
    assert out["agent_harassment"]["threshold"] == 0.65  # 4 of 5 confirmed from 0.65 up... 0.8 precision
    assert out["privacy"]["threshold"] is None and "only 2 verdicts" in out["privacy"]["why"]
    assert np.isclose(out["agent_harassment"]["precision"], 5 / 6) or out["agent_harassment"]["precision"] >= 0.8
