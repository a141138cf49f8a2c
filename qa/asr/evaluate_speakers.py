"""Diarisation on real voices: mono mixes built from real clips, the real two-speaker recordings with RTTM, DER.

A mix alternates the clips of two real speakers (same gender included) with pauses and, optionally, short
overlaps, and can be put through a telephone line (8 kHz, 300-3400 Hz, AMR-NB). Its reference turns are the
speech regions of each source clip, placed where the clip was put. The "agent" of a mix is a chosen speaker;
the customer opens some mixes (as callees do when they answer "喂").

DER (diarisation error rate) = (missed speech + false alarm + speaker confusion) / reference speech, over 10 ms
frames, with the optimal one-to-one speaker mapping and a no-score collar around reference turn boundaries
(0.25 s each side by default, as in NIST/pyannote practice); overlapping speech counts as in NIST md-eval.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.audio import RATE, decode, telephone_band

STEP = 0.01  # DER frame, seconds
ENROL_MIN_S = 10.0  # least held-out agent speech (with pauses) to enrol a voiceprint from

Turn = tuple[float, float, str]  # (start, end, speaker)


@dataclass
class DerResult:
    der: float
    missed: float  # seconds
    false_alarm: float
    confusion: float
    speech: float  # scored reference speech, seconds


def der(reference: list[Turn], hypothesis: list[Turn], collar: float = 0.25, uem: tuple[float, float] | None = None
        ) -> DerResult:
    """Diarisation error rate of `hypothesis` against `reference`, optimal speaker mapping (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    end = max([e for _, e, _ in reference + hypothesis] + [0.0])
    n = int(np.ceil(end / STEP)) + 1
    ref_names = sorted({s for _, _, s in reference})
    hyp_names = sorted({s for _, _, s in hypothesis})
    ref = np.zeros((len(ref_names), n), bool)
    hyp = np.zeros((len(hyp_names), n), bool)
    for a, b, s in reference:
        ref[ref_names.index(s), int(round(a / STEP)):int(round(b / STEP))] = True
    for a, b, s in hypothesis:
        hyp[hyp_names.index(s), int(round(a / STEP)):int(round(b / STEP))] = True
    scored = np.ones(n, bool)
    if uem is not None:
        scored[:int(round(uem[0] / STEP))] = False
        scored[int(round(uem[1] / STEP)):] = False
    c = int(round(collar / STEP))
    if c:
        for a, b, _ in reference:
            for t in (a, b):
                k = int(round(t / STEP))
                scored[max(0, k - c):k + c] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    overlap = ref.astype(np.int32) @ hyp.T.astype(np.int32)  # frames both speak, per (ref, hyp) pair
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    correct = np.zeros(ref.shape[1], np.int32)
    for r, h in zip(rows, cols):
        correct += ref[r] & hyp[h]
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    speech = n_ref.sum()
    total = (missed + false_alarm + confusion) / speech if speech else 0.0
    return DerResult(float(total), float(missed * STEP), float(false_alarm * STEP), float(confusion * STEP),
                     float(speech * STEP))


@dataclass
class Mix:
    name: str
    samples: np.ndarray
    turns: list[Turn]
    agent: str  # the reference speaker who is the agent
    notes: str = ""
    # The agent's speech that is not in the mix, through the same line: what an agent voiceprint is enrolled from
    # (None: too little left over to enrol from).
    enrolment: np.ndarray | None = None


@dataclass
class Voice:
    """A real speaker: its clips' speech, cut at pauses into utterances (each usable as one turn)."""

    name: str
    gender: str
    utterances: list[np.ndarray] = field(default_factory=list)


def _speech(samples: np.ndarray) -> np.ndarray:
    from qa.speakers.diarize import speech_regions

    regions = speech_regions(samples, threshold=0.5)
    if not regions:
        return samples
    return samples[regions[0][0]:regions[-1][1]]


def load_voice(name: str, gender: str, paths: list[Path], max_turn_s: float = 6.0) -> Voice:
    """Each clip trimmed to its speech; clips longer than `max_turn_s` are cut in two at the middle pause."""
    from qa.speakers.diarize import speech_regions

    utterances: list[np.ndarray] = []
    for path in paths:
        x = _speech(decode(path).mono())
        if len(x) > max_turn_s * RATE:
            regions = speech_regions(x, threshold=0.5)
            cut = min((b for _, b in regions[:-1]), key=lambda b: abs(b - len(x) / 2), default=len(x) // 2)
            utterances += [x[:cut], _speech(x[cut:])]
        else:
            utterances.append(x)
    return Voice(name, gender, [u for u in utterances if len(u) > RATE // 2])


def build_mix(agent: Voice, customer: Voice, seed: int, turns: int = 10, telephone: bool = False,
              overlaps: bool = False, customer_first: bool = False, customer_gain_db: float = -3.0) -> Mix:
    """Alternating turns (pauses 0.3-1.2 s; with `overlaps`, every third turn starts 0.2-0.5 s before the previous
    one ends), customer a few dB quieter, optionally through a telephone line."""
    from qa.speakers.diarize import speech_regions

    rng = random.Random(seed)
    gain = 10 ** (customer_gain_db / 20)
    order = [customer, agent] if customer_first else [agent, customer]
    queues = {v.name: rng.sample(v.utterances, len(v.utterances)) for v in (agent, customer)}
    placed: list[tuple[int, np.ndarray, str]] = []  # (start sample, audio, speaker)
    used: set[int] = set()  # ids of the agent's utterances placed in the mix
    t = int(0.5 * RATE)
    for i in range(turns):
        voice = order[i % 2]
        q = queues[voice.name]
        if not q:
            q += rng.sample(voice.utterances, len(voice.utterances))
        utterance = q.pop()
        if voice is agent:
            used.add(id(utterance))
        piece = utterance * (gain if voice is customer else 1.0)
        if i and overlaps and i % 3 == 2:
            start = t - int(rng.uniform(0.2, 0.5) * RATE)
        else:
            start = t + (int(rng.uniform(0.3, 1.2) * RATE) if i else 0)
        placed.append((start, piece, voice.name))
        t = start + len(piece)
    out = np.zeros(t + RATE // 2, np.float32)
    reference: list[Turn] = []
    for start, piece, name in placed:
        out[start:start + len(piece)] += piece
        # Reference turns: the clean source's speech at Silero's standard threshold, independent of diarisation's.
        regions = speech_regions(piece, threshold=0.5)
        reference += [((start + a) / RATE, (start + b) / RATE, name) for a, b in regions]
    pause = np.zeros(RATE // 2, np.float32)
    rest = [part for u in agent.utterances if id(u) not in used for part in (u, pause)]
    enrolment = np.concatenate(rest) if sum(len(u) for u in rest) >= ENROL_MIN_S * RATE else None
    if telephone:
        out = telephone_band(out)
        enrolment = telephone_band(enrolment) if enrolment is not None else None
    kind = ("telephone" if telephone else "wideband") + (", overlaps" if overlaps else "") + \
           (", customer opens" if customer_first else "")
    name = f"{agent.name}+{customer.name} {kind} #{seed}"
    return Mix(name, out, sorted(reference), agent.name, f"{agent.gender}/{customer.gender}", enrolment)


# Real speakers of ../shared/data/speech_more. Only sources that are one voice: the FunASR demo clips are several
# readers (GE2E cosine 0.43-0.75 between them), so each is used alone. F0 medians (librosa.pyin) give the gender:
# S0150 182 Hz, FunASR physics reader and the homophone-replacer reader ~190-260 Hz, SenseVoice reader 115 Hz,
# LibriSpeech 1221 189 Hz, LJSpeech 189 Hz.
VOICES: dict[str, tuple[str, list[str]]] = {
    "aishell-S0150": ("female", [f"zh_aishell1_BAC009S0150W{n:04d}.wav" for n in
                                 (11, 35, 60, 85, 110, 135, 160, 185, 210, 260, 285, 335)]),
    "funasr-physics": ("female", ["zh_funasrnano_rag_physics.wav"]),
    "xuanjie-reader": ("female", ["zh_sherpa_hr-xuan-jie-test.wav"]),
    "sensevoice-reader": ("male", ["zh_sensevoice_test_zh.wav"]),
    "librispeech-1221": ("female", ["en_librispeech_1221-135766-0001.wav", "en_librispeech_1221-135766-0002.wav"]),
    "ljspeech": ("female", ["en_ljspeech_LJ050-0161.wav", "en_ljspeech_LJ050-0172.wav",
                            "en_ljspeech_LJ002-0020.wav", "en_ljspeech_LJ002-0035.wav"]),
}
PAIRS = [("aishell-S0150", "funasr-physics"), ("aishell-S0150", "xuanjie-reader"),
         ("aishell-S0150", "sensevoice-reader"), ("librispeech-1221", "ljspeech")]


def build_mixes(folder: Path, seeds: int = 2) -> list[Mix]:
    """Per pair of real speakers and seed: wideband and telephone, with pauses only and with overlaps; the
    customer opens half of them (alternating over conditions and seeds)."""
    voices = {name: load_voice(name, g, [folder / f for f in files]) for name, (g, files) in VOICES.items()
              if all((folder / f).is_file() for f in files)}
    mixes = []
    for a, c in PAIRS:
        if a not in voices or c not in voices:
            continue
        for seed in range(seeds):
            for telephone in (False, True):
                for overlaps in (False, True):
                    mixes.append(build_mix(voices[a], voices[c], seed, telephone=telephone, overlaps=overlaps,
                                           customer_first=(seed + telephone + overlaps) % 2 == 1))
    return mixes


def real_recordings(folder: Path) -> list[Mix]:
    """The two-speaker recordings with RTTM turns (no agent: agent-ID is not scored on them)."""
    from qa.asr.evaluate import read_rttm

    out = []
    for rttm in sorted(folder.glob("*.rttm")):
        wav = rttm.with_suffix(".wav")
        if wav.is_file():
            out.append(Mix(wav.stem, decode(wav).mono(), read_rttm(rttm), "", "real recording"))
    return out


def _only(turns: list[Turn], speaker: str) -> list[tuple[float, float]]:
    """The stretches where `speaker` talks and nobody else does."""
    others = sorted((a, b) for a, b, s in turns if s != speaker)
    out = []
    for a, b, s in turns:
        if s != speaker:
            continue
        pieces = [(a, b)]
        for oa, ob in others:
            pieces = [p for x, y in pieces for p in ((x, min(y, oa)), (max(x, ob), y)) if p[1] - p[0] > 0.05]
        out += pieces
    return out


def voiceprint_trials(recordings: list[Mix]) -> list[dict[str, Any]]:
    """Across real recordings that share speakers (the two AMI excerpts): enrol each shared speaker from one
    recording's reference turns (overlapped speech left out), and check that the voiceprint picks that speaker's
    diarised voice in the other recording. Diarisation and voices only (no ASR, no content)."""
    from qa.records import AgentVoiceprint
    from qa.speakers.diarize import diarize, voiceprint
    from qa.speakers.roles import voice_choice

    rows = []
    diarised = {rec.name: diarize(rec.samples) for rec in recordings}
    for source in recordings:
        for target in recordings:
            shared = {s for _, _, s in source.turns} & {s for _, _, s in target.turns}
            if source is target:
                continue
            for speaker in sorted(shared):
                alone = _only(source.turns, speaker)
                pieces = [source.samples[int(a * RATE):int(b * RATE)] for a, b in alone]
                enrolled = voiceprint(np.concatenate(pieces)) if pieces else None
                d = diarised[target.name]
                if enrolled is None or d.centroids is None:
                    continue
                choice = voice_choice(d.centroids, AgentVoiceprint(speaker, [float(v) for v in enrolled[0]], 1))
                spoken = [(a, b) for a, b, s in target.turns if s == speaker]
                cover = [_overlap([(t.start, t.end) for t in d.turns if t.cluster == c], spoken)
                         for c in range(len(d.centroids))]
                rows.append({"trial": f"{speaker}: {source.name} -> {target.name}", "enrolment_s": round(enrolled[1], 1),
                             "cosines": [round(float(v), 3) for v in d.centroids @ enrolled[0]],
                             "voices_found": d.voices, "picked": choice.agent_cluster if choice else None,
                             "confidence": choice.confidence if choice else None,
                             "right": bool(choice and choice.confidence > 0.5
                                           and choice.agent_cluster == int(np.argmax(cover)))})
    return rows


def evaluate_mix(mix: Mix, asr: Any | None = None) -> dict[str, Any]:
    """DER of diarisation alone; with an ASR model also the whole mono path: agent identified, speech coverage,
    and the attribution confidence the call would carry."""
    from qa.speakers.diarize import diarize

    d = diarize(mix.samples)
    hyp = [(t.start, t.end, str(t.cluster)) for t in d.turns]
    result = der(mix.turns, hyp)
    row: dict[str, Any] = {"mix": mix.name, "voices": mix.notes, "der": round(result.der, 4),
                           "missed_s": round(result.missed, 2), "false_alarm_s": round(result.false_alarm, 2),
                           "confusion_s": round(result.confusion, 2), "speech_s": round(result.speech, 2),
                           "voices_found": d.voices, "voice_similarity": d.voice_similarity}
    if asr is not None:
        import ctranslate2

        from qa.asr.evaluate import speech_coverage
        from qa.asr.transcribe import transcribe_mono
        from qa.records import AgentVoiceprint
        from qa.speakers.attribution import attribution
        from qa.speakers.diarize import voiceprint

        ctranslate2.set_random_seed(0)  # the temperature fallback samples: the same draws on every run
        tr = transcribe_mono(mix.samples, len(mix.samples) / RATE, asr)
        row["coverage"] = round(speech_coverage([(a, b) for a, b, _ in mix.turns],
                                                [(s.start, s.end) for s in tr.segments]), 4)
        row["attribution_confidence"] = attribution(tr).confidence
        if mix.agent:
            row["agent_identified"] = _agent_identified(mix, tr)
        enrolled = voiceprint(mix.enrolment) if mix.agent and mix.enrolment is not None else None
        if enrolled is not None:  # the same path with the agent's voiceprint from their held-out speech
            ctranslate2.set_random_seed(0)
            vp = AgentVoiceprint(mix.agent, [float(v) for v in enrolled[0]], 1)
            tr = transcribe_mono(mix.samples, len(mix.samples) / RATE, asr, vp)
            row["agent_identified_voiceprint"] = _agent_identified(mix, tr)
            row["attribution_confidence_voiceprint"] = attribution(tr).confidence
            row["enrolment_s"] = round(enrolled[1], 1)
    return row


def _overlap(xs: list[tuple[float, float]], ys: list[tuple[float, float]]) -> float:
    """Seconds of overlap summed over every pair of intervals."""
    return sum(max(0.0, min(b, y) - max(a, x)) for a, b in xs for x, y in ys)


def _agent_identified(mix: Mix, tr: Any) -> bool:
    """Whether the transcript's agent lines cover more of the reference agent's speech than of the customer's."""
    agent_lines = [(s.start, s.end) for s in tr.segments if s.speaker == "agent"]
    return (_overlap([(a, b) for a, b, spk in mix.turns if spk == mix.agent], agent_lines)
            > _overlap([(a, b) for a, b, spk in mix.turns if spk != mix.agent], agent_lines))


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str, part: list[dict[str, Any]]) -> float | None:
        vals = [r[key] for r in part if r.get(key) is not None]
        return round(sum(vals) / len(vals), 4) if vals else None

    groups = {
        "mixes, wideband": [r for r in rows if "wideband" in r["mix"]],
        "mixes, telephone, pauses": [r for r in rows if "telephone" in r["mix"] and "overlaps" not in r["mix"]],
        "mixes, telephone, overlaps": [r for r in rows if "telephone" in r["mix"] and "overlaps" in r["mix"]],
        "mixes, same gender": [r for r in rows if r["voices"] in ("female/female", "male/male")],
        "mixes, all": [r for r in rows if r["voices"] != "real recording"],
        "real recordings": [r for r in rows if r["voices"] == "real recording"],
    }
    out = {}
    for name, part in groups.items():
        if not part:
            continue
        agent = [r["agent_identified"] for r in part if "agent_identified" in r]
        by_voice = [r["agent_identified_voiceprint"] for r in part if "agent_identified_voiceprint" in r]
        out[name] = {"n": len(part), "der": mean("der", part), "coverage": mean("coverage", part),
                     "agent_identified": round(sum(agent) / len(agent), 4) if agent else None,
                     "agent_identified_voiceprint": round(sum(by_voice) / len(by_voice), 4) if by_voice else None,
                     "n_voiceprint": len(by_voice),
                     "attribution_confidence": mean("attribution_confidence", part),
                     "attribution_confidence_voiceprint": mean("attribution_confidence_voiceprint", part)}
    return out
