"""`callqa classify` and `callqa eval` follow the contract of the detection issue exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.records import LABELS

LINES = [
    {"id": "a1", "text": "你再不还钱，我们就打到你接为止", "speaker": "agent", "lang": "zh"},
    {"id": "a2", "text": "您好，请问是张伟先生本人吗", "speaker": "agent"},
    {"id": "c1", "text": "my social is 123-45-6789", "speaker": "customer", "lang": "en"},
    {"id": "c2", "text": "我真的不想活了", "speaker": "customer"},
]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def check_contract(out_lines: list[str], rows: list[dict]) -> list[dict]:
    results = [json.loads(line) for line in out_lines if line.strip()]
    assert [r["id"] for r in results] == [r["id"] for r in rows]  # one per input, same order
    for r in results:
        assert set(r) == {"id", "labels", "scores", "findings"}
        assert list(r["scores"]) == list(LABELS)
        assert all(0.0 <= v <= 1.0 for v in r["scores"].values())
        assert set(r["labels"]) <= set(LABELS)
        assert {f["label"] for f in r["findings"]} == set(r["labels"])
        for f in r["findings"]:
            assert f["start"] is None and f["end"] is None
            assert {"label", "subtype", "speaker", "span", "score", "source", "explanation"} <= set(f)
            assert f["explanation"] and f["source"]
    return results


def test_classify_rules_only_contract(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    dst = tmp_path / "out.jsonl"
    src.write_text(_jsonl(LINES), encoding="utf-8")
    res = CliRunner().invoke(app, ["classify", "--input", str(src), "--output", str(dst), "--rules-only"])
    assert res.exit_code == 0, res.output
    results = check_contract(dst.read_text(encoding="utf-8").splitlines(), LINES)
    by_id = {r["id"]: r for r in results}
    assert by_id["a1"]["labels"] == ["harassment"] and by_id["a2"]["labels"] == []
    assert by_id["c1"]["labels"] == ["privacy"]
    assert by_id["c2"]["findings"][0]["subtype"] == "threat/self_harm"


def test_classify_reads_stdin_and_writes_stdout() -> None:
    res = CliRunner().invoke(app, ["classify", "--rules-only"], input=_jsonl(LINES[:2]))
    assert res.exit_code == 0
    check_contract(res.stdout.splitlines(), LINES[:2])


@pytest.mark.parametrize("bad,message", [
    ('{"id": "x", "text": }', "line 2: not valid JSON"),
    ('{"id": "x", "text": "hi", "speaker": "boss"}', "line 2: 'speaker'"),
    ('{"id": "x", "speaker": "agent"}', "line 2: 'text'"),
    ('["a", "b"]', "line 2: expected a JSON object"),
])
def test_bad_lines_name_the_line_and_exit_2(bad: str, message: str) -> None:
    res = CliRunner().invoke(app, ["classify", "--rules-only"], input=_jsonl(LINES[:1]) + bad + "\n")
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.output + res.stderr
    assert res.stdout == ""  # nothing half-written


def test_eval_json_reports_per_label_metrics(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "text": "打到你接为止", "speaker": "agent", "labels": ["harassment"]},
        {"id": "2", "text": "您的还款日是每月五号", "speaker": "agent", "labels": []},
        {"id": "3", "text": "我真的不想活了", "speaker": "customer", "labels": ["threat"]},
        {"id": "4", "text": "你这种人就该吃点苦头", "speaker": "agent", "labels": ["threat"]},  # paraphrase: rules miss it
    ]
    src = tmp_path / "gold.jsonl"
    src.write_text(_jsonl(rows), encoding="utf-8")
    res = CliRunner().invoke(app, ["eval", "--input", str(src), "--json", "--rules-only"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["labels"]["harassment"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1,
                                              "predicted": 1, "tp": 1}
    assert report["labels"]["threat"]["recall"] == 0.5 and report["labels"]["threat"]["precision"] == 1.0
    assert report["macro_f1"] == pytest.approx((1.0 + 2 / 3 + 0 + 0) / 4, abs=1e-3)
    table = CliRunner().invoke(app, ["eval", "--input", str(src), "--rules-only"])
    assert table.exit_code == 0 and "macro" in table.stdout and "harassment" in table.stdout


def test_eval_on_one_split_counts_its_clean_lines_labelled(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "text": "打到你接为止", "speaker": "agent", "labels": ["harassment"], "split": "test"},
        {"id": "2", "text": "您的还款日是每月五号", "speaker": "agent", "labels": [], "split": "test"},
        {"id": "3", "text": "我们会一直打，打到你接为止", "speaker": "agent", "labels": [], "split": "test"},  # mislabelled
        {"id": "4", "text": "我真的不想活了", "speaker": "customer", "labels": ["threat"], "split": "train"},
    ]
    src = tmp_path / "gold.jsonl"
    src.write_text(_jsonl(rows), encoding="utf-8")
    res = CliRunner().invoke(app, ["eval", "--input", str(src), "--split", "test", "--json", "--rules-only"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["n"] == 3 and report["split"] == "test"
    assert report["clean_lines"] == {"n": 2, "labelled": 1, "share": 0.5}
    table = CliRunner().invoke(app, ["eval", "--input", str(src), "--split", "test", "--rules-only"])
    assert "clean lines labelled: 1 of 2 (50.0%)" in table.stdout
    none = CliRunner().invoke(app, ["eval", "--input", str(src), "--split", "dev", "--rules-only"])
    assert none.exit_code == 2 and "no labelled lines with split 'dev'" in none.stderr


def test_eval_requires_labels(tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    src.write_text(_jsonl(LINES[:1]), encoding="utf-8")
    res = CliRunner().invoke(app, ["eval", "--input", str(src), "--rules-only"])
    assert res.exit_code == 2 and "line 1: 'labels'" in res.stderr


def _classifier_or_skip():  # type: ignore[no-untyped-def]
    from qa.detect.classifier.model import ClassifierUnavailable, load_classifier

    try:
        return load_classifier()
    except ClassifierUnavailable as exc:
        pytest.skip(f"no trained classifier head: {exc}")


@pytest.mark.slow
def test_classify_with_the_real_model_via_the_installed_command(tmp_path: Path) -> None:
    _classifier_or_skip()
    src = tmp_path / "in.jsonl"
    src.write_text(_jsonl(LINES), encoding="utf-8")
    exe = Path(sys.executable).with_name("callqa")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "qa.cli"]
    proc = subprocess.run([*cmd, "classify", "--input", str(src)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = check_contract(proc.stdout.splitlines(), LINES)
    by_id = {r["id"]: r for r in results}
    assert "harassment" in by_id["a1"]["labels"] and by_id["a2"]["labels"] == []
    assert "threat" in by_id["c2"]["labels"]
    # the model's probability is recorded on rule findings, and scores are fused (>= the rule's own)
    f = by_id["a1"]["findings"][0]
    assert "model_p" in f["details"] and f["score"] >= f["details"]["rule_score"]


@pytest.mark.slow
def test_detect_transcript_with_the_real_model() -> None:
    from qa.detect import detect_transcript
    from qa.records import CallMeta, Segment, Transcript

    clf = _classifier_or_skip()
    tr = Transcript(1, "zh", 20.0, [
        Segment("agent", 0.0, 4.0, "您好，我是某某金融的客服，本次通话会被录音"),
        Segment("customer", 4.5, 8.0, "我是他邻居，他不在家"),
        Segment("agent", 8.5, 13.0, "那你告诉他，他欠我们的两万块钱再不还，我们就打到他接为止"),
        Segment("agent", 13.5, 18.0, "逾期记录会按照合同约定上报征信"),
    ])
    found = detect_transcript(tr, CallMeta(), classifier=clf)
    subs = {(f.segment_index, f.subtype) for f in found}
    assert (2, "privacy/third_party_disclosure") in subs and (2, "harassment/call_bombing") in subs
    assert not any(f.segment_index in (0, 3) and f.label in ("threat", "harassment") for f in found)
    assert all(f.explanation and f.start is not None and f.speaker for f in found if f.segment_index == 2)


@pytest.mark.slow
def test_detection_on_the_held_out_corpus_split_meets_the_goal() -> None:
    """What `callqa classify` labels (rules and model fused) on the corpus test split, which no training, calibration
    or threshold reads: macro-F1 >= 0.90 with <= 5% of clean lines labelled (issue 11's goal)."""
    _classifier_or_skip()
    corpus = Path(__file__).resolve().parents[1] / "qa" / "data" / "corpus" / "collection_corpus.jsonl"
    res = CliRunner().invoke(app, ["eval", "--input", str(corpus), "--split", "test", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["n"] == 279 and report["mode"] == "rules+model"
    assert report["macro_f1"] >= 0.90, report
    assert report["clean_lines"]["share"] <= 0.05, report["clean_lines"]
