"""The package declares what it imports, and ships what it reads."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
#: The repository's own top-level names (benchmark and script modules are imported by file path).
LOCAL = {"qa", "tests", "benchmarks", "scripts", *(p.stem for d in ("benchmarks", "scripts") for p in (REPO / d).glob("*.py"))}


def _declared(groups: tuple[str, ...] = ()) -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"]) + [r for g in groups for r in project["optional-dependencies"][g]]
    return {re.split(r"[<>=\[ ;!~]", r)[0].lower().replace("_", "-") for r in reqs}


def _imports(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def _undeclared(folder: Path, declared: set[str]) -> dict[str, list[str]]:
    dists = md.packages_distributions()
    return {top: sorted(files) for top, files in _imports(folder).items()
            if not any(d.lower().replace("_", "-") in declared for d in dists.get(top, []))}


def test_every_package_import_is_a_declared_dependency():
    assert _undeclared(REPO / "qa", _declared(("postgres", "cluster", "english"))) == {}


def test_every_test_and_benchmark_import_is_declared_for_development():
    declared = _declared(("dev", "postgres", "cluster", "english"))
    assert _undeclared(REPO / "tests", declared) == {}
    assert _undeclared(REPO / "benchmarks", declared) == {}
