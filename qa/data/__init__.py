"""Every bundled data file (lexicons, rule packs, scoring, forms, UI text) and the one loader for them.

`load("lexicons/abuse")` reads `qa/data/lexicons/abuse.yaml` from the installed package, checks that it holds
a mapping and names the file in every error. `load_file(path)` does the same for a site's own file (settings,
rule packs, scoring and wellbeing overrides). Every mapping read this way names the file and the key path
when a key is missing: `data["rules"]["x"]` raises `DataFileError("…/abuse.yaml: missing key rules.x")`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(str(resources.files("qa.data")))


class DataFileError(ValueError):
    """A data file is missing, is not valid YAML, or lacks a key; the message names the file and key."""


def path(name: str) -> Path:
    """The bundled file `name` (relative to `qa/data/`, `.yaml` added when no suffix is given)."""
    p = DATA_DIR / name
    return p if p.suffix else p.with_suffix(".yaml")


class Section(dict):  # type: ignore[type-arg]
    """A mapping read from a data file: a missing key raises a DataFileError naming the file and key path."""

    def __init__(self, data: dict[str, Any], file: str, where: str = "") -> None:
        super().__init__()
        self.file, self.where = file, where
        for key, value in data.items():
            self[key] = _wrap(value, file, f"{where}{key}")

    def __missing__(self, key: str) -> Any:
        raise DataFileError(f"{self.file}: missing key {self.where}{key}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Section, (dict(self), self.file, self.where))


def _wrap(value: Any, file: str, where: str) -> Any:
    if isinstance(value, dict):
        return Section(value, file, where + ".")
    if isinstance(value, list):
        return [_wrap(v, file, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def load_file(file: str | Path) -> dict[str, Any]:
    """A YAML mapping from any file; errors name the file (and, for a missing key, the key)."""
    file = Path(file)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(f"{file}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise DataFileError(f"{file}: not valid YAML ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DataFileError(f"{file}: must hold a mapping at the top level, not {type(data).__name__}")
    return Section(data, str(file))


@lru_cache(maxsize=None)
def load(name: str) -> dict[str, Any]:
    """A bundled data file, parsed once per process."""
    return load_file(path(name))


@lru_cache(maxsize=16)
def _load_site(file: str) -> dict[str, Any]:
    return load_file(file)


def load_or_site(name: str, site_file: str | os.PathLike[str] | None) -> dict[str, Any]:
    """A site's own file when one is named (a setting such as `CALLQA_SCORING`), else the bundled `name`;
    each parsed once per process."""
    return _load_site(str(Path(site_file).expanduser())) if site_file else load(name)

