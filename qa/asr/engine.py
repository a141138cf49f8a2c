"""Speech recognition with faster-whisper: the only module that knows faster-whisper's transcription API.

One stream (a channel, or a mono mix) in, cleaned segments with word timestamps out. Output is Simplified
Chinese (OpenCC t2s, not by prompt alone); the raw text is kept so later stages can recover numbers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import threading
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from qa.asr.model import ModelSpec, resolve_asr_model
from qa.audio import RATE, is_silent
from qa.config import Settings, get_settings, select_compute
from qa.data import load as load_data
from qa.records import Word
from qa.text import to_simplified

log = logging.getLogger(__name__)

_DATA = load_data("asr")
_HALLUCINATIONS = [p.lower() for p in _DATA["hallucination_phrases"]]
_GUARDS = _DATA["guards"]
SUPPORTED = ("zh", "en")
ZH_LIKE = {"zh", "yue"}  # Whisper sometimes labels telephone Mandarin as Cantonese


@dataclass
class StreamSegment:
    """A recognised stretch of one stream, times in seconds from the start of the recording."""

    start: float
    end: float
    text: str
    raw_text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass
class LanguageGuess:
    language: str  # "zh" | "en"
    probability: float  # share of zh+en probability mass the winner holds


@dataclass
class Recognition:
    """One stream's kept segments and the language they were decoded in."""

    segments: list[StreamSegment]
    language: LanguageGuess


def fold_language(probs: list[tuple[str, float]]) -> LanguageGuess:
    """zh or en from Whisper's language probabilities: Chinese-like languages count as zh, others are dropped
    (Whisper has called a Hunan dialect clip Burmese and a Sichuanese one Tibetan)."""
    zh = sum(p for lang, p in probs if lang in ZH_LIKE)
    en = sum(p for lang, p in probs if lang == "en")
    total = zh + en
    if total <= 0:
        return LanguageGuess("zh", 0.0)
    return LanguageGuess("zh", zh / total) if zh >= en else LanguageGuess("en", en / total)


def _compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw)))


_REPEAT = re.compile(r"(.{1,6}?)\1{%d,}" % (_GUARDS["max_char_repeat"] - 1))


_PUNCT = re.compile(r"[\W_]+")


def rejection_reason(
    text: str, avg_logprob: float | None, no_speech_prob: float | None, prompt: str | None = None
) -> str | None:
    """Why a recognised segment is judged hallucinated (silence, loop, credits); None when it is kept."""
    stripped = text.strip()
    if not stripped or not re.search(r"\w", stripped):
        return "empty"
    bare = _PUNCT.sub("", stripped).lower()
    if prompt and len(bare) >= 3 and bare in _PUNCT.sub("", prompt).lower() and (avg_logprob or 0) < -0.3:
        return "echo of the hotword prompt"
    if (
        no_speech_prob is not None and avg_logprob is not None
        and no_speech_prob > _GUARDS["no_speech_prob"] and avg_logprob < _GUARDS["logprob_floor"]
    ):
        return "no speech"
    lowered = stripped.lower()
    for phrase in _HALLUCINATIONS:
        if phrase in lowered:
            return f"known hallucination phrase '{phrase}'"
    if len(stripped) > 12 and _compression_ratio(stripped) > _GUARDS["compression_ratio"]:
        return "repetition loop (compression ratio)"
    if _REPEAT.search(stripped.replace(" ", "")):
        return "repetition loop (repeated characters)"
    return None


_first_window = threading.local()


