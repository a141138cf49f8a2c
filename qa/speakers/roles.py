"""Which diarised speaker of a mono call is the agent, judged from what each one says.

The agent greets formally, introduces themself with a company, checks who they are speaking to, announces
recording, gives the debt-collector disclosure and talks about the debt; the customer answers the phone,
asks who is calling, pleads or refuses. Cues and weights live in `lexicons/agent_cues.yaml`; early turns
weigh more. When content gives no margin at all, the first speaker is taken as the agent (see `identify_agent`).

Where the site keeps agent voiceprints (`agent_voiceprints`), the voice itself is a second, independent piece of
evidence (`voice_choice`): which diarised voice sounds like the agent's voiceprint from their other calls.
`combine` adds the two as log-odds, so a content-free call (the first-speaker fallback, a coin toss) is decided
by the voice, and content and voice that disagree leave the call uncertain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa.data import load_file
from qa.data import path as data_path
from qa.records import AgentVoiceprint
from qa.text import PhraseSet, normalize

CUES_PATH = data_path("lexicons/agent_cues")
_QUOTE_CHARS = 40
# Voiceprint matching (GE2E cosines). On the shared speech: one reader's held-out speech against her diarised voice
# in 24 mixes 0.95-0.975 (wideband and telephone band), the other reader in the same mixes 0.59-0.78; one speaker's
# voice split in two 0.76-0.88. A voice below VOICEPRINT_MIN_COS is not taken to be the agent's.
VOICEPRINT_MIN_COS = 0.75
VOICEPRINT_MARGIN_SCALE = 0.1  # cosine margin between the two voices that gives role confidence 0.82
_MAX_ROLE_CONFIDENCE = 0.99


@dataclass
class AgentChoice:
    """The cluster judged to be the agent, how sure (0.5 = a coin toss, 1.0 = certain) and why."""

    agent_cluster: int
    confidence: float
    reason: str


@dataclass
class Cue:
    name: str
    weight: float
    says: str
    phrases: dict[str, PhraseSet]  # language ("zh", "en") -> phrases
    max_per_turn: int = 1
    first_turn_only: bool = False


@dataclass
class CueConfig:
    cues: list[Cue]
    full_weight_turns: int = 3
    min_turn_weight: float = 0.2
    max_turns: int = 40
    fuzzy_turns: int = 4
    confidence_scale: float = 3.0


@dataclass
class _Evidence:
    score: float = 0.0
    hits: list[tuple[float, Cue, str]] = field(default_factory=list)  # (points, cue, turn text)


@lru_cache(maxsize=4)
def load_cues(path: Path = CUES_PATH) -> CueConfig:
    data: dict[str, Any] = load_file(path)
    cues = []
    for name, spec in data["cues"].items():
        fuzzy_min_len = int(spec.get("fuzzy_min_len", 99))
        phrases = {
            lang: PhraseSet.from_spec(spec[lang], pinyin_min_len=None, fuzzy_min_len=fuzzy_min_len)
            for lang in ("zh", "en") if lang in spec
        }
        cues.append(Cue(name, float(spec["weight"]), str(spec["says"]), phrases,
                        int(spec.get("max_per_turn", 1)), bool(spec.get("first_turn_only", False))))
    return CueConfig(cues, int(data.get("full_weight_turns", 3)), float(data.get("min_turn_weight", 0.2)),
                     int(data.get("max_turns", 40)), int(data.get("fuzzy_turns", 4)),
                     float(data.get("confidence_scale", 3.0)))


def _languages(language: str | None) -> tuple[str, ...]:
    """Lexicon sections to use: English calls need only English cues; Mandarin calls mix in English words."""
    return ("en",) if language == "en" else ("zh", "en")


def _turn_weight(index: int, cfg: CueConfig) -> float:
    if index < cfg.full_weight_turns:
        return 1.0
    return max(cfg.min_turn_weight, cfg.full_weight_turns / (index + 1))


def _matches(cue: Cue, text: str, languages: tuple[str, ...], fuzzy: bool) -> int:
    count = 0
    for lang in languages:
        phrases = cue.phrases.get(lang)
        if phrases is None:
            continue
        if cue.max_per_turn > 1 or not fuzzy:
            count += min(len({m.text for m in phrases.find_all(text)}), cue.max_per_turn)
        elif phrases.find(text, fuzzy=True) is not None:
            count += 1
    return min(count, cue.max_per_turn)


def score_speaker(texts: list[str], language: str | None = None, cfg: CueConfig | None = None) -> _Evidence:
    """Agent-likeness of one speaker's turns (in their spoken order)."""
    cfg = cfg or load_cues()
    languages = _languages(language)
    ev = _Evidence()
    for i, text in enumerate(texts[:cfg.max_turns]):
        if not normalize(text):
            continue
        w = _turn_weight(i, cfg)
        for cue in cfg.cues:
            if cue.first_turn_only and i > 0:
                continue
            n = _matches(cue, text, languages, fuzzy=i < cfg.fuzzy_turns)
            if n:
                points = cue.weight * w * n
                ev.score += points
                ev.hits.append((points, cue, text))
    return ev


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "…"


def _describe(cluster: int, ev: _Evidence, agent_like: bool) -> str:
    """'cluster 1 introduces themself on behalf of a company: '您好，我是XX金融…'' from the strongest cues."""
    relevant = [h for h in ev.hits if (h[0] > 0) == agent_like]
    if not relevant:
        return ""
    relevant.sort(key=lambda h: -abs(h[0]))
    says: list[str] = []
    for _, cue, _text in relevant:
        if cue.says not in says:
            says.append(cue.says)
        if len(says) == 2:
            break
    return f"cluster {cluster} {' and '.join(says)}: '{_quote(relevant[0][2])}'"


