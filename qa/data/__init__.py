"""Every bundled data file (lexicons, rule packs, scoring, forms, UI text) and the one loader for them.

`load("lexicons/abuse")` reads `qa/data/lexicons/abuse.yaml` from the installed package, checks that it holds
a mapping and names the file in every error. `load_file(path)` does the same for a site's own file.
"""

from __future__ import annotations

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


def load_file(file: str | Path) -> dict[str, Any]:
    """A YAML mapping from any file; errors name the file."""
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
    return data


@lru_cache(maxsize=None)
def load(name: str) -> dict[str, Any]:
    """A bundled data file, parsed once per process."""
    return load_file(path(name))


def require(data: dict[str, Any], key: str, file: str) -> Any:
    """`data[key]`, or a DataFileError naming the file and the missing key."""
    try:
        return data[key]
    except KeyError:
        raise DataFileError(f"{file}: missing key {key!r}") from None
