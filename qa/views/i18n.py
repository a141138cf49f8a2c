"""Every word the dashboard and the exports show, in English and Chinese, from one source: `qa/data/i18n.yaml`.

Views return `Bilingual` values for what the pipeline stores as slugs or English text (labels, subtypes,
finding sources, explanations, score reasons, audit actions, alert kinds, voice measures); the page or
export picks the language. Stored explanations are English; the Chinese side is the finding's own
`details.explanation_zh` (compliance rules write one) or the subtype's meaning from the i18n file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qa.data import load

LANGS: tuple[str, ...] = ("zh", "en")


@dataclass(frozen=True)
class Bilingual:
    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def map(self, fn: Any) -> Bilingual:
        return Bilingual(fn(self.en), fn(self.zh))


def strings() -> dict[str, dict[str, str]]:
    return load("i18n")


def text(key: str, **fields: Any) -> Bilingual | None:
    """The entry `key` in both languages with `{fields}` filled in; None when the file has no such key."""
    entry = strings().get(key)
    if entry is None:
        return None
    en, zh = entry["en"], entry["zh"]
    return Bilingual(en.format(**fields), zh.format(**fields)) if fields else Bilingual(en, zh)


def chip(label: str) -> str:
    return "compliance" if label.startswith("compliance") else label


def label_name(label: str) -> Bilingual:
    """A label's name; every compliance/<rule> label is "compliance"."""
    return text(f"label_{chip(label)}") or Bilingual(label, label)


def _parents(slug: str) -> list[str]:
    parts = slug.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def subtype_name(subtype: str) -> Bilingual:
    """The subtype's name; an unknown slug takes its nearest named parent's name, never the slug itself."""
    for key in _parents(subtype):
        found = text(f"subtype:{key}")
        if found is not None:
            return found
    return label_name(subtype.split("/")[0])


def subtype_meaning(subtype: str) -> Bilingual:
    for key in _parents(subtype):
        found = text(f"explain:{key}")
        if found is not None:
            return found
    return subtype_name(subtype)


def explanation(subtype: str, stored: str, details: Mapping[str, Any] | None) -> Bilingual:
    """A finding's explanation: the stored English one, and its own Chinese one or the subtype's meaning."""
    zh = (details or {}).get("explanation_zh")
    return Bilingual(stored or subtype_meaning(subtype).en, zh if isinstance(zh, str) and zh else
                     subtype_meaning(subtype).zh)


def source_name(source: str) -> Bilingual:
    """Where a finding comes from: its kind in words, then the rule or model id ("规则 threat.visit_family")."""
    kind, _, ident = source.partition(":")
    if not ident and "@" in source:  # the learned classifier: "<name>@<version>"
        kind, ident = "model", source
    name = text(f"source:{kind}") if ident else None
    if name is None:
        name, ident = text("source:other") or Bilingual("detector", "检测器"), source
    return Bilingual(f"{name.en} {ident}", f"{name.zh} {ident}")


def reason(value: Any) -> Bilingual:
    """A stored score reason ({"reason", "reason_zh", ...} as written by qa.assess.scoring, or plain text)."""
    if isinstance(value, Mapping):
        en = str(value.get("reason") or value.get("key") or "")
        zh = str(value.get("reason_zh") or "")
        if not zh:
            zh = (text(f"subtype:{value.get('key')}") or Bilingual(en, en)).zh
        return Bilingual(en, zh)
    return Bilingual(str(value), str(value))


def named(prefix: str, slug: str) -> Bilingual:
    """`prefix:slug` from the i18n file (audit actions, alert kinds, severities, voice measures)."""
    return text(f"{prefix}:{slug}") or Bilingual(slug.replace("_", " "), slug.replace("_", " "))


class Named:
    """Bilingual names for a view row that carries `label`, `subtype` and/or `source` (mixed into its dataclass)."""

    label: str
    subtype: str
    source: str

    @property
    def label_name(self) -> Bilingual:
        return label_name(self.label)

    @property
    def subtype_name(self) -> Bilingual:
        return subtype_name(self.subtype)

    @property
    def source_name(self) -> Bilingual:
        return source_name(self.source)