def identify_agent(texts_by_cluster: dict[int, list[str]], language: str | None = None,
                   first_cluster: int | None = None) -> AgentChoice:
    """Pick the agent among diarised speakers from their turns' text (each list in spoken order).

    `first_cluster` is the speaker heard first; by default the lowest cluster id, which is what
    `qa.speakers.diarize.diarize` numbers the first speaker. Fallback when the content scores tie (no cues, or
    cues that cancel out): the first speaker, confidence 0.5. In inbound calls the agent answers first; in
    outbound calls the callee often answers first, but a bare "喂"/"hello" is itself a customer cue, so the
    fallback is reached only when the opening says nothing either way.
    A recording with one speaker is the agent's unless it sounds like the customer (then `agent_cluster`
    names the absent cluster, so every turn is the customer's).
    """
    cfg = load_cues()
    clusters = sorted(texts_by_cluster)
    if not clusters:
        return AgentChoice(0, 0.5, "no speech to judge; cluster 0 taken as the agent by default")
    first = first_cluster if first_cluster in texts_by_cluster else clusters[0]
    evidence = {c: score_speaker(texts_by_cluster[c], language, cfg) for c in clusters}

    if len(clusters) == 1:
        c, ev = clusters[0], evidence[clusters[0]]
        if ev.score >= 0:
            why = _describe(c, ev, True) or f"only one speaker (cluster {c}) and nothing customer-like"
            conf = _confidence(max(ev.score, 0.0), cfg)
            return AgentChoice(c, conf, f"{why}; the only speaker is taken as the agent")
        other = 1 if c == 0 else 0
        return AgentChoice(other, _confidence(-ev.score, cfg),
                           f"{_describe(c, ev, False)}; the only speaker sounds like the customer")

    ranked = sorted(clusters, key=lambda c: -evidence[c].score)
    best, runner = ranked[0], ranked[1]
    margin = evidence[best].score - evidence[runner].score
    if margin <= 1e-9:
        return AgentChoice(first, 0.5, f"no content cue tells the speakers apart; fallback: cluster {first} "
                                       "spoke first and is taken as the agent")
    parts = [p for p in (_describe(best, evidence[best], True), _describe(runner, evidence[runner], False)) if p]
    # Never empty: a positive margin means agent cues for `best` or customer cues for `runner`.
    reason = "; ".join(parts) + f" (score {evidence[best].score:.1f} vs {evidence[runner].score:.1f})"
    return AgentChoice(best, _confidence(margin, cfg), reason)


def _confidence(margin: float, cfg: CueConfig) -> float:
    return round(0.5 + 0.5 * (1.0 - math.exp(-margin / cfg.confidence_scale)), 3)


def voice_choice(centroids: np.ndarray | None, voiceprint: AgentVoiceprint | None) -> AgentChoice | None:
    """Which diarised voice (rows of `centroids`, by cluster) is the agent's, judged by their voiceprint; None when
    there is nothing to compare. Confidence 0.5 (no evidence) when no voice is close enough to the voiceprint."""
    if centroids is None or voiceprint is None or not len(centroids):
        return None
    cos = centroids @ np.asarray(voiceprint.embedding, dtype=np.float32)
    best = int(np.argmax(cos))
    whose = f"agent {voiceprint.agent_id}'s voiceprint ({voiceprint.calls} calls)"
    shown = " vs ".join(f"cluster {c} {v:.2f}" for c, v in enumerate(cos))
    if cos[best] < VOICEPRINT_MIN_COS:
        return AgentChoice(best, 0.5, f"no voice matches {whose} (cosine {shown}): someone else may have taken "
                                      "the call")
    if len(cos) == 1:
        margin = float(cos[0]) - VOICEPRINT_MIN_COS
    else:
        margin = float(cos[best] - np.delete(cos, best).max())
    return AgentChoice(best, _voice_confidence(margin), f"cluster {best} sounds like {whose} (cosine {shown})")


def _voice_confidence(margin: float) -> float:
    return round(0.5 + 0.5 * (1.0 - math.exp(-max(margin, 0.0) / VOICEPRINT_MARGIN_SCALE)), 3)


def combine(content: AgentChoice, voice: AgentChoice | None) -> AgentChoice:
    """Content and voice evidence about the agent, added as log-odds (independent evidence); the reason names
    both. Agreeing evidence makes the choice surer, disagreeing evidence leaves the stronger side with less."""
    if voice is None:
        return content

    def logit(choice: AgentChoice) -> float:
        p = min(max(choice.confidence, 0.5), _MAX_ROLE_CONFIDENCE)
        return math.log(p / (1.0 - p))

    lc, lv = logit(content), logit(voice)
    if content.agent_cluster == voice.agent_cluster:
        cluster, total = content.agent_cluster, lc + lv
    elif lv > lc:
        cluster, total = voice.agent_cluster, lv - lc
    else:
        cluster, total = content.agent_cluster, lc - lv
    confidence = round(min(_MAX_ROLE_CONFIDENCE, 1.0 / (1.0 + math.exp(-total))), 3)
    return AgentChoice(cluster, confidence, f"voice: {voice.reason}; content: {content.reason}")
