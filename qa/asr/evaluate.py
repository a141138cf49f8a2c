"""ASR accuracy on clips with reference transcripts: CER for Chinese, WER for English (jiwer)."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer

from qa.audio import AUDIO_SUFFIXES, decode

_NON_WORD = re.compile(r"[^\w\s']+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def read_references(folder: Path) -> dict[str, str]:
    """References by clip stem: a Kaldi-style `text` file (`<id> <text>`, id may carry a path) and/or `<clip>.txt`."""
    refs: dict[str, str] = {}
    kaldi = folder / "text"
    if kaldi.is_file():
        for line in kaldi.read_text(encoding="utf-8").splitlines():
            if line.strip() and " " in line.strip():
                key, text = line.strip().split(" ", 1)
                refs[Path(key).name] = text.strip()
    for sidecar in folder.glob("*.txt"):
        refs[sidecar.stem] = sidecar.read_text(encoding="utf-8").strip()
    return refs


def normalise(text: str, language: str) -> str:
    from qa.text import to_simplified

    text = _NON_WORD.sub(" ", to_simplified(text).lower())
    if language == "zh":
        return "".join(text.split())
    return " ".join(text.split())


def error_rate(reference: str, hypothesis: str, language: str) -> float:
    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    if language == "zh":
        return float(jiwer.cer(ref, hyp))
    return float(jiwer.wer(ref, hyp))


def evaluate_folder(folder: Path) -> dict:  # type: ignore[type-arg]
    from qa.asr.engine import get_transcriber

    asr = get_transcriber()
    refs = read_references(folder)
    clips = []
    for clip in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.stem in refs):
        reference = refs[clip.stem]
        language = "zh" if _CJK.search(reference) else "en"
        samples = decode(clip).mono()  # a reference clip is one speaker: no diarisation
        segments = asr.transcribe(samples, asr.detect_language(samples).language)
        hypothesis = ("" if language == "zh" else " ").join(s.text for s in segments)
        clips.append({"clip": clip.name, "language": language, "reference": reference, "hypothesis": hypothesis,
                      "error_rate": round(error_rate(reference, hypothesis, language), 4)})

    def mean(lang: str) -> float | None:
        rates = [c["error_rate"] for c in clips if c["language"] == lang]
        return round(sum(rates) / len(rates), 4) if rates else None

    return {"model": asr.spec.name, "model_path": asr.spec.path, "clips": clips,
            "cer_zh": mean("zh"), "wer_en": mean("en")}
