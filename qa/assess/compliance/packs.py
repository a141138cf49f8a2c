"""Jurisdiction rule packs: YAML files under `qa/compliance/packs/`, one per jurisdiction.

A site may add its own pack directory with `CALLQA_RULE_PACKS` (a folder of `<code>.yaml` files, searched
before the bundled ones), so a new jurisdiction or a stricter internal policy needs no code change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from qa.config import get_settings
from qa.data import DATA_DIR, DataFileError, load_file
from qa.text import PhraseSet

BUNDLED = DATA_DIR / "packs"
RULES = ("calling_hours", "call_frequency", "third_party_contact", "missing_disclosure", "impersonation",
         "record_keeping")


class RulePackError(DataFileError):
    """A rule pack that is missing or malformed; the message names the file and the problem."""


@dataclass
class Rule:
    """One rule of a pack: its citation, the source it comes from, and its parameters."""

    name: str
    source: str  # the full source title (resolved from the pack's `sources`)
    citation: str
    citation_zh: str
    score: float
    params: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass
class DisclosureElement:
    name: str
    label: str
    label_zh: str
    phrases: PhraseSet
    required: bool = True


@dataclass
class RulePack:
    jurisdiction: str
    name: str
    timezone: str
    debtor_callees: tuple[str, ...]
    rules: dict[str, Rule]
    path: Path

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule(self, name: str) -> Rule | None:
        return self.rules.get(name)

    def is_debtor(self, callee: str | None) -> bool:
        return not callee or callee.strip().lower() in self.debtor_callees

    def disclosure_elements(self) -> list[DisclosureElement]:
        rule = self.rules.get("missing_disclosure")
        if rule is None:
            return []
        out = []
        for name, spec in (rule.get("elements") or {}).items():
            out.append(DisclosureElement(
                name=name, label=spec.get("label", name), label_zh=spec.get("label_zh", name),
                phrases=PhraseSet.from_spec({"literals": spec.get("literals", []), "patterns": spec.get("patterns", [])},
                                            pinyin_min_len=None, fuzzy_min_len=4),
                required=bool(spec.get("required", True)),
            ))
        return out


def parse_clock(value: str) -> time:
    hours, minutes = str(value).split(":")[:2]
    return time(int(hours), int(minutes))


def _search_dirs() -> list[Path]:
    dirs = []
    extra = get_settings().rule_packs
    if extra:
        dirs.append(Path(extra).expanduser())
    dirs.append(BUNDLED)
    return dirs


def available_packs() -> list[str]:
    names = {p.stem for d in _search_dirs() if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


@lru_cache(maxsize=16)
def _load(path: Path) -> RulePack:
    try:
        data = load_file(path)
    except DataFileError as exc:
        raise RulePackError(f"rule pack {exc}") from None
    for key in ("jurisdiction", "timezone", "rules"):
        if key not in data:
            raise RulePackError(f"rule pack {path}: missing '{key}'")
    try:
        ZoneInfo(data["timezone"])
    except Exception:  # noqa: BLE001 - zoneinfo raises several types
        raise RulePackError(f"rule pack {path}: unknown time zone {data['timezone']!r}") from None
    sources: dict[str, str] = data.get("sources") or {}
    rules: dict[str, Rule] = {}
    for name, spec in (data["rules"] or {}).items():
        if name not in RULES:
            raise RulePackError(f"rule pack {path}: unknown rule '{name}' (known: {', '.join(RULES)})")
        moved = {"effective_min_customer_speech_s", "min_customer_speech_s"} & set(spec)
        if moved:
            raise RulePackError(f"rule pack {path}: key rules.{name}.{sorted(moved)[0]} is no longer read; a "
                                "connected call is defined once, by effective_min_customer_speech_s in "
                                "qa/data/conversation.yaml")
        if not spec.get("citation"):
            raise RulePackError(f"rule pack {path}: rule '{name}' must cite its source ('citation')")
        src = spec.get("source", "")
        params = {k: v for k, v in spec.items() if k not in {"source", "citation", "citation_zh", "score"}}
        rules[name] = Rule(name=name, source=sources.get(src, src), citation=spec["citation"],
                           citation_zh=spec.get("citation_zh", spec["citation"]),
                           score=float(spec.get("score", 0.8)), params=params)
    return RulePack(
        jurisdiction=str(data["jurisdiction"]), name=str(data.get("name", data["jurisdiction"])),
        timezone=data["timezone"],
        debtor_callees=tuple(str(c).lower() for c in data.get("debtor_callees", ["debtor"])),
        rules=rules, path=path,
    )


def load_pack(jurisdiction: str) -> RulePack:
    """The rule pack for a jurisdiction code such as 'cn' or 'us' (site packs first, then bundled)."""
    code = jurisdiction.strip().lower()
    for d in _search_dirs():
        path = d / f"{code}.yaml"
        if path.is_file():
            return _load(path.resolve())
    raise RulePackError(f"no rule pack for jurisdiction '{jurisdiction}' (available: {', '.join(available_packs())})")
