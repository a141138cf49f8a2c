"""QA forms: the bundled forms load, a bad site form is rejected naming file, item and reason, and the sample
calls score as a QA team would expect (clean calls pass, en_03 fails the mini-Miranda and a fatal no-threats
item, zh_02's callback request to the debtor's mother passes the third-party items). The CLI prints exactly
the scorecard JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.assess.forms import (
    Change,
    FormError,
    apply_overrides,
    coaching_library,
    load_forms,
    score_call_form,
    select_form,
)
from qa.cli import app
from qa.pipeline import score_transcript
from qa.records import CallMeta, Finding, Transcript
from tests import forms_helpers as fh

CONTRACT = {"call_id", "form", "form_version", "score", "max_score", "fatal_failed", "items"}
ITEM_CONTRACT = {"id", "section", "result", "auto", "confidence", "evidence"}


@pytest.fixture(scope="module")
def scripted_cards() -> dict[str, object]:
    """Every sample's scripted transcript scored with rules-only detection (fast)."""
    return {n: score_transcript(fh.scripted(n), fh.meta(n), use_model=False) for n in fh.names()}


def test_bundled_forms_load_with_versions_and_coaching_links() -> None:
    forms = load_forms("")
    assert {"cn_collection", "us_collection", "customer_service"} <= set(forms)
    library = coaching_library()
    for form in forms.values():
        assert form.version >= 1
        assert any(i.fatal for i in form.items)
        for item in form.items:
            assert item.text and item.text_en
            assert item.coaching in library, (form.id, item.id)
    for entry in library.values():
        assert entry["said"]["zh"] and entry["said"]["en"] and entry["compliant"]["zh"] and entry["compliant"]["en"]


def test_the_call_jurisdiction_selects_the_form() -> None:
    forms = load_forms("")
    assert select_form(forms, CallMeta(jurisdiction="cn")).id == "cn_collection"
    assert select_form(forms, CallMeta(jurisdiction="us")).id == "us_collection"
    assert select_form(forms, CallMeta(jurisdiction="uk")).id == "customer_service"


@pytest.mark.parametrize("name", fh.CLEAN)
def test_clean_calls_pass_every_applicable_item(scripted_cards, name: str) -> None:  # type: ignore[no-untyped-def]
    card = scripted_cards[name]
    failed = [i.id for i in card.items if i.result == "fail"]
    assert failed == [] and not card.fatal_failed
    assert card.score == card.max_score > 0
    for item in card.items:
        if item.result == "pass" and item.rule.startswith("form:said"):
            assert item.evidence and item.evidence[0].text, item.id  # a pass shows what was said


def test_en_03_fails_mini_miranda_and_the_fatal_no_threats_item(scripted_cards) -> None:  # type: ignore[no-untyped-def]
    card = scripted_cards["en_03_threat_insult"]
    assert card.item("mini_miranda").result == "fail"
    threats = card.item("no_threats")
    assert threats.result == "fail" and threats.fatal
    assert threats.evidence and all(e.speaker == "agent" for e in threats.evidence)
    assert any("accident" in e.text or "boss" in e.text for e in threats.evidence)
    assert card.fatal_failed and card.score == 0


def test_zh_02_callback_to_the_mother_passes_the_third_party_items(scripted_cards) -> None:  # type: ignore[no-untyped-def]
    card = scripted_cards["zh_02_third_party_callback"]
    assert card.item("no_debt_disclosure").result == "pass"
    assert card.item("callback_request").result == "pass"
    # debtor-only items do not apply to a call with the debtor's mother
    assert card.item("verify_before_debt").result == "na"
    assert card.item("debt_details").result == "na"


def test_en_02_disclosure_to_the_neighbor_fails_the_fatal_third_party_item(scripted_cards) -> None:  # type: ignore[no-untyped-def]
    card = scripted_cards["en_02_third_party_disclosure"]
    item = card.item("no_debt_disclosure")
    assert item.result == "fail" and item.fatal and card.fatal_failed
    assert "owes" in item.evidence[0].text


def test_calling_hours_item_needs_a_start_time_and_fails_at_22_30(scripted_cards) -> None:  # type: ignore[no-untyped-def]
    assert scripted_cards["zh_04_insult_call_bombing"].item("calling_hours").result == "fail"
    no_time = score_transcript(fh.scripted("zh_01_clean_reminder"), CallMeta(jurisdiction="cn"), use_model=False)
    assert no_time.item("calling_hours").result == "na"


