"""QA evaluation forms (质检评分表) as data, and the scorecard of one call against one form.

A form (`qa/data/forms/*.yaml`, plus a site's own folder `Settings.forms_dir`) has sections of items; each
item has a weight, may be fatal (致命项: a fail zeroes the call), applies to some calls only (direction,
callee, language, jurisdiction, known metadata) and names how it is checked:

- `said`: every phrase group in `all_of` is said by `speaker` (optionally within the first `within_s` or the
  last `last_s` seconds), in one segment or running on into the speaker's next one (`PHRASE_SEAM_S`);
- `not_said`: no phrase of `any_of` is said by `speaker` and no finding of `subtypes`/`labels` is present;
- `absent`: no finding of `labels`/`subtypes` (detector or compliance) from `speaker` scoring `min_score` or
  more (`model_min_score` or more for a finding of the learned model alone);
- `order`: a phrase of `first` comes before the first phrase of `then` (e.g. identity before the debt);
- `measure`: a conversation measure (dotted path) is within `max`/`min`.

Scoring is pure: `score_call_form(transcript, findings, measures, meta, form)` returns a `Scorecard`; a
reviewer's overrides are applied with `apply_overrides`, which recomputes section and total scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from qa import data
from qa.data import DataFileError
from qa.records import (  # noqa: F401  (the scorecard records are re-exported: forms build them)
    RESULTS,
    CallMeta,
    Change,
    Evidence,
    Finding,
    ItemResult,
    Result,
    Scorecard,
    SectionScore,
    Segment,
    Transcript,
    apply_overrides,
    is_model_only,
    totals,
)
from qa.text import PhraseSet, normalize

CHECK_KINDS: tuple[str, ...] = ("said", "not_said", "absent", "order", "measure")
APPLIES_KEYS: tuple[str, ...] = ("direction", "callee", "language", "jurisdiction", "meta")
CALLEE_KINDS: tuple[str, ...] = ("debtor", "third_party")
FORMS_DIR = data.DATA_DIR / "forms"

# Confidence of an automatic result: an exact phrase or a detector hit is strong evidence; the absence of a
# phrase is weaker (ASR may have garbled it); a fuzzy phrase hit is weakest.
CONF_EXACT, CONF_FUZZY, CONF_ABSENT_PHRASE, CONF_NO_FINDING, CONF_MEASURE = 0.9, 0.6, 0.7, 0.8, 0.9


class FormError(DataFileError):
    """A form with a mistake; the message names the file, the item and the reason."""


@dataclass(frozen=True)
class Check:
    kind: str
    speaker: str | None = None
    within_s: float | None = None
    last_s: float | None = None
    groups: tuple[PhraseSet, ...] = ()  # said: all_of; not_said: (any_of,); order: (first, then)
    labels: tuple[str, ...] = ()
    subtypes: tuple[str, ...] = ()
    measure: str | None = None
    max: float | None = None
    min: float | None = None
    min_score: float = 0.0  # absent/not_said: findings scoring lower do not fail the item
    #: absent/not_said: a finding of the learned model alone (no rule behind it) fails the item only from this
    #: score (None: `min_score`), e.g. the review queue's model-only minimum for a fatal item
    model_min_score: float | None = None


@dataclass(frozen=True)
class FormItem:
    id: str
    section: str
    text: str
    text_en: str
    weight: float
    fatal: bool
    applies: dict[str, tuple[str, ...]]
    check: Check
    coaching: str | None


@dataclass(frozen=True)
class Section:
    id: str
    name: str
    name_en: str
    items: tuple[FormItem, ...]


@dataclass(frozen=True)
class Form:
    id: str
    version: int
    name: str
    name_en: str
    select: dict[str, tuple[str, ...]]
    debtor_callees: tuple[str, ...]
    sections: tuple[Section, ...]
    file: str

    @property
    def items(self) -> list[FormItem]:
        return [i for s in self.sections for i in s.items]

    def item(self, item_id: str) -> FormItem | None:
        return next((i for i in self.items if i.id == item_id), None)


# --- loading and validating forms ----------------------------------------------------------------------


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(str(v) for v in value)


def _phrases(value: Any, where: str) -> PhraseSet:
    if not isinstance(value, dict) or not (value.get("literals") or value.get("patterns")):
        raise ValueError(f"{where} must have 'literals' or 'patterns'")
    unknown = set(value) - {"literals", "patterns"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    patterns = list(_strs(value.get("patterns", []), f"{where}.patterns"))
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"{where}: bad pattern {p!r} ({exc})") from None
    # Matched like the lexicons (qa.text): exact literals and patterns first, then pinyin and fuzzy literals
    # of four characters or more (ASR slips); `_find` gives those a lower confidence.
    return PhraseSet.from_spec({"literals": list(_strs(value.get("literals", []), f"{where}.literals")),
                                "patterns": patterns}, fuzzy_min_len=4)


def _check(raw: Any) -> Check:
    if not isinstance(raw, dict):
        raise ValueError("'check' must be a mapping")
    kind = raw.get("kind")
    if kind not in CHECK_KINDS:
        raise ValueError(f"check kind {kind!r} is not one of {', '.join(CHECK_KINDS)}")
    speaker = raw.get("speaker")
    if speaker not in (None, "agent", "customer"):
        raise ValueError(f"speaker {speaker!r} must be agent or customer")
    labels = _strs(raw.get("labels", []), "labels")
    subtypes = _strs(raw.get("subtypes", []), "subtypes")
    groups: tuple[PhraseSet, ...] = ()
    if kind == "said":
        all_of = raw.get("all_of")
        if not isinstance(all_of, list) or not all_of:
            raise ValueError("a 'said' check needs a non-empty 'all_of' list of phrase groups")
        groups = tuple(_phrases(g, f"all_of[{n}]") for n, g in enumerate(all_of))
    elif kind == "not_said":
        groups = (_phrases(raw.get("any_of"), "any_of"),)
    elif kind == "order":
        groups = (_phrases(raw.get("first"), "first"), _phrases(raw.get("then"), "then"))
    elif kind == "absent" and not (labels or subtypes):
        raise ValueError("an 'absent' check needs 'labels' or 'subtypes'")
    elif kind == "measure":
        if not isinstance(raw.get("measure"), str) or (raw.get("max") is None and raw.get("min") is None):
            raise ValueError("a 'measure' check needs 'measure' and 'max' or 'min'")
    unknown = set(raw) - {"kind", "speaker", "within_s", "last_s", "all_of", "any_of", "first", "then", "labels",
                          "subtypes", "measure", "max", "min", "min_score", "model_min_score"}
    if unknown:
        raise ValueError(f"unknown check keys {sorted(unknown)}")
    num = {k: (None if raw.get(k) is None else float(raw[k])) for k in ("within_s", "last_s", "max", "min")}
    return Check(kind=kind, speaker=speaker, groups=groups, labels=labels, subtypes=subtypes,
                 measure=raw.get("measure"), min_score=float(raw.get("min_score", 0.0)),
                 model_min_score=None if raw.get("model_min_score") is None else float(raw["model_min_score"]),
                 **num)  # type: ignore[arg-type]


def parse_form(raw: dict[str, Any], file: str) -> Form:
    """A validated form; any mistake raises FormError naming the file, the item and the reason."""
    coaching = set(coaching_library())

    def fail(where: str, reason: str) -> FormError:
        return FormError(f"{file}: {where}: {reason}")

    for key in ("id", "version", "name", "name_en", "sections"):
        if key not in raw:
            raise fail("form", f"missing key {key!r}")
    if not isinstance(raw["version"], int) or raw["version"] < 1:
        raise fail("form", "'version' must be a positive whole number")
    if not isinstance(raw["sections"], list) or not raw["sections"]:
        raise fail("form", "'sections' must be a non-empty list")
    seen: set[str] = set()
    sections = []
    for s_raw in raw["sections"]:
        sid = s_raw.get("id") if isinstance(s_raw, dict) else None
        if not sid or not isinstance(s_raw.get("items"), list) or not s_raw["items"]:
            raise fail(f"section {sid!r}", "needs an 'id' and a non-empty 'items' list")
        items = []
        for i_raw in s_raw["items"]:
            iid = i_raw.get("id") if isinstance(i_raw, dict) else None
            where = f"item {iid!r}"
            if not iid:
                raise fail(f"section {sid!r}", "an item has no 'id'")
            if iid in seen:
                raise fail(where, "duplicate item id")
            seen.add(iid)
            for key in ("text", "text_en", "weight", "check"):
                if key not in i_raw:
                    raise fail(where, f"missing key {key!r}")
            weight = i_raw["weight"]
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
                raise fail(where, f"weight {weight!r} must be a positive number")
            applies_raw = i_raw.get("applies") or {}
            unknown = set(applies_raw) - set(APPLIES_KEYS)
            if unknown:
                raise fail(where, f"unknown 'applies' keys {sorted(unknown)}; use {', '.join(APPLIES_KEYS)}")
            try:
                applies = {k: _strs(v, f"applies.{k}") for k, v in applies_raw.items()}
                check = _check(i_raw["check"])
            except ValueError as exc:
                raise fail(where, str(exc)) from None
            bad_callee = set(applies.get("callee", ())) - set(CALLEE_KINDS)
            if bad_callee:
                raise fail(where, f"callee {sorted(bad_callee)} must be among {', '.join(CALLEE_KINDS)}")
            if i_raw.get("coaching") is not None and i_raw["coaching"] not in coaching:
                raise fail(where, f"coaching entry {i_raw['coaching']!r} is not in the coaching library")
            if not isinstance(i_raw.get("fatal", False), bool):
                raise fail(where, "'fatal' must be true or false")
            items.append(FormItem(id=str(iid), section=str(sid), text=str(i_raw["text"]),
                                  text_en=str(i_raw["text_en"]), weight=float(weight),
                                  fatal=bool(i_raw.get("fatal", False)), applies=applies, check=check,
                                  coaching=i_raw.get("coaching")))
        sections.append(Section(id=str(sid), name=str(s_raw.get("name", sid)),
                                name_en=str(s_raw.get("name_en", sid)), items=tuple(items)))
    try:
        select = {k: _strs(v, f"select.{k}") for k, v in (raw.get("select") or {}).items()}
        debtors = _strs(raw.get("debtor_callees", ["debtor"]), "debtor_callees")
    except ValueError as exc:
        raise fail("form", str(exc)) from None
    return Form(id=str(raw["id"]), version=raw["version"], name=str(raw["name"]), name_en=str(raw["name_en"]),
                select=select, debtor_callees=debtors, sections=tuple(sections), file=file)


def load_form_file(path: Path) -> Form:
    return parse_form(data.load_file(path), str(path))


@lru_cache(maxsize=8)
def _load_forms(site_dir: str) -> dict[str, Form]:
    forms: dict[str, Form] = {}
    for path in sorted(FORMS_DIR.glob("*.yaml")):
        form = load_form_file(path)
        forms[form.id] = form
    if site_dir:
        folder = Path(site_dir)
        if not folder.is_dir():
            raise FormError(f"{folder}: the site forms folder (forms_dir) does not exist")
        for path in sorted(folder.glob("*.y*ml")):
            form = load_form_file(path)  # a site form replaces a bundled form of the same id
            forms[form.id] = form
    return forms


def load_forms(site_dir: str | Path | None = None) -> dict[str, Form]:
    """Bundled forms plus a site's forms (`Settings.forms_dir` when `site_dir` is None)."""
    if site_dir is None:
        from qa.config import get_settings

        site_dir = get_settings().forms_dir
    return _load_forms(str(site_dir or ""))


