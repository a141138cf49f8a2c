"""The layering as a test: the import-linter contracts in pyproject.toml hold, and they catch an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the `qa` package found under `root`, with the contracts of `root/pyproject.toml`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
                               "sys.exit(c())", "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold() -> None:
    res = lint_imports(REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 kept, 0 broken" in res.stdout


def test_an_upward_import_breaks_the_contracts(tmp_path: Path) -> None:
    """A copy of the package where the store imports the pipeline (and audio imports detection) must fail."""
    shutil.copytree(REPO / "qa", tmp_path / "qa", ignore=shutil.ignore_patterns("__pycache__", "*.npz", "*.jsonl"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "qa" / "store" / "calls.py").open("a", encoding="utf-8") as fh:
        fh.write("\nfrom qa.pipeline import analyze  # deliberate upward import\n")
    with (tmp_path / "qa" / "audio.py").open("a", encoding="utf-8") as fh:
        fh.write("\nimport qa.detect.engine  # deliberate upward import\n")
    res = lint_imports(tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "Stages import only the stages below them BROKEN" in out
    assert "The store is persistence only: it imports no stage BROKEN" in out
    assert "qa.store.calls -> qa.pipeline" in out and "qa.audio -> qa.detect.engine" in out