def test_override_recomputes_the_score() -> None:
    card = score_transcript(fh.scripted("en_03_threat_insult"), fh.meta("en_03_threat_insult"), use_model=False)
    fatal = [i.id for i in card.items if i.result == "fail" and i.fatal]
    changed = apply_overrides(card, [Change(i, "pass", "rev", "test") for i in fatal])
    assert not changed.fatal_failed and changed.score > 0
    item = changed.item(fatal[0])
    assert item.auto is False and item.auto_result == "fail" and item.changed_by == "rev"


def test_detector_findings_below_min_score_do_not_fail_a_fatal_item() -> None:
    tr = fh.scripted("en_01_clean_minimiranda")
    form = load_forms("")["us_collection"]
    weak = Finding("threat", "threat", "agent", 50.0, 58.0, "payment plan", 0.45, "model@1", "weak")
    strong = Finding("threat", "threat/violence", "agent", 50.0, 58.0, "accidents", 0.9, "model@1", "strong")
    meta = fh.meta("en_01_clean_minimiranda")
    assert score_call_form(tr, [weak], {}, meta, form).item("no_threats").result == "pass"
    result = score_call_form(tr, [strong], {}, meta, form).item("no_threats")
    assert result.result == "fail" and result.rule == "model@1" and result.confidence == 0.9


def _bad_form(tmp_path: Path, item_yaml: str) -> Path:
    folder = tmp_path / "forms"
    folder.mkdir()
    (folder / "site_form.yaml").write_text(
        "id: site\nversion: 1\nname: 站点\nname_en: Site\nsections:\n  - id: s1\n    name: 一\n    name_en: One\n"
        "    items:\n" + item_yaml, encoding="utf-8")
    return folder


@pytest.mark.parametrize("item_yaml, reason", [
    ("      - {id: greet, text: 问候, text_en: Greet, weight: -5, check: {kind: said, all_of: [{literals: [hi]}]}}\n",
     "weight"),
    ("      - {id: greet, text: 问候, text_en: Greet, weight: 5, check: {kind: guess}}\n", "check kind"),
    ("      - {id: greet, text: 问候, text_en: Greet, weight: 5, check: {kind: said, all_of: [{patterns: ['(']}]}}\n",
     "bad pattern"),
    ("      - {id: greet, text: 问候, text_en: Greet, weight: 5, applies: {callee: [cousin]}, "
     "check: {kind: absent, labels: [threat]}}\n", "callee"),
])
def test_a_site_form_with_a_mistake_is_rejected_naming_file_item_and_reason(tmp_path: Path, item_yaml: str,
                                                                            reason: str) -> None:
    folder = _bad_form(tmp_path, item_yaml)
    with pytest.raises(FormError) as exc:
        load_forms(folder)
    message = str(exc.value)
    assert "site_form.yaml" in message and "'greet'" in message and reason in message


def test_a_valid_site_form_is_added_and_can_be_chosen(tmp_path: Path) -> None:
    folder = _bad_form(tmp_path, "      - {id: greet, text: 问候, text_en: Greet, weight: 5, "
                                 "check: {kind: said, speaker: agent, all_of: [{literals: [hi, 您好]}]}}\n")
    forms = load_forms(folder)
    card = score_call_form(fh.scripted("en_01_clean_minimiranda"), [], {}, CallMeta(), forms["site"])
    assert card.form == "site" and card.item("greet").result == "pass" and card.score == card.max_score == 5