def select_form(forms: dict[str, Form], meta: CallMeta, form_id: str | None = None) -> Form:
    """The form named, else the first form whose `select` matches the call, else one with an empty `select`."""
    if form_id:
        if form_id not in forms:
            raise FormError(f"no form {form_id!r}; known: {', '.join(sorted(forms))}")
        return forms[form_id]
    values = {"jurisdiction": meta.jurisdiction, "direction": meta.direction}
    for form in forms.values():
        if form.select and all(values.get(k) in v for k, v in form.select.items()):
            return form
    fallback = [f for f in forms.values() if not f.select]
    if not fallback:
        raise FormError(f"no form selects jurisdiction {meta.jurisdiction!r} and no fallback form exists")
    return fallback[0]


@lru_cache(maxsize=1)
def coaching_library() -> dict[str, dict[str, Any]]:
    """Coaching entries by key: title, what was said, the compliant way to say it (zh and en)."""
    entries = data.load("coaching")["entries"]  # a missing key names the file
    for key, entry in entries.items():
        for part in ("title", "said", "compliant"):
            if not isinstance(entry.get(part), dict) or not {"zh", "en"} <= set(entry[part]):
                raise DataFileError(f"coaching.yaml: entry {key!r}: {part!r} needs 'zh' and 'en'")
    return dict(entries)


