"""Build ``collection_corpus.jsonl`` from hand-written sources and a few templates.

Hand-written utterances live in ``models/data/src/{zh,en}_*.txt`` as *groups*::

    @ group-id  speaker  subtypes|-  [hn]
    utterance
    utterance (a paraphrase or sibling of the one above)

``speaker`` is ``agent``/``customer`` (or ``a``/``c``); ``subtypes`` is a comma
list such as ``threat/exposure,privacy/contact_exposure`` (labels are the part
before the slash) or ``-`` for clean; ``hn`` marks a hard negative.  Templated
utterances come from :mod:`templates` beside this file.  Every group (a
scenario, or one template with all its fillers) lands in exactly one split, so
paraphrases never straddle train and test.

Groups in ``src/added/`` were written after the test split was fixed (corpus 1.2): they
are split between train and dev only, and processed after everything else, so the
earlier lines keep their ids, texts and splits and the held-out test split stays the
one earlier models were measured on.

Run: ``python models/data/build_corpus.py`` (deterministic, fixed seed).
"""

from __future__ import annotations

import json
import logging
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
OUT = HERE.parents[1] / "qa" / "data" / "corpus" / "collection_corpus.jsonl"
SEED = 20240611
LABELS = ("threat", "harassment", "privacy", "stress")
SUBTYPES = {
    "threat": ("violence", "exposure", "false_legal", "self_harm", "to_agent"),
    "harassment": ("insult", "profanity", "call_bombing", "demeaning"),
    "privacy": ("third_party_disclosure", "pii_spoken", "contact_exposure"),
    "stress": ("distress_words",),
}
SPLIT_SHARE = {"train": 0.70, "dev": 0.15, "test": 0.15}
ADDED = SRC / "added"
ADDED_SHARE = {"train": 0.80, "dev": 0.20}  # later groups never enter the fixed test split
SPEAKERS = {"a": "agent", "agent": "agent", "c": "customer", "customer": "customer"}

log = logging.getLogger("build_corpus")


@dataclass
class Group:
    """A scenario: utterances that are paraphrases/siblings and share one split."""

    gid: str
    lang: str
    speaker: str
    subtypes: tuple[str, ...]
    hard_negative: bool
    texts: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        found = {s.split("/", 1)[0] for s in self.subtypes}
        return [lab for lab in LABELS if lab in found]


def _check_subtypes(subtypes: tuple[str, ...], where: str) -> None:
    for sub in subtypes:
        label, _, kind = sub.partition("/")
        if label not in SUBTYPES or kind not in SUBTYPES[label]:
            raise ValueError(f"{where}: unknown subtype {sub!r}")


def parse_source(path: Path) -> list[Group]:
    """Parse one hand-written source file into groups."""
    lang = path.name.split("_", 1)[0]
    groups: list[Group] = []
    current: Group | None = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            parts = line[1:].split()
            if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "hn"):
                raise ValueError(f"{path.name}:{n}: bad header {line!r}")
            subtypes = () if parts[2] == "-" else tuple(parts[2].split(","))
            _check_subtypes(subtypes, f"{path.name}:{n}")
            current = Group(
                gid=f"{lang}-{parts[0]}",
                lang=lang,
                speaker=SPEAKERS[parts[1]],
                subtypes=subtypes,
                hard_negative=len(parts) == 4,
            )
            groups.append(current)
            continue
        if current is None:
            raise ValueError(f"{path.name}:{n}: text before first header")
        current.texts.append(line)
    return groups


_ZH_PUNCT = re.compile(r"[，。？！、；：,.?!]")


def asr_noise(text: str, lang: str, rng: random.Random) -> str:
    """Strip punctuation the way ASR output often arrives (deterministic per rng)."""
    if lang == "zh":
        sep = rng.choice(["", " "])
        return re.sub(r"\s+", " ", _ZH_PUNCT.sub(sep, text)).strip()
    return re.sub(r"[,.?!;:]", "", text).lower().strip()


def assign_splits(groups: list[Group], seed: int = SEED,
                  shares: dict[str, float] = SPLIT_SHARE) -> dict[str, str]:
    """Stratified, group-level split: each stratum (lang, main label, hard negative)
    is filled towards ``shares`` (70/15/15) by utterance count, groups in seeded random order."""
    strata: dict[tuple, list[Group]] = defaultdict(list)
    for g in groups:
        key = (g.lang, g.labels[0] if g.labels else "clean", g.hard_negative)
        strata[key].append(g)
    rng = random.Random(seed)
    split_of: dict[str, str] = {}
    for key in sorted(strata, key=str):
        members = sorted(strata[key], key=lambda g: g.gid)
        rng.shuffle(members)
        counts = Counter({s: 0 for s in shares})
        total = 0
        for g in members:
            size = len(g.texts)
            # the split furthest below its target share after adding this group
            best = min(shares, key=lambda s: ((counts[s] + size) / (total + size)) - shares[s])
            split_of[g.gid] = best
            counts[best] += size
            total += size
    return split_of


