"""ASR accuracy on real clips with references, callqa's pipeline next to the bare model in one run.

Error rates are corpus-level (errors over reference length, jiwer): CER for Chinese after Simplified conversion
and punctuation removal, WER for English. "Domain words inserted" counts collection vocabulary (`asr.yaml`
`domain_vocabulary`, plus the site vocabulary when one is set) that a transcript contains more often than its
reference. For recordings with RTTM speaker turns, "coverage" is the share of the reference speech time that
recognised segments cover: what a mono call loses before anyone reads it.
"""

from __future__ import annotations

import csv
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ctranslate2
import jiwer
import numpy as np

from qa.asr.engine import ZH_LIKE
from qa.audio import AUDIO_SUFFIXES, RATE, decode, telephone_band
from qa.data import load as load_data

_NON_WORD = re.compile(r"[^\w\s']+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_TAG = re.compile(r"<[A-Z_]+>")  # turn-state tags such as <COMPLETE>
_SPEAKER_LABEL = re.compile(r"(?:(?<=\s)|^)[A-Z][a-z]+:\s")  # "Diane: Hello?" in a two-speaker reference


@dataclass
class Clip:
    """One recording with what was said in it (and, for multi-speaker recordings, who spoke when)."""

    name: str
    set_name: str
    language: str  # "zh" | "en"
    reference: str  # "" when only speaker turns are known
    path: Path | None = None
    samples: np.ndarray | None = None  # built recordings (long-form) carry their audio
    turns: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, speaker) from an RTTM

    def audio(self) -> np.ndarray:
        return self.samples if self.samples is not None else decode(self.path).mono()  # type: ignore[arg-type]


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            turns.append((start, start + dur, parts[7]))
    return sorted(turns)


def clean_reference(text: str) -> str:
    return _SPEAKER_LABEL.sub("", _TAG.sub("", text)).strip()


def _language(reference: str, declared: str = "") -> str:
    if declared in ("zh", "en"):
        return declared
    return "zh" if _CJK.search(reference) else "en"


def load_clips(folder: Path) -> list[Clip]:
    """Clips of a folder: a `manifest.tsv` (file, lang, reference, ...), else a Kaldi `text` file (`<id> <text>`,
    the id may carry a path) and `<clip>.txt` sidecars. Recordings with an RTTM beside them keep their turns."""
    set_name = folder.name
    clips: list[Clip] = []
    manifest = folder / "manifest.tsv"
    if manifest.is_file():
        with open(manifest, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                path = folder / row["file"]
                rttm = path.with_suffix(".rttm")
                reference = clean_reference(row.get("reference") or "")
                if not path.is_file() or not (reference or rttm.is_file()):
                    continue
                clips.append(Clip(path.stem, set_name, _language(reference, row.get("lang", "")), reference, path,
                                  turns=read_rttm(rttm) if rttm.is_file() else []))
        return clips
    refs: dict[str, str] = {}
    kaldi = folder / "text"
    if kaldi.is_file():
        for line in kaldi.read_text(encoding="utf-8").splitlines():
            if " " in line.strip():
                key, text = line.strip().split(" ", 1)
                refs[Path(key).name] = text.strip()
    for sidecar in folder.glob("*.txt"):
        refs[sidecar.stem] = sidecar.read_text(encoding="utf-8").strip()
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.stem in refs):
        reference = clean_reference(refs[path.stem])
        rttm = path.with_suffix(".rttm")
        clips.append(Clip(path.stem, set_name, _language(reference), reference, path,
                          turns=read_rttm(rttm) if rttm.is_file() else []))
    return clips


def long_form_clip(clips: list[Clip], language: str, minutes: float = 6.0, seed: int = 0) -> Clip:
    """A 5-10 minute recording built from real clips of one language, in shuffled order (each clip as often as
    needed), with 0.4-2.5 s pauses between them, then put through a telephone line (`telephone_band`)."""
    rng = random.Random(seed)
    pool = [c for c in clips if c.language == language and c.reference and not c.turns]
    if not pool:
        raise ValueError(f"no {language} clips with references to build a long-form file from")
    audio = {c.name: c.audio() for c in pool}
    parts: list[np.ndarray] = []
    refs: list[str] = []
    total = 0
    while total < minutes * 60 * RATE:
        order = pool[:]
        rng.shuffle(order)
        for c in order:
            pause = np.zeros(int(rng.uniform(0.4, 2.5) * RATE), dtype=np.float32)
            parts += [pause, audio[c.name]]
            refs.append(c.reference)
            total += len(pause) + len(audio[c.name])
    samples = telephone_band(np.concatenate(parts + [np.zeros(RATE, dtype=np.float32)]))
    sep = "" if language == "zh" else " "
    return Clip(f"long-form-{language}-{total / RATE / 60:.1f}min-telephone-seed{seed}", "long-form", language,
                sep.join(refs), samples=samples)