# --- scoring ---------------------------------------------------------------------------------------------


def callee_kind(form: Form, callee: str | None) -> str:
    """'debtor' or 'third_party'; an unknown callee is taken to be the debtor."""
    return "debtor" if callee is None or callee in form.debtor_callees else "third_party"


def _applies(item: FormItem, form: Form, transcript: Transcript, meta: CallMeta) -> bool:
    values = {"direction": meta.direction, "callee": callee_kind(form, meta.callee),
              "language": transcript.language, "jurisdiction": meta.jurisdiction}
    for key, allowed in item.applies.items():
        if key == "meta":
            if any(getattr(meta, name, None) is None for name in allowed):
                return False
        elif key == "language" and transcript.language == "mixed":
            continue
        elif values.get(key) is not None and values[key] not in allowed:
            return False
    return True


#: A phrase may run on into the same speaker's next segment when it starts within this many seconds: ASR cuts
#: at pauses and stamps a stretched first word early ("Thank" | the customer's "No, that's all" | "you for your
#: time"), so a phrase is looked for across that seam too, with the other side's backchannel in between.
PHRASE_SEAM_S = 4.0


@dataclass
class _Hit:
    index: int  # the segment where the phrase starts
    pos: int
    exact: bool
    last: int  # the segment where it ends (the next one of the same speaker when it runs across a seam)