@lru_cache(maxsize=1)
def _malloc_trim() -> Any | None:
    """glibc's malloc_trim, or None on a C library without it (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Hand the heap pages freed by a decode back to the system. glibc keeps them (a stream's features, encoder
    outputs and beams): after two sample calls a process held ~700 MB at rest without this and ~530 MB with it
    (models ~390 MB). It lowers what an idle worker holds between calls, not the peak within a call."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _whisper_class() -> type:
    """faster-whisper's WhisperModel with two changes, made here so that importing this module stays light:

    - language detection folds Whisper's languages into zh or en (`fold_language`), so that the decoder is
      started in the folded language;
    - the decoder re-uses the encoder output of the window detection looked at (the first 30 s of speech)
      instead of encoding it again: detection then costs one decoder step (with base on one thread, an encoder
      pass is ~1 CPU s, once per stream). Reuse is checked by equality of the encoder's input, per
      thread, so it can never change a result."""
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import pad_or_trim

    class Whisper(WhisperModel):  # type: ignore[misc]
        def detect_language(self, audio: np.ndarray | None = None, features: np.ndarray | None = None,
                            vad_filter: bool = False, vad_parameters: Any = None,
                            language_detection_segments: int = 1,
                            language_detection_threshold: float = 0.5) -> tuple[str, float, list[tuple[str, float]]]:
            if features is None:
                _lang, _p, probs = super().detect_language(audio, None, vad_filter, vad_parameters,
                                                           language_detection_segments, language_detection_threshold)
                guess = fold_language(probs)
                return guess.language, guess.probability, probs
            window = self.feature_extractor.nb_max_frames
            content = features.shape[-1] - 1  # the decoder reads up to the last-but-one frame
            guess, probs, seen = LanguageGuess("zh", 0.0), [], []
            for start in range(0, min(content, window * language_detection_segments), window):
                segment = pad_or_trim(features[:, start:min(start + window, content)])
                encoded = super().encode(segment)
                if start == 0:
                    _first_window.kept = (segment, encoded)
                probs = [(token[2:-2], p) for token, p in self.model.detect_language(encoded)[0]]
                seen += probs
                guess = fold_language(seen)  # over the windows looked at so far
                if guess.probability >= language_detection_threshold:
                    break
            return guess.language, guess.probability, probs

        def encode(self, features: np.ndarray) -> Any:
            kept, _first_window.kept = getattr(_first_window, "kept", None), None
            if kept is not None and kept[0].shape == features.shape and np.array_equal(kept[0], features):
                return kept[1]
            return super().encode(features)

    return Whisper


class Transcriber:
    """A loaded Whisper model plus the decoding options callqa uses. Thread-safe for concurrent streams."""

    def __init__(self, settings: Settings | None = None) -> None:
        from faster_whisper import BatchedInferencePipeline

        self.settings = settings or get_settings()
        self.spec: ModelSpec = resolve_asr_model(self.settings)
        import ctranslate2

        chosen = select_compute(self.settings.asr_device, self.settings.asr_compute_type,
                                ctranslate2.get_cuda_device_count())
        self.device, self.compute_type = chosen.device, chosen.compute_type
        log.info("loading ASR model %s from %s on %s/%s", self.spec.name, self.spec.path, self.device,
                 self.compute_type)
        self.model = _whisper_class()(
            self.spec.path, device=self.device, compute_type=self.compute_type,
            cpu_threads=self.settings.asr_cpu_threads, num_workers=max(1, self.settings.asr_streams),
        )
        self.english_only = not self.model.model.is_multilingual
        self.batched = BatchedInferencePipeline(self.model) if self.settings.asr_batch_size > 0 else None

    def bare_model(self) -> Any:
        """faster-whisper's own WhisperModel on the same weights, device, precision and threads: the reference
        `eval-asr --compare-bare` measures against (its language detection is not folded, no window is re-used)."""
        from faster_whisper import WhisperModel

        return WhisperModel(self.spec.path, device=self.device, compute_type=self.compute_type,
                            cpu_threads=self.settings.asr_cpu_threads)

    def transcribe(
        self, samples: np.ndarray, language: str | None = None, offset: float = 0.0,
        word_timestamps: bool | None = None,
    ) -> Recognition:
        """Transcribe one mono 16 kHz stream; hallucinated segments are dropped, text is Simplified.

        `language`: "zh" or "en"; None decodes in the language detected on the stream's first 30 s of speech
        (or the one `Settings.language` forces)."""
        if self.english_only:
            language = "en"
        elif language is None and self.settings.language in SUPPORTED:
            language = self.settings.language
        if samples.size < RATE // 2 or is_silent(samples):
            return Recognition([], LanguageGuess(language or "zh", 0.0))
        words_on = self.settings.asr_word_timestamps if word_timestamps is None else word_timestamps
        prompt = site_vocabulary(self.settings) if self.settings.asr_site_vocabulary else None
        # The bare model's decoding, measured best on real speech (README "ASR accuracy"): beam search, Silero VAD
        # with faster-whisper's defaults, the full temperature fallback, no domain prompt. A collection-vocabulary
        # prompt wrote 金融公司/催收 into speech that never said them, so only opt-in site names may bias decoding.
        options = dict(
            language=language,
            beam_size=self.settings.asr_beam_size,
            vad_filter=True,
            vad_parameters={"threshold": self.settings.asr_vad_threshold},
            word_timestamps=words_on,
            hotwords=prompt,
            # A second 30-s window of speech only when the first leaves zh/en in doubt (the winner under 75% of
            # their probability mass, where a call counts as "mixed"); its encoder pass is not re-used.
            language_detection_segments=2,
            language_detection_threshold=0.75,
        )
        if self.batched is not None:
            segments, info = self.batched.transcribe(samples, batch_size=self.settings.asr_batch_size, **options)
        else:
            segments, info = self.model.transcribe(samples, **options)
        guess = LanguageGuess(info.language, float(info.language_probability))
        out: list[StreamSegment] = []
        for seg in segments:
            reason = rejection_reason(seg.text, seg.avg_logprob, seg.no_speech_prob, prompt)
            if reason:
                log.debug("dropped a segment at %.1f s: %s", offset + seg.start, reason)
                continue
            for start, end, raw, raw_words in utterances(seg):
                words = [Word(offset + w.start, offset + w.end, to_simplified(w.word), float(w.probability))
                         for w in raw_words]
                out.append(StreamSegment(
                    start=offset + start, end=offset + end, text=to_simplified(raw), raw_text=raw,
                    words=words, avg_logprob=seg.avg_logprob, no_speech_prob=seg.no_speech_prob,
                ))
        del segments, info
        release_freed_memory()
        return Recognition(out, guess)


_SENTENCE_END = ("。", "？", "！", ".", "?", "!")


def utterances(seg: Any, max_gap: float = 0.6, max_len: float = 12.0) -> list[tuple[float, float, str, list[Any]]]:
    """A recognised segment cut at pauses between its words (and at sentence ends in long runs).

    Only the boundaries move: every word stays, in order, with its text, so accuracy is that of the decoder.
    Whisper's segments can run across several conversational turns; the cut puts each turn at its own time."""
    words = list(seg.words or [])
    if not words:
        return [(seg.start, seg.end, seg.text.strip(), [])]
    groups: list[list[Any]] = [[words[0]]]
    for prev, word in zip(words, words[1:]):
        long_run = word.start - groups[-1][0].start > max_len and prev.word.strip().endswith(_SENTENCE_END)
        if word.start - prev.end > max_gap or long_run:
            groups.append([word])
        else:
            groups[-1].append(word)
    if len(groups) == 1:
        return [(seg.start, seg.end, seg.text.strip(), words)]
    return [(g[0].start, g[-1].end, "".join(w.word for w in g).strip(), g) for g in groups]



def site_vocabulary(settings: Settings) -> str:
    """The opt-in site vocabulary (company and product names) as Whisper hotwords; '' when none is configured."""
    names = [n.strip() for n in settings.asr_site_vocabulary.replace("，", ",").split(",") if n.strip()]
    return "，".join(names)


_transcribers: dict[tuple[str, str, str, int, int, str, int, float], Transcriber] = {}
_transcribers_lock = threading.Lock()


def get_transcriber(settings: Settings | None = None) -> Transcriber:
    """The process-wide Transcriber for these settings (the model is loaded once per worker)."""
    settings = settings or get_settings()
    key = (settings.asr_model, settings.asr_device, settings.asr_compute_type, settings.asr_cpu_threads,
           settings.asr_batch_size, settings.asr_site_vocabulary, settings.asr_streams, settings.asr_min_part_s)
    with _transcribers_lock:
        if key not in _transcribers:
            _transcribers[key] = Transcriber(settings)
        return _transcribers[key]