def normalise(text: str, language: str) -> str:
    from qa.text import to_simplified

    text = _NON_WORD.sub(" ", to_simplified(text).lower())
    if language == "zh":
        return "".join(text.split())
    return " ".join(text.split())


def error_counts(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """(errors, reference length): characters for Chinese, words for English."""
    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    if not ref:
        return 0, 0
    if language == "zh":
        out = jiwer.process_characters(ref, hyp or " ")
        return out.substitutions + out.deletions + out.insertions, len(ref)
    out = jiwer.process_words(ref, hyp or "")
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def error_rate(reference: str, hypothesis: str, language: str) -> float:
    errors, length = error_counts(reference, hypothesis, language)
    return errors / length if length else 0.0


def domain_terms(language: str, site_vocabulary: str = "") -> list[str]:
    terms = list(load_data("asr")["domain_vocabulary"].get(language, []))
    terms += [t.strip() for t in site_vocabulary.replace("，", ",").split(",") if t.strip()]
    return terms


def _count(term: str, text: str, language: str) -> int:
    term = normalise(term, language)
    if not term:
        return 0
    if language == "zh":
        return text.count(term)
    return len(re.findall(rf"\b{re.escape(term)}\b", text))


def inserted_domain_words(reference: str, hypothesis: str, language: str, terms: list[str]) -> list[str]:
    """Terms the hypothesis holds more often than the reference (each extra occurrence listed once)."""
    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    out: list[str] = []
    for term in terms:
        extra = _count(term, hyp, language) - _count(term, ref, language)
        out += [term] * max(0, extra)
    return out


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def word_spans(words: list[tuple[float, float]], bridge: float = 0.5) -> list[tuple[float, float]]:
    """Recognised speech as spans: consecutive words less than `bridge` seconds apart are one span. Both systems
    are measured this way, so cutting a segment at a speaker change does not count as lost speech."""
    spans: list[list[float]] = []
    for a, b in sorted(words):
        if spans and a - spans[-1][1] <= bridge:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return [(a, b) for a, b in spans]


def speech_coverage(reference: list[tuple[float, float]], recognised: list[tuple[float, float]]) -> float:
    """Share of the reference speech time that the recognised spans overlap."""
    ref, hyp = _union(reference), _union(recognised)
    total = sum(b - a for a, b in ref)
    if total <= 0:
        return 1.0
    covered = sum(max(0.0, min(b, d) - max(a, c)) for a, b in ref for c, d in hyp)
    return covered / total


@dataclass
class Output:
    """One system's output on one clip."""

    hypothesis: str
    spans: list[tuple[float, float]]
    seconds: float
    language: str = ""  # the language the system decided on ("mixed": callqa was not sure)


def run_callqa(clip: Clip, asr: Any) -> Output:
    """The whole `callqa transcribe` path: channel split or diarisation, ASR, guards, speaker attribution."""
    from qa.asr.transcribe import transcribe_call
    from qa.records import CallMeta, DecodedAudio

    t0 = time.perf_counter()
    if clip.samples is not None:
        from qa.records import AudioInfo

        info = AudioInfo(path=clip.name, sha256="", size_bytes=0, duration=len(clip.samples) / RATE, channels=1,
                         source_rate=RATE, codec="pcm (built)")
        audio = DecodedAudio(info=info, samples=clip.samples.reshape(1, -1))
    else:
        audio = decode(clip.path)  # type: ignore[arg-type]
    tr = transcribe_call(audio, CallMeta(), asr)
    sep = "" if clip.language == "zh" else " "
    return Output(sep.join(s.text for s in tr.segments), word_spans([(w.start, w.end) for s in tr.segments
                                                                      for w in s.words]),
                  time.perf_counter() - t0, tr.language)


def run_bare(clip: Clip, model: Any) -> Output:
    """Bare faster-whisper: beam 5, vad_filter=True, no prompt, word timestamps, its own language detection."""
    t0 = time.perf_counter()
    samples = clip.audio()
    segments, info = model.transcribe(samples, beam_size=5, vad_filter=True, word_timestamps=True)
    segments = list(segments)
    sep = "" if clip.language == "zh" else " "
    return Output(sep.join(s.text.strip() for s in segments), word_spans([(w.start, w.end) for s in segments
                                                                           for w in (s.words or [])]),
                  time.perf_counter() - t0, "zh" if info.language in ZH_LIKE else info.language)


def _score(clip: Clip, out: Output, terms: list[str]) -> dict[str, Any]:
    errors, length = error_counts(clip.reference, out.hypothesis, clip.language)
    row: dict[str, Any] = {
        "hypothesis": out.hypothesis, "errors": errors, "length": length,
        "error_rate": round(errors / length, 4) if length else None,
        "inserted": inserted_domain_words(clip.reference, out.hypothesis, clip.language, terms),
        "seconds": round(out.seconds, 2),
        "language": out.language,
    }
    if clip.turns:
        row["coverage"] = round(speech_coverage([(a, b) for a, b, _ in clip.turns], out.spans), 4)
    return row


def _summary(rows: list[dict[str, Any]], system: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lang, metric in (("zh", "cer_zh"), ("en", "wer_en")):
        scored = [r[system] for r in rows if r["language"] == lang and r[system]["length"]]
        length = sum(r["length"] for r in scored)
        out[metric] = round(sum(r["errors"] for r in scored) / length, 4) if length else None
        out[f"{metric}_units"] = length
    out["inserted"] = sum(len(r[system]["inserted"]) for r in rows)
    cov = [r[system]["coverage"] for r in rows if "coverage" in r[system]]
    out["coverage"] = round(sum(cov) / len(cov), 4) if cov else None
    out["seconds"] = round(sum(r[system]["seconds"] for r in rows), 1)
    # Language detection, per stream, against the reference's language: a wrong guess decodes in the wrong language.
    out["language_right"] = sum(1 for r in rows if r[system]["language"] == r["language"])
    out["language_unsure"] = sum(1 for r in rows if r[system]["language"] == "mixed")
    return out


def evaluate(clips: list[Clip], asr: Any, compare_bare: bool = False, progress: Any = None) -> dict[str, Any]:
    """Per clip, per set and total figures for callqa (and the bare model on the same weights, if asked)."""
    terms = {lang: domain_terms(lang, asr.settings.asr_site_vocabulary) for lang in ("zh", "en")}
    systems = ["callqa"] + (["bare"] if compare_bare else [])
    bare = asr.bare_model() if compare_bare else None
    rows: list[dict[str, Any]] = []
    for clip in clips:
        row: dict[str, Any] = {"clip": clip.name, "set": clip.set_name, "language": clip.language,
                               "reference": clip.reference}
        # The temperature fallback samples at random: both systems start from the same seed, so that a difference
        # between them comes from the pipeline, not from the dice.
        ctranslate2.set_random_seed(0)
        row["callqa"] = _score(clip, run_callqa(clip, asr), terms[clip.language])
        if compare_bare:
            ctranslate2.set_random_seed(0)
            row["bare"] = _score(clip, run_bare(clip, bare), terms[clip.language])
        rows.append(row)
        if progress:
            progress(row)
    sets: dict[str, Any] = {}
    for name in dict.fromkeys(r["set"] for r in rows):
        part = [r for r in rows if r["set"] == name]
        sets[name] = {"clips": len(part), **{s: _summary(part, s) for s in systems}}
    total = {"clips": len(rows), **{s: _summary(rows, s) for s in systems}}
    return {"model": asr.spec.name, "model_path": asr.spec.path, "settings": {
        "batch_size": asr.settings.asr_batch_size, "beam_size": asr.settings.asr_beam_size,
        "site_vocabulary": asr.settings.asr_site_vocabulary}, "clips": rows, "sets": sets, "total": total}