def _next_same_speaker(transcript: Transcript, n: int) -> int | None:
    segs = transcript.segments
    for m in range(n + 1, len(segs)):
        if segs[m].start - segs[n].end > PHRASE_SEAM_S:
            return None
        if segs[m].speaker == segs[n].speaker:
            return m
    return None


def _find(phrases: PhraseSet, transcript: Transcript, check: Check, duration: float) -> _Hit | None:
    """The first segment (by the check's speaker and time window) where `phrases` match, alone or running on
    into the speaker's next segment across a short pause."""
    segs = transcript.segments

    def eligible(seg: Segment) -> bool:
        return not ((check.speaker and seg.speaker != check.speaker)
                    or (check.within_s is not None and seg.start > check.within_s)
                    or (check.last_s is not None and seg.end < duration - check.last_s))

    for n, seg in enumerate(segs):
        nxt = _next_same_speaker(transcript, n)
        if eligible(seg):
            hit = phrases.find(seg.text)
            if hit:
                return _Hit(n, hit.start, hit.how in ("literal", "pattern"), n)
        elif nxt is None or not eligible(segs[nxt]):
            continue
        if nxt is not None:
            head = len(normalize(seg.text))
            hit = phrases.find(f"{seg.text} {segs[nxt].text}")
            if hit and hit.start < head < hit.end:  # only a phrase that really runs across the seam
                return _Hit(n, hit.start, hit.how in ("literal", "pattern"), nxt)
    return None


def _evidence(transcript: Transcript, index: int) -> Evidence:
    seg = transcript.segments[index]
    return Evidence(seg.start, seg.end, seg.speaker, seg.text)


def _hit_evidence(transcript: Transcript, hits: Sequence[_Hit]) -> list[Evidence]:
    return [_evidence(transcript, i) for i in sorted({i for h in hits for i in {h.index, h.last}})]


