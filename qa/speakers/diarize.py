"""Two-speaker diarisation of a mono call: Silero VAD, GE2E speaker embeddings, clustering, smoothing.

Shape of the algorithm (CPU-cheap: it runs on every mono call):

1. Silero VAD (bundled with faster-whisper) finds speech regions, with short silences kept apart so that
   turn-taking pauses become region boundaries.
2. resemblyzer's bundled GE2E encoder (`qa.speakers.voice_encoder`, on ONNX Runtime) embeds overlapping
   windows (1.5 s, hop 0.5 s) inside speech regions; each window's audio is level-normalised first, because
   the encoder's mel input is not logarithmic and a loud and a quiet stretch of one voice would otherwise look
   like two speakers.
3. The windows are clustered into two groups (agglomerative, cosine, average linkage, then refined by two
   rounds of centroid re-assignment). If the two centroids are nearly the same voice, the call is treated as
   one speaker.
   Regions shorter than 1 s (backchannels such as "嗯", "yes") are embedded whole and labelled by their
   nearest centroid, never by their neighbours (who are usually the other speaker).
4. Every 100 ms frame of speech gets the mean centroid preference of the windows covering it; frames are
   median-filtered and runs shorter than `min_turn` inside a region are merged into their neighbours, so a
   region is split only where the voice really changes.

Clusters are numbered by first appearance: cluster 0 is whoever speaks first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from qa.speakers.voice_encoder import EMBEDDING_SIZE, get_voice_encoder

log = logging.getLogger(__name__)

RATE = 16000
FRAME_S = 0.1  # resolution of speaker labels
WINDOW_S = 1.5  # embedding window
HOP_S = 0.5  # embedding hop
MIN_WINDOW_S = 1.0  # shorter regions (backchannels) are labelled by their own embedding, not clustered
MIN_TURN_S = 0.6  # a speaker change inside one VAD region must last at least this long
MEDIAN_FRAMES = 5  # median filter width over frame labels (0.5 s)
# Centroids at least this similar are one voice. Measured on the shared clips: two different speakers 0.45-0.81
# (0.81 after telephone band-limiting), one speaker split in two 0.76-0.88. Calls almost always have two
# parties, so the threshold leans towards keeping two speakers.
SAME_SPEAKER_COS = 0.82
# A "speaker" with fewer windows than this (share, count) is an outlier (a cough, noise), not a voice. Kept low:
# a customer who says only two short sentences in a long call still holds a few percent of the windows.
MIN_CLUSTER_SHARE = 0.03
MIN_CLUSTER_WINDOWS = 2
_TARGET_DBFS = -30.0  # the level resemblyzer's encoder was trained on


@dataclass
class SpeechTurn:
    """One contiguous stretch of speech by one diarised speaker (times in seconds)."""

    start: float
    end: float
    cluster: int  # 0 or 1; 0 is whoever speaks first


@dataclass
class Diarization:
    """Turns plus how distinct the voices were: the basis of how far speaker attribution can be trusted."""

    turns: list[SpeechTurn]
    voices: int  # 0 (no speech), 1 or 2
    voice_similarity: float | None  # cosine of the two voice centroids (None: too little speech to compare)
    note: str  # why one voice, when two were sought
    # Unit GE2E centroid of each cluster's windows, row = cluster number (one row when one voice was heard; None
    # when too little speech was embedded): what an agent's voiceprint is compared with.
    centroids: np.ndarray | None = None


def speech_regions(samples: np.ndarray, rate: int = RATE, threshold: float = 0.35) -> list[tuple[int, int]]:
    """Speech as (start, end) sample ranges, split at pauses of 250 ms or more.

    Threshold 0.35 rather than Silero's 0.5: on telephone-band mixes of real voices 0.5 missed a quiet male
    customer's turns (DER 0.17-0.20, nearly all missed speech); 0.35 brought those mixes to 0.01-0.02."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=threshold, min_speech_duration_ms=150, min_silence_duration_ms=250, speech_pad_ms=60)
    return [(int(t["start"]), int(t["end"])) for t in get_speech_timestamps(samples, opts, sampling_rate=rate)]