def test_cli_scores_a_transcript_with_exactly_the_json_contract(tmp_path: Path) -> None:
    path = tmp_path / "en_03.json"
    path.write_text(json.dumps(fh.scripted_json("en_03_threat_insult")), encoding="utf-8")
    result = CliRunner().invoke(app, ["scorecard", "--transcript", str(path), "--jurisdiction", "us", "--no-model",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == CONTRACT
    assert data["form"] == "us_collection" and data["form_version"] == 2 and data["fatal_failed"] is True
    for item in data["items"]:
        assert set(item) == ITEM_CONTRACT and item["result"] in ("pass", "fail", "na") and item["auto"] is True
        for ev in item["evidence"]:
            assert set(ev) == {"start", "end", "speaker", "text"}
    by_id = {i["id"]: i for i in data["items"]}
    assert by_id["mini_miranda"]["result"] == "fail" and by_id["no_threats"]["result"] == "fail"


def test_cli_rejects_an_unknown_form_and_a_missing_argument(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(fh.scripted_json("zh_01_clean_reminder")), encoding="utf-8")
    bad = CliRunner().invoke(app, ["scorecard", "--transcript", str(path), "--form", "nope", "--no-model", "--json"])
    assert bad.exit_code == 2 and "nope" in bad.output
    assert CliRunner().invoke(app, ["scorecard"]).exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", fh.CLEAN)
def test_clean_calls_pass_every_applicable_item_from_their_asr_transcripts(name: str) -> None:
    """On the stored ASR output of the recordings (`callqa transcript --json` of this build), with the learned
    model: what a reviewer sees after ingest, not the script."""
    card = score_transcript(fh.asr(name), fh.meta(name))
    assert [i.id for i in card.items if i.result == "fail"] == [] and not card.fatal_failed
    assert card.score == card.max_score > 0


def test_asr_transcripts_of_the_risky_calls_fail_what_a_reviewer_would_fail() -> None:
    bad = score_transcript(fh.asr("en_03_threat_insult"), fh.meta("en_03_threat_insult"))
    assert bad.item("mini_miranda").result == "fail" and bad.item("no_threats").result == "fail"
    assert bad.fatal_failed
    callback = score_transcript(fh.asr("zh_02_third_party_callback"), fh.meta("zh_02_third_party_callback"))
    assert callback.item("no_debt_disclosure").result == "pass"
    assert callback.item("callback_request").result == "pass"


def _seg(speaker: str, start: float, end: float, text: str) -> dict[str, object]:
    return {"speaker": speaker, "start": start, "end": end, "text": text, "words": []}


def _closing(*segments: dict[str, object]) -> object:
    opening = [_seg("agent", 0.0, 3.0, "Hi, this is Dana from Apex Recovery."), _seg("customer", 3.5, 4.5, "Yes.")]
    tr = Transcript.from_json({"call_id": None, "language": "en", "duration": 75.0,
                               "segments": opening + list(segments)})
    return score_call_form(tr, [], {}, fh.meta("en_01_clean_minimiranda"), load_forms("")["us_collection"])


def test_a_phrase_cut_by_asr_across_the_other_sides_backchannel_is_still_said() -> None:
    """en_01 from audio: ASR stamps a stretched "Thank" early and cuts it from "you for your time", with the
    customer's reply in between; the closing was said all the same, and the evidence shows both parts."""
    item = _closing(_seg("agent", 66.9, 68.1, "Thank"), _seg("customer", 67.9, 70.1, "No, that's all."),
                    _seg("agent", 71.4, 74.0, "you for your time, Michael.")).item("closing")
    assert item.result == "pass"
    assert [e.text for e in item.evidence] == ["Thank", "you for your time, Michael."]


@pytest.mark.parametrize("segments", [
    # a long pause: two separate utterances, not one phrase
    [_seg("agent", 60.0, 61.0, "Thank"), _seg("agent", 70.0, 72.0, "you for your time.")],
    # the other speaker finishing the words does not make the agent say them
    [_seg("agent", 66.9, 68.1, "Thank"), _seg("customer", 68.5, 70.0, "you for your time.")],
])
def test_a_phrase_is_not_pieced_together_across_a_long_pause_or_another_speaker(segments) -> None:  # type: ignore[no-untyped-def]
    assert _closing(*segments).item("closing").result == "fail"


def test_the_learned_model_alone_fails_a_fatal_item_only_as_sure_as_it_must_be_to_flag_the_call() -> None:
    """A model-only threat score on a polite line (en_04 from audio: p=0.64 on "reach out office") must not
    fail the call outright; a rule hit or a model score that would flag the call does."""
    tr = fh.scripted("en_01_clean_minimiranda")
    form = load_forms("")["us_collection"]
    meta = fh.meta("en_01_clean_minimiranda")

    def threat(score: float, details: dict[str, float]) -> Finding:
        return Finding("threat", "threat", "agent", 50.0, 58.0, "office", score, "model@1", "", details=details)

    model_weak = threat(0.64, {"model_p": 0.64})
    model_sure = threat(0.85, {"model_p": 0.85})
    rule = threat(0.64, {"rule_score": 0.64})
    assert score_call_form(tr, [model_weak], {}, meta, form).item("no_threats").result == "pass"
    assert score_call_form(tr, [model_sure], {}, meta, form).item("no_threats").result == "fail"
    assert score_call_form(tr, [rule], {}, meta, form).item("no_threats").result == "fail"


def test_forms_command_lists_forms_and_rejects_a_bad_file(tmp_path: Path) -> None:
    listing = CliRunner().invoke(app, ["forms"])
    assert listing.exit_code == 0 and "cn_collection" in listing.output and "us_collection" in listing.output
    folder = _bad_form(tmp_path, "      - {id: greet, text: 问候, text_en: Greet, weight: 5, check: {kind: said}}\n")
    bad = CliRunner().invoke(app, ["forms", str(folder / "site_form.yaml")])
    assert bad.exit_code == 1 and "site_form.yaml" in bad.output and "greet" in bad.output and "all_of" in bad.output