def _finding_evidence(f: Finding) -> Evidence:
    return Evidence(f.start, f.end, f.speaker, f.span)


def _matching_findings(check: Check, findings: Sequence[Finding]) -> list[Finding]:
    out = []
    for f in findings:
        if check.speaker and f.speaker not in (None, check.speaker):
            continue
        if f.score < check.min_score:
            continue
        if check.model_min_score is not None and is_model_only(f) and f.score < check.model_min_score:
            continue
        if f.label in check.labels or f.subtype in check.subtypes or f.label in check.subtypes:
            out.append(f)
    return out


def _measure(measures: dict[str, Any], path: str) -> float | None:
    value: Any = measures
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _evaluate(item: FormItem, transcript: Transcript, findings: Sequence[Finding],
              measures: dict[str, Any]) -> tuple[Result, float, list[Evidence], str]:
    check = item.check
    duration = transcript.duration or max((s.end for s in transcript.segments), default=0.0)
    rule = f"form:{check.kind}"
    if check.kind == "said":
        hits = [_find(g, transcript, check, duration) for g in check.groups]
        if all(hits):
            conf = CONF_EXACT if all(h.exact for h in hits if h) else CONF_FUZZY
            return "pass", conf, _hit_evidence(transcript, [h for h in hits if h]), rule
        return "fail", CONF_ABSENT_PHRASE, [], rule
    if check.kind == "not_said":
        hit = _find(check.groups[0], transcript, check, duration)
        found = _matching_findings(check, findings)
        if found:
            best = max(found, key=lambda f: f.score)
            return "fail", best.score, [_finding_evidence(f) for f in found], best.source
        if hit:
            return "fail", CONF_EXACT if hit.exact else CONF_FUZZY, _hit_evidence(transcript, [hit]), rule
        return "pass", CONF_NO_FINDING, [], rule
    if check.kind == "absent":
        found = _matching_findings(check, findings)
        if found:
            best = max(found, key=lambda f: f.score)
            return "fail", best.score, [_finding_evidence(f) for f in found], best.source
        return "pass", CONF_NO_FINDING, [], "detectors"
    if check.kind == "order":
        first = _find(check.groups[0], transcript, check, duration)
        then = _find(check.groups[1], transcript, check, duration)
        if then is None:
            return "pass", CONF_ABSENT_PHRASE, _hit_evidence(transcript, [first] if first else []), rule
        if first is not None and (first.index, first.pos) < (then.index, then.pos):
            return "pass", CONF_EXACT if first.exact and then.exact else CONF_FUZZY, \
                _hit_evidence(transcript, [first, then]), rule
        return "fail", CONF_ABSENT_PHRASE if first is None else CONF_EXACT, _hit_evidence(transcript, [then]), rule
    value = _measure(measures, check.measure or "")
    if value is None:
        return "na", 1.0, [], f"measure:{check.measure}"
    ok = (check.max is None or value <= check.max) and (check.min is None or value >= check.min)
    return ("pass" if ok else "fail"), CONF_MEASURE, [], f"measure:{check.measure}={value:g}"


def score_call_form(transcript: Transcript, findings: Sequence[Finding], measures: dict[str, Any] | None,
                    meta: CallMeta, form: Form) -> Scorecard:
    """Score one call against one form. Pure: reads nothing and stores nothing."""
    measures = measures or {}
    items = []
    for item in form.items:
        if _applies(item, form, transcript, meta):
            result, conf, evidence, rule = _evaluate(item, transcript, findings, measures)
        else:
            result, conf, evidence, rule = "na", 1.0, [], "not applicable"
        items.append(ItemResult(id=item.id, section=item.section, result=result, auto=True,
                                confidence=round(conf, 3), evidence=evidence, rule=rule, weight=item.weight,
                                fatal=item.fatal, text=item.text, text_en=item.text_en, coaching=item.coaching))
    return totals(Scorecard(call_id=transcript.call_id, form=form.id, form_version=form.version, score=0.0,
                            max_score=0.0, fatal_failed=False, items=items))