def _window_starts(start: int, end: int, win: int, hop: int) -> list[int]:
    """Window start samples covering [start, end): a region shorter than one window gets one window."""
    length = end - start
    if length <= win:
        return [start]
    starts = list(range(start, end - win + 1, hop))
    if starts[-1] + win < end:
        starts.append(end - win)
    return starts


def _embed_windows(samples: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """L2-normed GE2E embeddings of the given sample spans, each level-normalised, batched by length."""
    encoder = get_voice_encoder()
    target_rms = 10 ** (_TARGET_DBFS / 20)
    mels: list[np.ndarray] = []
    for a, b in spans:
        chunk = samples[a:b].astype(np.float32)
        rms = float(np.sqrt(np.mean(chunk**2))) if len(chunk) else 0.0
        if rms > 1e-6:
            chunk = chunk * (target_rms / rms)
        mels.append(encoder.mel_spectrogram(chunk))
    out = np.zeros((len(spans), EMBEDDING_SIZE), dtype=np.float32)
    by_len: dict[int, list[int]] = {}
    for i, m in enumerate(mels):
        by_len.setdefault(m.shape[0], []).append(i)
    for idx in by_len.values():
        for k in range(0, len(idx), 64):
            part = idx[k:k + 64]
            out[part] = encoder(np.stack([mels[i] for i in part]))
    return out


def _two_clusters(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0/1) and the two unit centroids: agglomerative start (average linkage, cosine; SciPy's, which
    costs a quarter of scikit-learn's import memory), refined by centroid re-assignment."""
    from scipy.cluster.hierarchy import fcluster, linkage

    labels = fcluster(linkage(emb, method="average", metric="cosine"), 2, criterion="maxclust") - 1
    for _ in range(3):
        cents = _centroids(emb, labels)
        new = np.argmax(emb @ cents.T, axis=1)
        if len(set(new.tolist())) < 2 or np.array_equal(new, labels):
            break
        labels = new
    return labels, _centroids(emb, labels)


def _centroids(emb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _unit(np.stack([emb[labels == k].mean(axis=0) for k in (0, 1)]))


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def stored_embedding(vector: np.ndarray) -> list[float]:
    """An embedding as it is kept on a speaker row (JSON): plain floats, 5 decimals."""
    return [round(float(v), 5) for v in vector]


def voiceprint(samples: np.ndarray, rate: int = RATE) -> tuple[np.ndarray, float] | None:
    """The unit mean GE2E embedding of one speaker's speech (a stereo call's agent channel, an enrolment clip)
    and the seconds of speech it rests on; None when there are fewer than 4 windows of speech."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != RATE:
        x = _resample(x, rate)
    regions = [(a, b) for a, b in speech_regions(x) if b - a >= int(MIN_WINDOW_S * RATE)]
    win, hop = int(WINDOW_S * RATE), int(HOP_S * RATE)
    spans = [(s, min(s + win, b)) for a, b in regions for s in _window_starts(a, b, win, hop)]
    if len(spans) < 4:
        return None
    return _unit(_embed_windows(x, spans).mean(axis=0, keepdims=True))[0], sum(b - a for a, b in regions) / RATE


def _median(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) < width:
        return values
    pad = width // 2
    padded = np.pad(values, pad, mode="edge")
    return np.array([np.median(padded[i:i + width]) for i in range(len(values))])


def _merge_short_runs(labels: np.ndarray, min_frames: int) -> np.ndarray:
    """Relabel runs shorter than min_frames with the label of the longer neighbouring run."""
    labels = labels.copy()
    while True:
        runs = _runs(labels)
        if len(runs) < 2:
            return labels
        short = [i for i, (a, b, _) in enumerate(runs) if b - a < min_frames]
        if not short:
            return labels
        i = min(short, key=lambda j: runs[j][1] - runs[j][0])
        a, b, _ = runs[i]
        left = runs[i - 1] if i > 0 else None
        right = runs[i + 1] if i + 1 < len(runs) else None
        if left is None or (right is not None and right[1] - right[0] > left[1] - left[0]):
            labels[a:b] = right[2]  # type: ignore[index]
        else:
            labels[a:b] = left[2]


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i, int(labels[start])))
            start = i
    return runs


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(samples, RATE, rate).astype(np.float32)


def diarize(samples: np.ndarray, rate: int = 16000, num_speakers: int = 2) -> Diarization:
    """Speaker turns of a mono recording, sorted by time; at most two speakers (cluster 0 speaks first).

    No turns when there is no speech; one speaker's turns (with a note saying why) when the recording is too
    short to compare voices or the two candidate voices are nearly identical.
    """
    if num_speakers not in (1, 2):
        raise ValueError("diarize supports one or two speakers")
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != RATE:
        x = _resample(x, rate)
    if len(x) < int(0.1 * RATE):
        return Diarization([], 0, None, "no speech")
    regions = speech_regions(x)
    if not regions:
        return Diarization([], 0, None, "no speech")
    win, hop, min_win = int(WINDOW_S * RATE), int(HOP_S * RATE), int(MIN_WINDOW_S * RATE)

    spans: list[tuple[int, int]] = []  # full windows: these define the voices
    short: list[tuple[int, int]] = []  # brief regions (backchannels such as "嗯", "yes"): labelled, not clustered
    for a, b in regions:
        if b - a < min_win:
            short.append((a, b))
        else:
            spans += [(s, min(s + win, b)) for s in _window_starts(a, b, win, hop)]

    def single(note: str, similarity: float | None = None, emb: np.ndarray | None = None) -> Diarization:
        cents = None if emb is None else _unit(emb.mean(axis=0, keepdims=True))
        return Diarization([SpeechTurn(a / RATE, b / RATE, 0) for a, b in regions], 1, similarity, note, cents)

    if num_speakers == 1:
        return single("one speaker requested")
    if len(spans) < 4:
        return single("too little speech to compare voices")
    all_emb = _embed_windows(x, spans + short)
    emb = all_emb[:len(spans)]
    labels, cents = _two_clusters(emb)
    similarity = float(cents[0] @ cents[1])
    shares = np.bincount(labels, minlength=2) / len(labels)
    log.debug("diarize: %d windows, centroid cosine %.3f, shares %s", len(spans), similarity, shares.round(2))
    sizes = np.bincount(labels, minlength=2)
    if similarity >= SAME_SPEAKER_COS:
        return single(f"the two candidate voices are nearly the same (cosine {similarity:.2f})", similarity, emb)
    if shares.min() < MIN_CLUSTER_SHARE or sizes.min() < MIN_CLUSTER_WINDOWS:
        return single("a second voice is too brief to be a speaker", similarity, emb)

    # Per-window preference for centroid 1 over centroid 0, spread over the 100 ms frames each window covers.
    pref = all_emb @ cents[1] - all_emb @ cents[0]
    frame = int(FRAME_S * RATE)
    n_frames = len(x) // frame + 1
    acc = np.zeros(n_frames)
    cnt = np.zeros(n_frames)
    for (a, b), p in zip(spans + short, pref):
        acc[a // frame:(b + frame - 1) // frame] += p
        cnt[a // frame:(b + frame - 1) // frame] += 1

    turns: list[SpeechTurn] = []
    for a, b in regions:
        fa, fb = a // frame, max(a // frame + 1, (b + frame - 1) // frame)
        score = acc[fa:fb] / np.maximum(cnt[fa:fb], 1)  # windows tile every region, so every frame is covered
        lab = (_median(score, MEDIAN_FRAMES) > 0).astype(int)
        lab = _merge_short_runs(lab, int(round(MIN_TURN_S / FRAME_S)))
        for ra, rb, c in _runs(lab):
            s = max(a, (fa + ra) * frame) / RATE
            e = min(b, (fa + rb) * frame) / RATE
            if turns and turns[-1].cluster == c and s - turns[-1].end < 1e-6:
                turns[-1].end = e
            elif e > s:
                turns.append(SpeechTurn(s, e, c))
    if turns and turns[0].cluster != 0:  # number clusters by first appearance
        for t in turns:
            t.cluster = 1 - t.cluster
        cents = cents[::-1].copy()
    found = sorted({t.cluster for t in turns})
    return Diarization(turns, len(found), similarity, "", cents[found])