def build(seed: int = SEED) -> list[dict]:
    """All records, in a stable order, with ids ``zh-0001`` / ``en-0001``."""
    sys.path.insert(0, str(HERE))
    from templates import template_groups  # noqa: PLC0415 (local data module)

    groups: list[Group] = []
    for path in sorted(SRC.glob("*.txt")):
        groups.extend(parse_source(path))
    for tg in template_groups(seed):
        groups.append(Group(tg["gid"], tg["lang"], tg["speaker"], tuple(tg["subtypes"]),
                            tg["hard_negative"], list(tg["texts"])))
    added: list[Group] = []
    for path in sorted(ADDED.glob("*.txt")):
        added.extend(parse_source(path))
    added_ids = {g.gid for g in added}
    groups.extend(added)
    for g in groups:
        _check_subtypes(g.subtypes, g.gid)
    gids = Counter(g.gid for g in groups)
    dup = [k for k, v in gids.items() if v > 1]
    if dup:
        raise ValueError(f"duplicate group ids: {dup[:5]}")

    rng = random.Random(seed)
    seen: set[str] = set()
    for g in groups:
        kept: list[str] = []
        for text in g.texts:
            # ~30% of zh and ~15% of en utterances arrive without punctuation (ASR style)
            if rng.random() < (0.30 if g.lang == "zh" else 0.15):
                text = asr_noise(text, g.lang, rng)
            key = re.sub(r"\W+", "", text.lower())
            if key in seen or not key:
                continue
            seen.add(key)
            kept.append(text)
        g.texts = kept
    groups = [g for g in groups if g.texts]
    split_of = assign_splits([g for g in groups if g.gid not in added_ids], seed)
    split_of |= assign_splits([g for g in groups if g.gid in added_ids], seed, ADDED_SHARE)

    records: list[dict] = []
    counters: Counter = Counter()
    for g in groups:
        for text in g.texts:
            counters[g.lang] += 1
            records.append({
                "id": f"{g.lang}-{counters[g.lang]:04d}",
                "text": text,
                "speaker": g.speaker,
                "lang": g.lang,
                "labels": g.labels,
                "subtypes": list(g.subtypes),
                "split": split_of[g.gid],
                "hard_negative": g.hard_negative,
                "group": g.gid,
            })
    return records


def summary(records: list[dict]) -> str:
    """Markdown tables of counts (used for the README datasheet)."""
    out: list[str] = []
    by = Counter((r["lang"], r["speaker"]) for r in records)
    out.append(f"Total utterances: {len(records)}  \n"
               f"Groups (scenarios/templates): {len({r['group'] for r in records})}\n")
    out.append("| lang | agent | customer | total |\n|---|---|---|---|")
    for lang in ("zh", "en"):
        out.append(f"| {lang} | {by[(lang, 'agent')]} | {by[(lang, 'customer')]} | "
                   f"{by[(lang, 'agent')] + by[(lang, 'customer')]} |")
    out.append("\n| label | zh | en | agent | customer | train | dev | test | total |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for lab in (*LABELS, "(clean)", "(hard negative)"):
        def has(r: dict) -> bool:
            if lab == "(clean)":
                return not r["labels"]
            if lab == "(hard negative)":
                return r["hard_negative"]
            return lab in r["labels"]
        sel = [r for r in records if has(r)]
        c = Counter()
        for r in sel:
            c[r["lang"]] += 1
            c[r["speaker"]] += 1
            c[r["split"]] += 1
        out.append(f"| {lab} | {c['zh']} | {c['en']} | {c['agent']} | {c['customer']} | "
                   f"{c['train']} | {c['dev']} | {c['test']} | {len(sel)} |")
    out.append("\n| subtype | zh | en | total |\n|---|---|---|---|")
    sub = Counter((s, r["lang"]) for r in records for s in r["subtypes"])
    for s in sorted({s for s, _ in sub}):
        out.append(f"| {s} | {sub[(s, 'zh')]} | {sub[(s, 'en')]} | {sub[(s, 'zh')] + sub[(s, 'en')]} |")
    sp = Counter((r["split"], r["lang"]) for r in records)
    out.append("\n| split | zh | en | total |\n|---|---|---|---|")
    for s in SPLIT_SHARE:
        out.append(f"| {s} | {sp[(s, 'zh')]} | {sp[(s, 'en')]} | {sp[(s, 'zh')] + sp[(s, 'en')]} |")
    return "\n".join(out)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    records = build()
    with OUT.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    log.info("wrote %d records to %s", len(records), OUT)
    if "--summary" in sys.argv:
        print(summary(records))


if __name__ == "__main__":
    main()
