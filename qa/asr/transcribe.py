"""One call from decoded audio to a merged, speaker-attributed Transcript."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from qa.asr.engine import Recognition, StreamSegment, Transcriber
from qa.audio import RATE, is_silent
from qa.records import (
    AgentVoiceprint,
    CallMeta,
    DecodedAudio,
    Segment,
    SpeakerAssignment,
    Transcript,
    Word,
)
from qa.speakers.channels import ChannelStream, channel_streams, is_dual_mono, role_for_cluster

log = logging.getLogger(__name__)

# A mono call's agent voice is kept as a voiceprint source only when its attribution is at least this sure.
VOICEPRINT_KEEP_CONFIDENCE = 0.9


def call_language(recognitions: list[Recognition]) -> str:
    """'zh', 'en', or 'mixed' when the streams (or parts) that said anything disagree, or the detector was torn
    between the two."""
    languages = [(r.language.language, r.language.probability) for r in recognitions if r.segments]
    if not languages:
        return "zh"
    kinds = {lang for lang, _ in languages}
    if len(kinds) > 1 or min(p for _, p in languages) < 0.75:
        return "mixed"
    return kinds.pop()


def _join_words(words: list[Word]) -> str:
    return "".join(w.word for w in words).strip()


def transcribe_stereo(audio: DecodedAudio, meta: CallMeta, asr: Transcriber, keep_voiceprint: bool = False
                      ) -> Transcript:
    streams, speakers = channel_streams(audio.samples, meta, asr.settings.agent_channel)
    active = [s for s in streams if not is_silent(s.samples)]
    # Each channel is decoded in the language detected on its own first 30 s of speech; with `asr_streams` >= 2
    # the two decode side by side on two cores (CTranslate2 releases the GIL).
    with ThreadPoolExecutor(max_workers=max(1, min(2, asr.settings.asr_streams))) as pool:
        results = list(zip(active, pool.map(lambda stream: asr.transcribe(stream.samples), active)))
    segments = [
        Segment(speaker=stream.role, start=s.start, end=s.end, text=s.text, words=s.words, raw_text=s.raw_text,
                avg_logprob=s.avg_logprob, no_speech_prob=s.no_speech_prob, channel=stream.channel)
        for stream, rec in results for s in rec.segments
    ]
    segments.sort(key=lambda s: (s.start, s.end))
    if keep_voiceprint:
        speakers = _with_agent_voiceprint(speakers, streams)
    return Transcript(None, call_language([rec for _, rec in results]), audio.info.duration, segments, speakers)


def _with_agent_voiceprint(speakers: list[SpeakerAssignment], streams: list[ChannelStream]
                           ) -> list[SpeakerAssignment]:
    """A stereo call's agent channel embedded as the agent's voice in this call (channels are certain)."""
    from qa.speakers.diarize import stored_embedding, voiceprint

    agent = next((s for s in streams if s.role == "agent"), None)
    found = voiceprint(agent.samples) if agent is not None and not is_silent(agent.samples) else None
    if found is None:
        return speakers
    vector = stored_embedding(found[0])
    return [replace(sp, voiceprint=vector) if sp.role == "agent" else sp for sp in speakers]


def _split_by_turns(seg: StreamSegment, turns: list) -> list[tuple[int, StreamSegment]]:  # type: ignore[type-arg]
    """Cut a recognised segment where the diarised speaker changes (by word midpoints)."""

    def cluster_at(t: float) -> int:
        best, best_dist = turns[0].cluster, float("inf")
        for turn in turns:
            if turn.start <= t <= turn.end:
                return turn.cluster
            dist = min(abs(t - turn.start), abs(t - turn.end))
            if dist < best_dist:
                best, best_dist = turn.cluster, dist
        return best

    if not seg.words:
        return [(cluster_at((seg.start + seg.end) / 2), seg)]
    pieces: list[tuple[int, list[Word]]] = []
    for w in seg.words:
        c = cluster_at((w.start + w.end) / 2)
        if pieces and pieces[-1][0] == c:
            pieces[-1][1].append(w)
        else:
            pieces.append((c, [w]))
    if len(pieces) == 1:
        return [(pieces[0][0], seg)]
    return [
        (c, StreamSegment(ws[0].start, ws[-1].end, _join_words(ws), _join_words(ws), ws,
                          seg.avg_logprob, seg.no_speech_prob))
        for c, ws in pieces
    ]


def pause_cuts(samples: np.ndarray, parts: int, min_part_s: float, rate: int = RATE) -> list[int]:
    """Sample positions that cut a mono recording into `parts` pieces of similar length, each at the quietest
    0.4 s near its target (within the middle half between neighbouring targets): a pause between sentences,
    so that no word is cut. No cuts when the recording is shorter than `parts` x `min_part_s`."""
    if parts < 2 or len(samples) < parts * min_part_s * rate:
        return []
    hop = rate // 50  # 20 ms frames
    n = len(samples) // hop
    energy = np.square(samples[: n * hop].astype(np.float32)).reshape(n, hop).mean(axis=1)
    width = 20  # 0.4 s
    smooth = np.convolve(energy, np.ones(width) / width, mode="valid")  # smooth[i]: frames i .. i+width-1
    step = n / parts
    cuts = []
    for k in range(1, parts):
        lo, hi = int((k - 0.25) * step), int((k + 0.25) * step)
        i = lo + int(np.argmin(smooth[lo:hi]))
        cuts.append((i + width // 2) * hop)
    return cuts


def transcribe_mono(samples: np.ndarray, duration: float, asr: Transcriber,
                    voiceprint: AgentVoiceprint | None = None, keep_voiceprint: bool = False) -> Transcript:
    """The whole file is recognised as a one-speaker recording would be (nothing is cut away before recognition;
    a long one is decoded as parts cut at pauses); diarisation then only labels the recognised words, so no
    speech the model hears is lost. `voiceprint`: the agent's, from their other calls (which voice is theirs);
    `keep_voiceprint`: put the agent voice's embedding on the agent's SpeakerAssignment when the attribution is
    sure."""
    from qa.speakers.attribution import mono_attribution
    from qa.speakers.diarize import diarize, stored_embedding
    from qa.speakers.roles import combine, identify_agent, voice_choice

    if is_silent(samples):
        return Transcript(None, "zh", duration, [], [])
    # Diarisation runs beside Whisper (CTranslate2 and ONNX Runtime both release the GIL), so on a mono call it
    # costs little wall time beyond recognition; a long recording is also decoded as parts side by side. With
    # `asr_streams` = 1 (batch workers, which already fill the cores) the two run one after the other.
    streams = asr.settings.asr_streams
    bounds = [0, *pause_cuts(samples, streams, asr.settings.asr_min_part_s), len(samples)]
    with ThreadPoolExecutor(max_workers=len(bounds) if streams > 1 else 1, thread_name_prefix="mono") as pool:
        pending = pool.submit(diarize, samples)
        # Each part is decoded in the language detected on its own first 30 s of speech; words place speaker
        # changes.
        parts = [pool.submit(asr.transcribe, samples[a:b], None, offset=a / RATE, word_timestamps=True)
                 for a, b in zip(bounds, bounds[1:])]
        recognitions = [part.result() for part in parts]
        diarization = pending.result()
    recognised = [s for rec in recognitions for s in rec.segments]
    opening = next((rec.language for rec in recognitions if rec.segments), recognitions[0].language)
    turns = diarization.turns
    if not turns:
        pieces = [(0, s) for s in recognised]
    else:
        pieces = [p for s in recognised for p in _split_by_turns(s, turns)]
    clusters = sorted({c for c, _ in pieces}) or [0]
    texts = {c: [s.text for cc, s in pieces if cc == c] for c in clusters}
    choice = identify_agent(texts, opening.language)  # the language of the call's opening, where greetings are
    choice = combine(choice, voice_choice(diarization.centroids, voiceprint))
    sure = mono_attribution(diarization, choice, sum(s.end - s.start for _, s in pieces))
    keep = (keep_voiceprint and sure.confidence >= VOICEPRINT_KEEP_CONFIDENCE
            and diarization.centroids is not None and choice.agent_cluster < len(diarization.centroids))
    segments = [
        Segment(speaker=role_for_cluster(c, choice.agent_cluster), start=s.start, end=s.end, text=s.text,
                words=s.words, raw_text=s.raw_text, avg_logprob=s.avg_logprob, no_speech_prob=s.no_speech_prob)
        for c, s in pieces
    ]
    speakers = [
        SpeakerAssignment(role=role_for_cluster(c, choice.agent_cluster), label=f"cluster {c}",
                          method="diarization", confidence=sure.confidence, reason=sure.reason,
                          voiceprint=stored_embedding(diarization.centroids[c])  # type: ignore[index]
                          if keep and c == choice.agent_cluster else None)
        for c in clusters
    ]
    return Transcript(None, call_language(recognitions), duration, segments, speakers)


def transcribe_call(audio: DecodedAudio, meta: CallMeta, asr: Transcriber,
                    voiceprint: AgentVoiceprint | None = None, keep_voiceprint: bool = False) -> Transcript:
    """Stereo recordings are split by channel (reliable); mono and dual-mono ones are diarised, and matched
    against the agent's `voiceprint` where the site keeps voiceprints (`keep_voiceprint`: store this call's)."""
    if audio.samples.shape[0] == 2 and not is_dual_mono(audio.samples):
        return transcribe_stereo(audio, meta, asr, keep_voiceprint)
    return transcribe_mono(audio.mono(), audio.info.duration, asr, voiceprint, keep_voiceprint)
